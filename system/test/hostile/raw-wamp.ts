// Raw WAMP clients for the hostile-client suite and the under-attack
// benchmark: frames written by hand over `ws` (WebSocket, optionally
// permessage-deflate) and `net` (RawSocket), from a chosen local address, so an
// attacker can send what no WAMP library would (a MiB URI, a decode bomb
// before HELLO, a 16 MiB RawSocket frame in small pieces).
//
// Where the clients seem to come from. The claw router config trusts
// loopback as its reverse proxy (`trusted_proxies: [loopback]`: in production
// nginx on the same host forwards every browser and claw). So a client on
// loopback is, to the router, nginx itself unless it says whom it forwards.
// Our HTTP and WebSocket clients therefore come as nginx would forward them:
// from their own loopback address (127.0.k.x; all of 127/8 is loopback on
// Linux) with `X-Forwarded-For: 198.18.k.x` (the benchmarking range, RFC
// 2544), one public-looking address per client. RawSocket has no headers: a
// RawSocket client on loopback is the proxy's (or the host's) own connection.
import net from 'node:net';
import http from 'node:http';
import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { constants as zlib, deflateRawSync } from 'node:zlib';
import WebSocket from 'ws';

/** The address a client from `localAddress` (127.0.k.x) claims through the proxy: 198.18.k.x. */
export function forwardedFor(localAddress: string): string {
  const m = /^127\.(\d+\.\d+\.\d+)$/.exec(localAddress);
  return m ? `198.${m[1]!.replace(/^\d+/, (x) => String(18 + (Number(x) % 2)))}` : localAddress;
}

/** Headers nginx would add for a client from `localAddress` (none without one). */
export function proxyHeaders(localAddress: string | undefined): Record<string, string> {
  return localAddress === undefined ? {} : { 'x-forwarded-for': forwardedFor(localAddress), 'x-forwarded-proto': 'https' };
}

export const WAMP = {
  HELLO: 1, WELCOME: 2, ABORT: 3, CHALLENGE: 4, AUTHENTICATE: 5, GOODBYE: 6, ERROR: 8,
  PUBLISH: 16, PUBLISHED: 17, SUBSCRIBE: 32, SUBSCRIBED: 33, CALL: 48, RESULT: 50,
} as const;

export const HELLO_ROLES = { roles: { publisher: {}, subscriber: {}, caller: {} } };

export interface Endpoint {
  /** ws://host:port/ws */
  wsUrl: string;
  /** http://host:port/ */
  url: string;
  host: string;
  port: number;
}

export function endpointOf(url: string, wsUrl: string): Endpoint {
  const u = new URL(url);
  return { url, wsUrl, host: u.hostname, port: Number(u.port) };
}

export interface Auth {
  authid: string;
  ticket: string;
}

/** How a raw session logs in: a player's ticket, WAMP-CRA (backend, operator), cryptosign (a claw). */
export type Login =
  | { method: 'ticket'; authid: string; ticket: string }
  | { method: 'wampcra'; authid: string; secret: string }
  | { method: 'cryptosign'; authid: string; publicKey: string; sign(challengeHex: string): string };

function helloAuth(login: Login | undefined): Record<string, unknown> {
  if (login === undefined) return { authmethods: ['anonymous'] };
  if (login.method === 'cryptosign') return { authmethods: ['cryptosign'], authid: login.authid, authextra: { pubkey: login.publicKey } };
  return { authmethods: [login.method], authid: login.authid };
}

function answer(login: Login | undefined, extra: Record<string, unknown>): string {
  if (login?.method === 'ticket') return login.ticket;
  if (login?.method === 'cryptosign') return login.sign(String(extra.challenge));
  if (login?.method === 'wampcra') {
    const key = extra.salt !== undefined
      ? pbkdf2Sync(login.secret, String(extra.salt), Number(extra.iterations ?? 1000), Number(extra.keylen ?? 32), 'sha256').toString('base64')
      : login.secret;
    return createHmac('sha256', Buffer.from(key, 'utf8')).update(String(extra.challenge), 'utf8').digest('base64');
  }
  return '';
}

const INBOX = 10_000;

