// The one wire-level WAMP client of the router tests: WebSocket (plain or
// TLS, any subprotocol, extra upgrade headers, with or without
// permessage-deflate) or RawSocket (plain or TLS), any of the three
// serializers, encoded by the router's own serializers, by autobahn-js's
// (an independent implementation, for the broker and dealer suites), or as
// bare JSON text (frames exactly as sent: no binary convention). It keeps every decoded message, answers RawSocket PINGs, and
// tells how the connection ended, so tests can check exact frames, ABORT
// reasons and close codes, and send bytes no real client would.
//
// Below it, RawClient: a TCP socket and the bytes it got, for the RawSocket
// handshake itself.
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { serializerById, type SerializerId } from '../src/serializers/index.js';
import { autobahn, within } from './helpers.js';

/** HELLO.Details announcing every role (the callee understands registration revocation). */
export const ROLES = { roles: { caller: {}, callee: { features: { registration_revocation: true } }, publisher: {}, subscriber: {} } };

export type WireKind = 'ws' | 'raw';
export type Msg = unknown[];
export type Pred = (m: Msg) => boolean;

export interface WireOptions {
  /** Default 'ws'. */
  kind?: WireKind;
  /** The router's port (or `url` for WebSocket). */
  port?: number;
  /** A whole ws:// URL instead of port and path. */
  url?: string;
  /** WebSocket path (default /ws). */
  path?: string;
  serializer?: SerializerId;
  /**
   * Who encodes and decodes: the router's serializers (default), autobahn-js's,
   * or `json-text`: JSON.stringify/JSON.parse as they are, so a `"\u0000…"`
   * string stays a string (WAMP's JSON binary convention not applied).
   */
  codec?: 'router' | 'autobahn' | 'json-text';
  /** The WebSocket subprotocol offered (default wamp.2.<serializer>). */
  protocol?: string;
  /** Connect with TLS (trusting `ca`, or nothing checked when absent). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Connect from this local address (127.0.0.2, ...: another client address on loopback). */
  localAddress?: string;
  /** Extra HTTP headers of the WebSocket upgrade (X-Forwarded-For, ...). */
  headers?: Record<string, string>;
  /** Offer permessage-deflate (WebSocket; default true, as ws does). */
  compress?: boolean;
  /** How long next() and take() wait unless told (default 5000 ms). */
  waitMs?: number;
  /** Names the client in errors (a test matrix's variant). */
  name?: string;
}

export interface Ended { code?: number; reason?: string }

const DONE = Promise.resolve();

type Encoded = string | Uint8Array;

interface Codec {
  /** autobahn-js encodes CBOR asynchronously. */
  encode(m: Msg): Encoded | Promise<Encoded>;
  decode(data: string | Uint8Array): Msg;
  readonly binary: boolean;
  readonly rawsocketCode: number;
}

function codecFor(id: SerializerId, which: NonNullable<WireOptions['codec']>): Codec {
  const s = serializerById(id)!;
  if (which === 'json-text') {
    if (id !== 'json') throw new Error('the json-text codec speaks JSON only');
    return { encode: (m) => JSON.stringify(m), decode: (d) => JSON.parse(typeof d === 'string' ? d : Buffer.from(d).toString('utf8')) as Msg, binary: false, rawsocketCode: 1 };
  }
  if (which === 'router') return { encode: (m) => s.encode(m), decode: (d) => s.decode(d) as Msg, binary: s.binary, rawsocketCode: s.rawsocketCode };
  const ctors = autobahn.serializer as unknown as Record<string, new () => unknown>;
  const ab = new (id === 'json' ? ctors.JSONSerializer! : id === 'msgpack' ? ctors.MsgpackSerializer! : ctors.CBORSerializer!)() as { serialize(o: unknown): Encoded | Promise<Encoded>; unserialize(p: unknown): unknown };
  return { encode: (m) => ab.serialize(m), decode: (d) => ab.unserialize(d) as Msg, binary: s.binary, rawsocketCode: s.rawsocketCode };
}

