// A WAMP client at the wire level for the limits, TLS and fuzz tests: any of
// the three serializers, over WebSocket or RawSocket, plain or TLS. It hands
// back every decoded message and how the connection ended, so tests can
// check ABORT reasons and close codes, and send bytes no real client would.
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { serializerById, type Serializer, type SerializerId } from '../src/serializers/index.js';

export const ROLES = { roles: { caller: {}, callee: { features: { registration_revocation: true } }, publisher: {}, subscriber: {} } };

export type WireKind = 'ws' | 'raw';

export interface WireOptions {
  kind: WireKind;
  port: number;
  serializer?: SerializerId;
  path?: string;
  /** Connect with TLS (trusting `ca`, or nothing checked when absent). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Connect from this local address (127.0.0.2, ...: another client address on loopback). */
  localAddress?: string;
  /** Extra HTTP headers of the WebSocket upgrade (X-Forwarded-For, ...). */
  headers?: Record<string, string>;
  /** Offer permessage-deflate (WebSocket; default true, as ws does). */
  compress?: boolean;
}

export interface Ended { code?: number; reason?: string }

export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_r, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms); }),
  ]);
}

export class Wire {
  readonly messages: unknown[][] = [];
  /** Raw socket (RawSocket kind) or the WebSocket's underlying socket. */
  socket!: net.Socket;
  ws?: WebSocket;
  readonly serializer: Serializer;
  closed!: Promise<Ended>;
  isClosed = false;
  private waiters: (() => void)[] = [];
  private buf: Buffer = Buffer.alloc(0);

  private constructor(readonly opts: WireOptions) {
    this.serializer = serializerById(opts.serializer ?? 'json')!;
  }

  static async open(opts: WireOptions): Promise<Wire> {
    const w = new Wire(opts);
    if (opts.kind === 'ws') await w.openWs(); else await w.openRaw();
    return w;
  }

  private wake(): void { for (const f of this.waiters.splice(0)) f(); }

  private push(data: Uint8Array | string): void {
    try {
      this.messages.push(this.serializer.decode(data) as unknown[]);
    } catch {
      this.messages.push(['<undecodable>']);
    }
    this.wake();
  }

  private async openWs(): Promise<void> {
    const scheme = this.opts.tls ? 'wss' : 'ws';
    const url = `${scheme}://127.0.0.1:${this.opts.port}${this.opts.path ?? '/ws'}`;
    const extra: WebSocket.ClientOptions = {
      ...(this.opts.localAddress !== undefined ? { localAddress: this.opts.localAddress } : {}),
      ...(this.opts.headers !== undefined ? { headers: this.opts.headers } : {}),
      perMessageDeflate: this.opts.compress ?? true,
    };
    const ws = new WebSocket(url, this.serializer.wsProtocol, this.opts.tls
      ? { ...extra, ca: this.opts.tls.ca, cert: this.opts.tls.cert, key: this.opts.tls.key, rejectUnauthorized: this.opts.tls.ca !== undefined, servername: 'localhost' } as WebSocket.ClientOptions
      : extra);
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => { this.isClosed = true; resolve({ code, reason: reason.toString() }); this.wake(); }));
    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.push(isBinary ? buf : buf.toString('utf8'));
    });
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    this.socket = (ws as unknown as { _socket: net.Socket })._socket;
  }

  private async openRaw(): Promise<void> {
    const t = this.opts.tls;
    const socket = t
      ? tls.connect({ port: this.opts.port, host: '127.0.0.1', ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.ca !== undefined, servername: 'localhost' })
      : net.connect({ port: this.opts.port, host: '127.0.0.1', ...(this.opts.localAddress !== undefined ? { localAddress: this.opts.localAddress } : {}) });
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.on('close', () => { this.isClosed = true; resolve({}); this.wake(); }));
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => { socket.once(t ? 'secureConnect' : 'connect', () => resolve()); socket.once('error', reject); });
    let handshaken = false;
    const reply = new Promise<Buffer>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
        if (!handshaken) {
          if (this.buf.length < 4) return;
          handshaken = true;
          resolve(this.buf.subarray(0, 4));
          this.buf = this.buf.subarray(4);
        }
        this.frames();
      });
      socket.once('close', () => reject(new Error('closed during the RawSocket handshake')));
    });
    socket.write(Buffer.from([0x7f, 0xf0 | this.serializer.rawsocketCode, 0, 0]));
    const hs = await within(reply, 5000, 'RawSocket handshake reply');
    if (hs[0] !== 0x7f || (hs[1]! & 0x0f) !== this.serializer.rawsocketCode) throw new Error(`RawSocket handshake refused: ${hs.toString('hex')}`);
  }

  private frames(): void {
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0) & 0x00ffffff;
      const type = this.buf[0]! & 0x07;
      if (this.buf.length < 4 + len) return;
      const payload = Buffer.from(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
      if (type === 0) this.push(this.serializer.id === 'json' ? payload.toString('utf8') : payload);
    }
  }

  /** Sends one WAMP message encoded with this client's serializer. */
  send(msg: unknown): void {
    const enc = this.serializer.encode(msg as unknown[]);
    this.sendBytes(typeof enc === 'string' ? Buffer.from(enc, 'utf8') : Buffer.from(enc), this.serializer.binary);
  }

  /** Sends one message's bytes as they are (a WebSocket message or a RawSocket frame). */
  sendBytes(bytes: Buffer, binary = this.serializer.binary): void {
    if (this.isClosed) return;
    if (this.ws) {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(binary ? bytes : bytes.toString('utf8'));
      return;
    }
    const h = Buffer.alloc(4);
    h.writeUInt32BE(bytes.length & 0x00ffffff, 0);
    this.socket.write(Buffer.concat([h, bytes]));
  }

  /** The next message of `type` (messages before it are consumed). */
  async next(type?: number, timeoutMs = 5000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => type === undefined || m[0] === type);
      if (i >= 0) return this.messages.splice(0, i + 1)[i]!;
      if (Date.now() > deadline || this.isClosed) {
        throw new Error(`no message of type ${type} within ${timeoutMs} ms (closed: ${this.isClosed}; got ${JSON.stringify(this.messages).slice(0, 300)})`);
      }
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }

  async join(realm = 'realm1', details: Record<string, unknown> = ROLES): Promise<number> {
    this.send([1, realm, details]);
    const m = await this.next();
    if (m[0] !== 2) throw new Error(`expected WELCOME, got ${JSON.stringify(m)}`);
    return m[1] as number;
  }

  /** A CALL and its answer (RESULT or ERROR). */
  async call(request: number, procedure: string, args: unknown[] = [], timeoutMs = 5000): Promise<unknown[]> {
    this.send([48, request, {}, procedure, args]);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => (m[0] === 50 && m[1] === request) || (m[0] === 8 && m[1] === 48 && m[2] === request));
      if (i >= 0) return this.messages.splice(i, 1)[0]!;
      if (Date.now() > deadline || this.isClosed) throw new Error(`no answer to CALL ${request} (${procedure})`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }

  close(): void {
    if (this.ws) this.ws.terminate(); else this.socket.destroy();
  }
}