/** A JSON WAMP session over WebSocket, read and written frame by frame. */
export class RawWs {
  private readonly waiters: { match: (m: unknown[]) => boolean; resolve: (m: unknown[]) => void }[] = [];
  /** Messages no next() has taken yet (the oldest dropped past INBOX). */
  private readonly inbox: unknown[][] = [];
  /** Counts of received message types (the first element). */
  readonly counts = new Map<number, number>();
  closed = false;
  readonly closedAt: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket, from?: RawWs) {
    if (from !== undefined) {
      // Take over a socket opened by `from` (which stops listening), keeping what it has not handed out.
      from.ws.removeAllListeners('message');
      this.inbox.push(...from.inbox);
      for (const [k, v] of from.counts) this.counts.set(k, v);
    }
    this.closedAt = from?.closedAt ?? new Promise((resolve) => ws.once('close', (code, reason) => { this.closed = true; resolve({ code, reason: reason.toString() }); }));
    void this.closedAt.then(() => { this.closed = true; });
    if (from === undefined) ws.on('error', () => { /* the close event follows */ });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let m: unknown[];
      try { m = JSON.parse(data.toString()) as unknown[]; } catch { return; }
      const type = m[0] as number;
      this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
      if (this.dispatch(m)) return;
      for (let i = 0; i < this.waiters.length; i++) {
        if (this.waiters[i]!.match(m)) { const [w] = this.waiters.splice(i, 1); w!.resolve(m); return; }
      }
      this.inbox.push(m);
      if (this.inbox.length > INBOX) this.inbox.shift();
    });
  }

  send(m: unknown[] | string | Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (Buffer.isBuffer(m)) this.ws.send(m, { binary: true });
    else this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  /** Subclasses take messages they handle themselves (events). */
  protected dispatch(_m: unknown[]): boolean { return false; }

  /** Resolves with the first message `match` accepts, or rejects on close or after `ms`. */
  next(match: (m: unknown[]) => boolean, ms = 15_000): Promise<unknown[]> {
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    if (this.closed) return Promise.reject(new Error('closed'));
    return new Promise((resolve, reject) => {
      const w = { match, resolve: (m: unknown[]) => { clearTimeout(timer); resolve(m); } };
      const timer = setTimeout(() => { this.drop(w); reject(new Error(`no matching message within ${ms} ms`)); }, ms);
      void this.closedAt.then(({ code, reason }) => { if (this.drop(w)) { clearTimeout(timer); reject(new Error(`closed (${code} ${reason})`)); } });
      this.waiters.push(w);
    });
  }

  private drop(w: unknown): boolean {
    const i = this.waiters.indexOf(w as never);
    if (i < 0) return false;
    this.waiters.splice(i, 1);
    return true;
  }

  /**
   * Writes a masked permessage-deflate frame whose payload is `deflated`
   * (see Deflated) straight to the socket: the message costs this client
   * nothing to compress, however large it is once inflated.
   */
  sendDeflated(deflated: Buffer, opcode: 1 | 2 = 1): void {
    const socket = (this.ws as unknown as { _socket?: net.Socket })._socket;
    if (socket === undefined || this.ws.readyState !== WebSocket.OPEN) return;
    const len = deflated.length;
    const head = Buffer.alloc(len < 126 ? 2 : len < 65536 ? 4 : 10);
    head[0] = 0x80 | 0x40 | opcode; // FIN, RSV1 (compressed)
    if (len < 126) head[1] = 0x80 | len;
    else if (len < 65536) { head[1] = 0x80 | 126; head.writeUInt16BE(len, 2); }
    else { head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(len), 2); }
    const mask = randomBytes(4);
    const body = Buffer.from(deflated);
    for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
    socket.write(Buffer.concat([head, mask, body]));
  }

  close(): void {
    try { this.ws.terminate(); } catch { /* gone */ }
  }
}

const SYNC_TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const syncDeflate = (b: Buffer | string): Buffer => deflateRawSync(b, { finishFlush: zlib.Z_SYNC_FLUSH });

/**
 * A permessage-deflate message (RFC 7692) built from a large constant part
 * compressed once and small per-message parts: `head + big + tail`. Each part
 * is a raw DEFLATE stream ending on a byte boundary (sync flush), and the
 * big part's back-references stay inside itself, so the streams may simply be
 * concatenated; the message drops the final sync marker, as the RFC says.
 */
export class Deflated {
  private readonly big: Buffer;
  readonly inflatedSize: number;
  constructor(big: Buffer | string) {
    this.big = syncDeflate(big);
    this.inflatedSize = Buffer.byteLength(big);
  }
  /** Compressed size of the large part. */
  get size(): number { return this.big.length; }
  message(head: Buffer | string, tail: Buffer | string): Buffer {
    const end = syncDeflate(tail);
    return Buffer.concat([syncDeflate(head), this.big, end.subarray(0, end.length - SYNC_TRAILER.length)]);
  }
}