export class Wire {
  readonly messages: Msg[] = [];
  /** Set by join(). */
  sessionId = 0;
  /** The RawSocket's socket, or the WebSocket's underlying one (once open). */
  socket!: net.Socket;
  ws?: WebSocket;
  /** The headers of the router's 101 answer (WebSocket). */
  upgradeHeaders: Record<string, string | string[] | undefined> = {};
  readonly opened: Promise<void>;
  readonly closed: Promise<Ended>;
  isClosed = false;
  readonly name: string;
  private readonly codec: Codec;
  private readonly waitMs: number;
  private readonly waiters: (() => void)[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private nextRequest = 0;

  private constructor(readonly opts: WireOptions) {
    const serializer = opts.serializer ?? 'json';
    this.codec = codecFor(serializer, opts.codec ?? 'router');
    this.waitMs = opts.waitMs ?? 5000;
    this.name = opts.name ?? `${opts.kind ?? 'ws'}/${serializer}`;
    let ended!: (e: Ended) => void;
    this.closed = new Promise((resolve) => { ended = resolve; });
    const end = (e: Ended): void => { this.isClosed = true; ended(e); this.wake(); };
    this.opened = (opts.kind ?? 'ws') === 'ws' ? this.openWs(serializer, end) : this.openRaw(end);
    this.opened.catch(() => {});
  }

  /** Starts connecting; `opened` settles when the WebSocket is open or the RawSocket handshake done. */
  static connect(opts: WireOptions): Wire {
    return new Wire(opts);
  }

  /** Connects and waits until the connection is open (rejects if it is refused). */
  static async open(opts: WireOptions): Promise<Wire> {
    const w = new Wire(opts);
    await w.opened;
    return w;
  }

  private wake(): void { for (const f of this.waiters.splice(0)) f(); }

  private push(data: Uint8Array | string): void {
    try {
      this.messages.push(this.codec.decode(data));
    } catch {
      this.messages.push(['<undecodable>']);
    }
    this.wake();
  }

  private openWs(serializer: SerializerId, end: (e: Ended) => void): Promise<void> {
    const o = this.opts;
    const url = o.url ?? `${o.tls ? 'wss' : 'ws'}://127.0.0.1:${o.port}${o.path ?? '/ws'}`;
    const extra: WebSocket.ClientOptions = {
      ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
      ...(o.headers !== undefined ? { headers: o.headers } : {}),
      perMessageDeflate: o.compress ?? true,
    };
    const ws = new WebSocket(url, o.protocol ?? `wamp.2.${serializer}`, o.tls
      ? { ...extra, ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, rejectUnauthorized: o.tls.ca !== undefined, servername: 'localhost' } as WebSocket.ClientOptions
      : extra);
    this.ws = ws;
    ws.once('upgrade', (res) => { this.upgradeHeaders = res.headers; });
    ws.on('close', (code, reason) => end({ code, reason: reason.toString() }));
    ws.on('message', (data, isBinary) => {
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.push(isBinary ? b : b.toString('utf8'));
    });
    ws.on('error', () => {});
    return new Promise<void>((resolve, reject) => {
      ws.once('open', () => { this.socket = (ws as unknown as { _socket: net.Socket })._socket; resolve(); });
      ws.once('error', reject);
    });
  }

  private async openRaw(end: (e: Ended) => void): Promise<void> {
    const o = this.opts;
    const t = o.tls;
    const socket = t
      ? tls.connect({ port: o.port, host: '127.0.0.1', ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.ca !== undefined, servername: 'localhost' })
      : net.connect({ port: o.port!, host: '127.0.0.1', ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) });
    this.socket = socket;
    socket.on('close', () => end({}));
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
    socket.write(Buffer.from([0x7f, 0xf0 | this.codec.rawsocketCode, 0, 0]));
    const hs = await within(reply, 5000, 'RawSocket handshake reply');
    if (hs[0] !== 0x7f || (hs[1]! & 0x0f) !== this.codec.rawsocketCode) throw new Error(`RawSocket handshake refused: ${hs.toString('hex')}`);
  }