export interface WsOptions {
  protocol?: 'wamp.2.json' | 'wamp.2.msgpack' | 'wamp.2.cbor';
  /** Offer permessage-deflate (the router accepts it): what makes MiB messages cheap to send. */
  compress?: boolean;
  localAddress?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** An open WebSocket to the router, before HELLO. */
export function openWs(ep: Endpoint, o: WsOptions = {}): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(ep.wsUrl, [o.protocol ?? 'wamp.2.json'], {
      perMessageDeflate: o.compress === true ? { clientNoContextTakeover: true, serverNoContextTakeover: true, threshold: 0 } : false,
      ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
      headers: { ...proxyHeaders(o.localAddress), ...o.headers },
      handshakeTimeout: o.timeoutMs ?? 15_000,
      maxPayload: 64 * 1024 * 1024,
    });
    ws.once('open', () => resolve(new RawWs(ws)));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket refused: HTTP ${res.statusCode}`)));
  });
}

/** HELLO → (CHALLENGE → AUTHENTICATE) → WELCOME; rejects with the ABORT's reason. Anonymous without `login`. */
export async function joinWs(ep: Endpoint, o: WsOptions & { auth?: Auth; login?: Login } = {}): Promise<WampClient> {
  const s = await openWs(ep, o);
  const login: Login | undefined = o.login ?? (o.auth ? { method: 'ticket', ...o.auth } : undefined);
  s.send([WAMP.HELLO, 'claw', { ...HELLO_ROLES, ...helloAuth(login) }]);
  let m = await s.next((x) => x[0] === WAMP.WELCOME || x[0] === WAMP.ABORT || x[0] === WAMP.CHALLENGE, o.timeoutMs ?? 15_000).catch((e: Error) => { s.close(); throw e; });
  if (m[0] === WAMP.CHALLENGE) {
    s.send([WAMP.AUTHENTICATE, answer(login, (m[2] ?? {}) as Record<string, unknown>), {}]);
    m = await s.next((x) => x[0] === WAMP.WELCOME || x[0] === WAMP.ABORT, o.timeoutMs ?? 15_000).catch((e: Error) => { s.close(); throw e; });
  }
  if (m[0] !== WAMP.WELCOME) { s.close(); throw new Error(`not welcome: ${String(m[2])} ${JSON.stringify(m[1]).slice(0, 200)}`); }
  return new WampClient(s.ws, m[1] as number, (m[2] ?? {}) as Record<string, unknown>, s);
}

export class WampError extends Error {
  constructor(readonly uri: string, readonly args: unknown[]) { super(`${uri}: ${String(args[0] ?? '')}`); }
}

/** A joined session with request/answer helpers (JSON over WebSocket). */
export class WampClient extends RawWs {
  private nextRequest = 1;
  private readonly handlers = new Map<number, (args: unknown[], kwargs: Record<string, unknown>, details: Record<string, unknown>) => void>();

  constructor(ws: WebSocket, readonly sessionId: number, readonly welcome: Record<string, unknown>, from: RawWs) {
    super(ws, from);
  }

  request(): number { return this.nextRequest++; }

  /** EVENTs that came before their SUBSCRIBED was handled (retained events follow it at once). */
  private readonly early = new Map<number, unknown[][]>();

  protected override dispatch(m: unknown[]): boolean {
    if (m[0] !== WAMP_EVENT) return false;
    const h = this.handlers.get(m[1] as number);
    if (h === undefined) {
      const q = this.early.get(m[1] as number) ?? [];
      if (q.length < 1000) q.push(m);
      this.early.set(m[1] as number, q);
      return true;
    }
    h((m[4] ?? []) as unknown[], (m[5] ?? {}) as Record<string, unknown>, (m[3] ?? {}) as Record<string, unknown>);
    return true;
  }

  private async answerTo(id: number, ok: number, ms: number): Promise<unknown[]> {
    const m = await this.next((x) => (x[0] === ok && x[1] === id) || (x[0] === WAMP.ERROR && x[2] === id), ms);
    if (m[0] === WAMP.ERROR) throw new WampError(String(m[4]), (m[5] ?? []) as unknown[]);
    return m;
  }

  async call(procedure: string, args: unknown[] = [], ms = 15_000): Promise<unknown> {
    const id = this.request();
    this.send([WAMP.CALL, id, {}, procedure, args]);
    const m = await this.answerTo(id, WAMP.RESULT, ms);
    return (m[3] as unknown[] | undefined)?.[0];
  }

  async subscribe(topic: string, options: Record<string, unknown>, handler: (args: unknown[], kwargs: Record<string, unknown>, details: Record<string, unknown>) => void, ms = 15_000): Promise<number> {
    const id = this.request();
    this.send([WAMP.SUBSCRIBE, id, options, topic]);
    const m = await this.answerTo(id, WAMP.SUBSCRIBED, ms);
    const sub = m[2] as number;
    this.handlers.set(sub, handler);
    for (const e of this.early.get(sub) ?? []) this.dispatch(e);
    this.early.delete(sub);
    return sub;
  }

  async publish(topic: string, args: unknown[], options: Record<string, unknown> = {}, ms = 15_000): Promise<void> {
    const id = this.request();
    this.send([WAMP.PUBLISH, id, { ...options, acknowledge: true }, topic, args]);
    await this.answerTo(id, WAMP.PUBLISHED, ms);
  }
}

const WAMP_EVENT = 36;

// ---- RawSocket ---------------------------------------------------------------

export const RAWSOCKET_SERIALIZER = { json: 1, msgpack: 2, cbor: 3 } as const;

export interface RawSocketClient {
  socket: net.Socket;
  /** Resolves with the router's 4-byte handshake answer. */
  handshake: Promise<Buffer>;
  /** Frames received (type, payload). */
  onFrame(fn: (type: number, payload: Buffer) => void): void;
  closed: Promise<void>;
}

/** Connects and sends the RawSocket handshake (max length exponent 15 = 16 MiB). */
export function rawSocket(ep: Endpoint, o: { serializer?: keyof typeof RAWSOCKET_SERIALIZER; localAddress?: string; exponent?: number } = {}): RawSocketClient {
  const socket = net.connect({ host: ep.host, port: ep.port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) });
  socket.setNoDelay(true);
  const listeners: ((type: number, payload: Buffer) => void)[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let hs: Buffer | undefined;
  let resolveHs!: (b: Buffer) => void;
  let rejectHs!: (e: Error) => void;
  const handshake = new Promise<Buffer>((res, rej) => { resolveHs = res; rejectHs = rej; });
  handshake.catch(() => {});
  const closed = new Promise<void>((r) => socket.once('close', () => { r(); rejectHs(new Error('closed before the handshake')); }));
  socket.on('error', () => { /* close follows */ });
  socket.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    if (hs === undefined) {
      if (buf.length < 4) return;
      hs = buf.subarray(0, 4);
      buf = buf.subarray(4);
      resolveHs(hs);
    }
    while (buf.length >= 4) {
      const header = buf.readUInt32BE(0);
      const len = header & 0xffffff;
      if (buf.length < 4 + len) return;
      const payload = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      for (const l of listeners) l((header >>> 24) & 0x07, payload);
    }
  });
  socket.write(Buffer.from([0x7f, ((o.exponent ?? 15) << 4) | RAWSOCKET_SERIALIZER[o.serializer ?? 'json'], 0, 0]));
  return { socket, handshake, closed, onFrame: (fn) => { listeners.push(fn); } };
}

export function rawFrame(payload: Buffer | string, type = 0): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(4);
  header.writeUInt32BE(((type & 0x07) << 24) | body.length, 0);
  return Buffer.concat([header, body]);
}

// ---- HTTP --------------------------------------------------------------------

export interface HttpAnswer { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One HTTP request from `localAddress` (fetch cannot choose it). */
export function httpRequest(ep: Endpoint, o: { method?: string; path: string; headers?: Record<string, string>; body?: string; localAddress?: string; timeoutMs?: number }): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: ep.host, port: ep.port, method: o.method ?? 'GET', path: o.path, agent: false,
      headers: { ...proxyHeaders(o.localAddress), ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}), ...o.headers },
      ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 1 << 20) body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 15_000, () => req.destroy(new Error(`HTTP ${o.path}: no answer within ${o.timeoutMs ?? 15_000} ms`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface Guest extends Auth {
  name: string;
  /** `clawgate_ticket=…`, to send back as a Cookie header. */
  cookie: string;
}

/** POST /api/session {name}: a guest player (authid, ticket, cookie). */
export async function mintGuest(ep: Endpoint, name: string, o: { localAddress?: string; cookie?: string } = {}): Promise<Guest> {
  const r = await httpRequest(ep, {
    method: 'POST', path: '/api/session', body: JSON.stringify({ name }),
    headers: { 'content-type': 'application/json', ...(o.cookie !== undefined ? { cookie: o.cookie } : {}) },
    ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
  });
  if (r.status !== 200) throw Object.assign(new Error(`POST /api/session: HTTP ${r.status} ${r.body.slice(0, 200)}`), { status: r.status });
  const a = JSON.parse(r.body) as { authid: string; ticket: string };
  const set = r.headers['set-cookie'];
  const cookie = (Array.isArray(set) ? set[0] : set ?? '').split(';')[0] ?? '';
  return { authid: a.authid, ticket: a.ticket, name, cookie };
}