  private frames(): void {
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0) & 0x00ffffff;
      const type = this.buf[0]! & 0x07;
      if (this.buf.length < 4 + len) return;
      const payload = Buffer.from(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
      if (type === 0) this.push(this.codec.binary ? payload : payload.toString('utf8'));
      else if (type === 1) this.writeFrame(2, payload); // PING → PONG
    }
  }

  private writeFrame(type: number, payload: Buffer): void {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(((type & 0x07) << 24) | (payload.length & 0x00ffffff), 0);
    this.socket.write(Buffer.concat([h, payload]));
  }

  /** A fresh request id of this client's own sequence. */
  request(): number { return ++this.nextRequest; }

  /**
   * Sends one WAMP message (or any value: abuse tests send what is not a
   * message) encoded by this client's codec; a string is sent as it is (a
   * text frame). Written at once unless the codec encodes
   * asynchronously (autobahn's CBOR): then when the returned promise settles.
   */
  send(msg: unknown): Promise<void> {
    if (typeof msg === 'string') { this.sendBytes(Buffer.from(msg, 'utf8'), false); return DONE; }
    const enc = this.codec.encode(msg as Msg);
    if (enc instanceof Promise) return enc.then((e) => this.sendEncoded(e));
    this.sendEncoded(enc);
    return DONE;
  }

  private sendEncoded(enc: Encoded): void {
    this.sendBytes(typeof enc === 'string' ? Buffer.from(enc, 'utf8') : Buffer.from(enc.buffer, enc.byteOffset, enc.byteLength), this.codec.binary);
  }

  /** Sends one message's bytes as they are (a WebSocket message or a RawSocket frame). */
  sendBytes(bytes: Buffer, binary = this.codec.binary): void {
    if (this.isClosed) return;
    if (this.ws) {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(binary ? bytes : bytes.toString('utf8'));
      return;
    }
    this.writeFrame(0, bytes);
  }

  private async waitFor<T>(find: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline || this.isClosed) {
        throw new Error(`${this.name}: no ${what()} within ${timeoutMs} ms (closed: ${this.isClosed}; got ${JSON.stringify(this.messages).slice(0, 300)})`);
      }
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 25); });
    }
  }

  /** The next message (of `type`, if given); the messages before it are consumed too. */
  next(type?: number, timeoutMs = this.waitMs): Promise<Msg> {
    return this.waitFor(() => {
      const i = this.messages.findIndex((m) => type === undefined || m[0] === type);
      return i >= 0 ? this.messages.splice(0, i + 1)[i] : undefined;
    }, timeoutMs, () => `message${type === undefined ? '' : ` of type ${type}`}`);
  }

  /** Removes and returns the first message matching `pred`, waiting for it; the others stay. */
  take(pred: Pred, what = 'matching message', timeoutMs = this.waitMs): Promise<Msg> {
    return this.waitFor(() => {
      const i = this.messages.findIndex(pred);
      return i >= 0 ? this.messages.splice(i, 1)[0] : undefined;
    }, timeoutMs, () => what);
  }

  /** Messages matching `pred` that are already here (not removed). */
  peek(pred: Pred): Msg[] { return this.messages.filter(pred); }

  /** HELLO; resolves with the session id on WELCOME, fails on anything else (ABORT, CHALLENGE). */
  async join(realm = 'realm1', details: Record<string, unknown> = ROLES): Promise<number> {
    await this.opened;
    await this.send([1, realm, details]);
    const m = await this.next();
    if (m[0] !== 2) throw new Error(`${this.name}: expected WELCOME, got ${JSON.stringify(m)}`);
    this.sessionId = m[1] as number;
    return this.sessionId;
  }

  /** A CALL and its answer (RESULT or ERROR). */
  async call(request: number, procedure: string, args: unknown[] = [], timeoutMs = this.waitMs): Promise<Msg> {
    await this.send([48, request, {}, procedure, args]);
    return this.take((m) => (m[0] === 50 && m[1] === request) || (m[0] === 8 && m[1] === 48 && m[2] === request), `answer to CALL ${request} (${procedure})`, timeoutMs);
  }

  /** SUBSCRIBE and wait for SUBSCRIBED; returns the subscription id. */
  subscribe(topic: string, options: Record<string, unknown> = {}): Promise<number> {
    return this.acquire(32, 33, topic, options);
  }

  /** REGISTER and wait for REGISTERED; returns the registration id. */
  register(procedure: string, options: Record<string, unknown> = {}): Promise<number> {
    return this.acquire(64, 65, procedure, options);
  }

  private async acquire(type: number, answer: number, uri: string, options: Record<string, unknown>): Promise<number> {
    const req = this.request();
    await this.send([type, req, options, uri]);
    const m = await this.take((x) => (x[0] === answer && x[1] === req) || (x[0] === 8 && x[2] === req), `answer to ${type} for ${uri}`);
    if (m[0] !== answer) throw new Error(`${this.name}: ${uri} refused: ${JSON.stringify(m)}`);
    return m[2] as number;
  }

  /** Drops the connection at once (no close handshake). */
  close(): void {
    if (this.ws) this.ws.terminate(); else this.socket?.destroy();
  }

  /** Ends the connection politely: a WebSocket close frame, or the socket's end. */
  end(): void {
    if (this.ws) this.ws.close(); else this.socket?.end();
  }
}

/** A raw TCP socket that collects everything the router sends. */
export class RawClient {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); for (const w of this.waiters.splice(0)) w(); });
    this.socket.on('error', () => {});
    this.closed = new Promise((r) => this.socket.on('close', () => { r(); for (const w of this.waiters.splice(0)) w(); }));
  }

  async connected(): Promise<void> {
    if (!this.socket.connecting) return;
    await new Promise((r) => this.socket.once('connect', r));
  }

  write(b: Buffer | Uint8Array | string): void { this.socket.write(b); }

  /** Waits until at least n bytes arrived (or the socket closed); returns them without consuming. */
  async waitBytes(n: number, timeoutMs = 3000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n && !this.socket.destroyed && Date.now() < deadline) {
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
    return this.buf;
  }

  take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  get received(): Buffer { return this.buf; }

  destroy(): void { this.socket.destroy(); }
}
