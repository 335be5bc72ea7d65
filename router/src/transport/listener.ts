// One TCP listener. A `universal` listener serves WebSocket (on configured
// paths), RawSocket and plain HTTP on one port, told apart by the first byte
// a client sends: 0x7F opens a RawSocket handshake, anything else is HTTP
// (an upgrade to WebSocket, or a request for the express app). With `tls`,
// the listener speaks TLS first and sniffs inside it.
//
// From TCP accept until HELLO, a connection is on a clock (hello timeout):
// here until a session exists for it, then in the session.
//
// Admission (limits/connection-admission.ts): at accept, the listener's open
// connections and the connections per client address are counted and a
// connection over either bound is closed at once. A trusted proxy's
// connections are not counted per address at accept (the proxy carries
// everyone's); a WebSocket upgrade through it is counted under the client the
// proxy forwarded, and refused with 503 over the bound.
//
// Plain HTTP requests (the express app: /health, the HTTP bridge, routes an
// embedder mounts such as the backend's POST /api/session) are on clocks
// too: the first request's headers within the hello timeout, each request's
// body within http_request_timeout of its headers, the next request's headers
// within http_keep_alive_timeout of the last response, and no connection
// serving plain HTTP idle (no byte either way) for http_idle_timeout;
// connections serving plain HTTP are capped at max_http_connections. node's own requestTimeout
// and headersTimeout are enforced only for servers that listen themselves,
// and this one is fed sockets by the sniffing listener, so they are here.
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { Express } from 'express';
import { serializerByWsProtocol, type Serializer, type SerializerId } from '../serializers/index.js';
import type { AuthPolicy } from '../auth/auth-policy.js';
import type { Logger } from '../logger.js';
import type { TransportSink } from './transport.js';
import { WebSocketTransport } from './websocket-transport.js';
import { RAWSOCKET_MAGIC, RawSocketTransport, acceptHandshake, lengthExponent } from './rawsocket-transport.js';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_LISTENER_LIMITS, type EndpointLimits, type ListenerLimits } from '../limits/limits-config.js';
import { connectionRefusal, ConnectionCounts } from '../limits/connection-admission.js';
import type { LimitCounters } from '../limits/limit-counters.js';
import { tagSocket } from '../net/socket-tags.js';
import { clientOfRequest, trustProxiesOn, type TrustedProxies } from '../net/forwarded.js';
import { addressKey } from '../net/client-key.js';
import { LivenessSweep, sweepStepMs, type Pingable } from './liveness.js';

export interface WebSocketEndpointConfig {
  serializers: SerializerId[];
  auth: AuthPolicy;
  maxMessageSize: number;
  /** permessage-deflate, negotiated when the client asks for it. */
  compression: boolean | PerMessageDeflateOptions;
  limits: EndpointLimits;
}

export interface RawSocketEndpointConfig {
  serializers: SerializerId[];
  auth: AuthPolicy;
  maxMessageSize: number;
  limits: EndpointLimits;
}

export interface ListenerConfig {
  id: string;
  port: number;
  host?: string;
  /**
   * Listen on this Unix-domain socket instead of `port`/`host`. Its peers are
   * local processes: not counted per address, and forwarded headers are not
   * read (there is no proxy address to trust).
   */
  socketPath?: string;
  /** WebSocket endpoints by path ('/ws'); the key '*' accepts any path. */
  websocket: Map<string, WebSocketEndpointConfig>;
  rawsocket?: RawSocketEndpointConfig;
  /** Serve the HTTP app (health, bridge) for non-upgrade requests. */
  web: boolean;
  /** TLS server options (key, cert, ...): the listener serves TLS only. */
  tls?: tls.TlsOptions;
  /** Proxies whose X-Forwarded-For/-Proto are believed (transport/forwarded.ts). */
  trustedProxies?: TrustedProxies;
  /** Connection counts and HTTP timeouts (default: DEFAULT_LISTENER_LIMITS). */
  limits?: ListenerLimits;
}

/** What the listener needs from the router: a session for each new transport. */
export interface SessionFactory {
  openSession(transport: WebSocketTransport | RawSocketTransport, auth: AuthPolicy, limits: EndpointLimits): TransportSink;
  /** Where refused connections and HTTP timeouts are counted. */
  readonly limitCounters?: LimitCounters;
}

/** A socket serving plain HTTP: its clock, and the requests whose responses are not finished. */
interface HttpState {
  timer: NodeJS.Timeout | undefined;
  inFlight: number;
}

/** A connection on its way to a session: when it was accepted, and the timer that drops it. */
interface Pending {
  acceptedAt: number;
  timer: NodeJS.Timeout;
}

/** The first offered subprotocol we support (clients list them by preference). */
export function pickSubprotocol(offered: readonly string[], allowed: readonly SerializerId[]): Serializer | undefined {
  for (const p of offered) {
    const s = serializerByWsProtocol(p.trim());
    if (s !== undefined && allowed.includes(s.id)) return s;
  }
  return undefined;
}

function rejectUpgrade(socket: Duplex, status: number, text: string, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export class Listener {
  private readonly server: net.Server | tls.Server;
  private readonly http: http.Server;
  private readonly wss = new Map<string, WebSocketServer>();
  private readonly sockets = new Set<net.Socket>();
  private readonly pending = new WeakMap<Duplex, Pending>();
  /** The longest hello timeout of this listener's endpoints: before sniffing we don't know which applies. */
  private readonly preSessionMs: number;
  private readonly limits: ListenerLimits;
  /** Open connections (raw TCP, TLS or not) and connections per client address. */
  private readonly counts = new ConnectionCounts();
  /** Sockets serving plain HTTP, and their clocks. */
  private readonly httpSockets = new WeakMap<Duplex, HttpState>();
  private httpConnections = 0;
  /** Pings for the endpoints with auto_ping_interval: one sweep for the listener, not a timer per connection. */
  private readonly liveness: LivenessSweep | undefined;

  constructor(
    readonly config: ListenerConfig,
    private readonly factory: SessionFactory,
    app: Express | undefined,
    private readonly log: Logger,
  ) {
    this.limits = config.limits ?? DEFAULT_LISTENER_LIMITS;
    const handler: http.RequestListener = config.web && app ? app : (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
    };
    // A plain HTTP request (health, bridge, the embedder's routes) is no WAMP connection: the HTTP clocks govern it.
    this.http = http.createServer((req, res) => { if (this.httpRequest(req, res)) handler(req, res); });
    this.http.keepAliveTimeout = this.limits.httpKeepAliveTimeoutMs;
    // node applies this to every connection it is handed (emitted ones too) and destroys the idle ones;
    // ws clears it on a socket it upgrades.
    this.http.timeout = this.limits.httpIdleTimeoutMs;
    for (const [path, ep] of config.websocket) {
      this.wss.set(path, new WebSocketServer({
        noServer: true,
        maxPayload: ep.maxMessageSize,
        perMessageDeflate: ep.compression === false ? false : ep.compression === true ? DEFAULT_DEFLATE : ep.compression,
        handleProtocols: (protocols) => pickSubprotocol([...protocols], ep.serializers)?.wsProtocol ?? false,
      }));
    }
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    const endpoints = [...config.websocket.values(), ...(config.rawsocket ? [config.rawsocket] : [])];
    const pinged = endpoints.flatMap((e) => (e.limits.liveness === null ? [] : [e.limits.liveness]));
    if (pinged.length > 0) this.liveness = new LivenessSweep(sweepStepMs(pinged), (p) => this.pingTimeout(p));
    this.preSessionMs = endpoints.length > 0 ? Math.max(...endpoints.map((e) => e.limits.helloTimeoutMs)) : DEFAULT_HELLO_TIMEOUT_MS;
    if (config.tls !== undefined) {
      this.server = tls.createServer({ ...config.tls, handshakeTimeout: this.preSessionMs }, (socket) => this.connection(socket));
      // Failed handshakes (plaintext to a TLS port, bad client certificates) just close.
      this.server.on('tlsClientError', (_e, socket) => socket.destroy());
      // Track raw sockets still in the TLS handshake too, so stop() does not wait for them;
      // and count them at accept, before a TLS handshake is spent on them.
      this.server.on('connection', (raw: net.Socket) => {
        this.sockets.add(raw);
        raw.on('close', () => this.sockets.delete(raw));
        raw.on('error', () => raw.destroy());
        this.admit(raw);
      });
    } else {
      this.server = net.createServer((socket) => { if (this.admit(socket)) this.connection(socket); });
    }
  }

  /**
   * Counts a new TCP connection, or closes it when the listener or its
   * client address has too many. A trusted proxy's connections are counted
   * only in the listener's total here (their clients at the upgrade).
   */
  private admit(socket: net.Socket): boolean {
    const key = this.socketAddressKey(socket);
    if (connectionRefusal(this.limits, this.counts, key) !== undefined) {
      if (this.factory.limitCounters) this.factory.limitCounters.connectionsRefused++;
      socket.destroy();
      return false;
    }
    this.counts.open(key);
    socket.once('close', () => this.counts.close(key));
    return true;
  }

  /** The key a connection's sessions are counted under per address (TransportInfo.address). */
  private socketAddressKey(socket: net.Socket): string | undefined {
    if (this.config.socketPath !== undefined) return undefined;
    return addressKey({ address: socket.remoteAddress, proxy: undefined }, this.config.trustedProxies);
  }

  /**
   * Stops the pre-session clock for a socket; returns how many ms of the
   * hello timeout are left (at least 1) for the session to use.
   */
  private claim(socket: Duplex, helloTimeoutMs = 0): number {
    const p = this.pending.get(socket);
    if (p === undefined) return Math.max(1, helloTimeoutMs);
    clearTimeout(p.timer);
    this.pending.delete(socket);
    return Math.max(1, helloTimeoutMs - (Date.now() - p.acceptedAt));
  }

  private limitsFor(socket: Duplex, limits: EndpointLimits): EndpointLimits {
    return { ...limits, helloTimeoutMs: this.claim(socket, limits.helloTimeoutMs) };
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.leaveHttp(socket);
    const path = (req.url ?? '/').split('?')[0]!;
    const key = this.config.websocket.has(path) ? path : '*';
    const ep = this.config.websocket.get(key);
    const wss = this.wss.get(key);
    if (ep === undefined || wss === undefined) {
      rejectUpgrade(socket, 404, 'Not Found', `no WebSocket endpoint at ${path}`);
      return;
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').filter((p) => p.trim() !== '');
    const serializer = pickSubprotocol(offered, ep.serializers);
    if (serializer === undefined) {
      const wanted = ep.serializers.map((s) => `wamp.2.${s}`).join(', ');
      rejectUpgrade(socket, 400, 'Bad Request', `no supported WAMP subprotocol offered (supported: ${wanted})`);
      return;
    }
    const client = clientOfRequest(req);
    const address = this.config.socketPath !== undefined ? undefined : addressKey(client, this.config.trustedProxies);
    if (client.proxy !== undefined) {
      // Through a trusted proxy: only now is the client known, so only now is it counted.
      const refused = connectionRefusal({ ...this.limits, maxConnections: null }, this.counts, address);
      if (refused !== undefined) {
        if (this.factory.limitCounters) this.factory.limitCounters.connectionsRefused++;
        rejectUpgrade(socket, 503, 'Service Unavailable', refused);
        return;
      }
      this.counts.open(address, false);
      socket.once('close', () => this.counts.close(address, false));
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const limits = this.limitsFor(socket, ep.limits);
      const transport = new WebSocketTransport(ws, serializer, req, this.config.id, compressThreshold(ep.compression), ep.maxMessageSize, limits.maxSendBuffer, address);
      transport.attach(this.factory.openSession(transport, ep.auth, limits));
      if (limits.liveness !== null && this.liveness !== undefined) transport.attachLiveness(limits.liveness, this.liveness);
    });
  }

  private connection(socket: net.Socket): void {
    this.sockets.add(socket);
    tagSocket(socket, { listener: this.config.id, unix: this.config.socketPath !== undefined });
    trustProxiesOn(socket, this.config.trustedProxies);
    const timer = setTimeout(() => socket.destroy(), this.preSessionMs);
    timer.unref();
    this.pending.set(socket, { acceptedAt: Date.now(), timer });
    socket.on('close', () => { this.sockets.delete(socket); this.claim(socket); });
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    const raw = this.config.rawsocket;
    const hasHttp = this.config.web || this.config.websocket.size > 0;
    socket.once('data', (first: Buffer) => {
      if (first[0] === RAWSOCKET_MAGIC && raw !== undefined) {
        this.rawsocket(socket, first, raw);
      } else if (hasHttp) {
        // Hand the socket, first bytes included, to the HTTP server.
        socket.pause();
        socket.unshift(first);
        this.http.emit('connection', socket);
        process.nextTick(() => socket.resume());
      } else {
        // A RawSocket-only listener got something else: answer with the
        // RawSocket "illegal" error and close.
        socket.end(Buffer.from([RAWSOCKET_MAGIC, 0x00, 0, 0]));
      }
    });
  }

  private rawsocket(socket: net.Socket, first: Buffer, raw: RawSocketEndpointConfig): void {
    let pending = first;
    let transport: RawSocketTransport | undefined;
    let sink: TransportSink | undefined;
    const onData = (chunk: Buffer): void => {
      if (transport !== undefined) {
        try {
          transport.push(chunk);
        } catch (e) {
          // A bug in framing must cost this connection, not the process (an exception here is uncaught).
          this.log.error({ err: e, listener: this.config.id }, 'internal error in RawSocket framing');
          socket.destroy();
        }
        return;
      }
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length < 4) return;
      const opts = { serializers: raw.serializers, maxMessageSize: raw.maxMessageSize, listener: this.config.id, maxHandshakeSize: raw.limits.maxHandshakeSize };
      const result = acceptHandshake(pending.subarray(0, 4), opts);
      if ('error' in result) {
        socket.off('data', onData);
        socket.end(Buffer.from([RAWSOCKET_MAGIC, (result.error & 0x0f) << 4, 0, 0]));
        return;
      }
      const exp = lengthExponent(raw.maxMessageSize);
      socket.write(Buffer.from([RAWSOCKET_MAGIC, (exp << 4) | result.serializer.rawsocketCode, 0, 0]));
      const limits = this.limitsFor(socket, raw.limits);
      const address = this.socketAddressKey(socket);
      transport = new RawSocketTransport(socket, result.serializer, result.clientMax, { ...opts, maxSendBuffer: limits.maxSendBuffer, ...(address !== undefined ? { address } : {}) }, () => sink!);
      sink = this.factory.openSession(transport, raw.auth, limits);
      if (limits.liveness !== null && this.liveness !== undefined) {
        const t = transport;
        t.liveness = limits.liveness;
        this.liveness.add(t);
        socket.once('close', () => this.liveness!.remove(t));
      }
      const rest = pending.subarray(4);
      if (rest.length > 0) transport.push(Buffer.from(rest));
    };
    socket.on('data', onData);
    // The peer closing its side (FIN) ends the session; close ours too.
    socket.on('end', () => socket.end());
    socket.on('close', () => sink?.transportClosed());
    onData(Buffer.alloc(0));
  }

  // ---- plain HTTP -------------------------------------------------------------

  /** Runs before the app sees a request: the connection cap, and the request's clock. False: answered here. */
  private httpRequest(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const socket = req.socket;
    this.claim(socket);
    let state = this.httpSockets.get(socket);
    if (state === undefined) {
      const max = this.limits.maxHttpConnections;
      if (max !== null && this.httpConnections >= max) {
        if (this.factory.limitCounters) this.factory.limitCounters.httpConnectionsRefused++;
        res.shouldKeepAlive = false;
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ error: `too many HTTP connections to this listener (max_http_connections ${max})` }));
        return false;
      }
      state = { timer: undefined, inFlight: 0 };
      this.httpSockets.set(socket, state);
      this.httpConnections++;
      socket.once('close', () => this.leaveHttp(socket));
    }
    const s = state;
    s.inFlight++;
    // Closed without an answer: the app may be in the middle of reading the body, and a response
    // written under it would make its own answer fail.
    this.arm(s, socket, this.limits.httpRequestTimeoutMs, () => {
      if (req.complete) return;
      if (this.factory.limitCounters) this.factory.limitCounters.httpTimeouts++;
      socket.destroy();
    });
    res.once('finish', () => {
      s.inFlight--;
      if (s.inFlight > 0 || socket.destroyed) return;
      // Kept alive: the next request's headers must come in time, however slowly they trickle.
      this.arm(s, socket, this.limits.httpKeepAliveTimeoutMs, () => socket.destroy());
    });
    return true;
  }

  /**
   * The socket serves plain HTTP no more (closed, or its next request is a
   * WebSocket upgrade): off the HTTP clocks and out of max_http_connections.
   * A client may upgrade a kept-alive connection: Node 22+'s own WebSocket
   * (undici's) does when an earlier fetch() to the same origin left one idle
   * in its pool; browsers and `ws` open a new one. Its keep-alive clock would
   * otherwise drop the WebSocket http_keep_alive_timeout after that response.
   */
  private leaveHttp(socket: Duplex): void {
    const s = this.httpSockets.get(socket);
    if (s === undefined) return;
    if (s.timer !== undefined) clearTimeout(s.timer);
    s.timer = undefined;
    this.httpSockets.delete(socket);
    this.httpConnections--;
  }

  private arm(s: HttpState, socket: Duplex, ms: number, fire: () => void): void {
    if (s.timer !== undefined) clearTimeout(s.timer);
    s.timer = setTimeout(() => { s.timer = undefined; if (!socket.destroyed) fire(); }, ms);
    s.timer.unref();
  }

  async start(): Promise<void> {
    const path = this.config.socketPath;
    if (path !== undefined) await removeStaleSocket(path);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      const listening = (): void => {
        this.server.off('error', reject);
        resolve();
      };
      if (path !== undefined) this.server.listen(path, listening);
      else this.server.listen(this.config.port, this.config.host ?? '127.0.0.1', listening);
    });
    const where = path !== undefined ? { path } : { port: this.port, host: this.config.host ?? '127.0.0.1' };
    this.log.info({ listener: this.config.id, ...where, tls: this.config.tls !== undefined }, 'listening');
  }

  /** The TCP port bound (0 for a Unix-socket listener). */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : this.config.socketPath !== undefined ? 0 : this.config.port;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** A connection that answered no ping: counted and logged; the transport then drops it. */
  private pingTimeout(p: Pingable): void {
    if (this.factory.limitCounters) this.factory.limitCounters.pingTimeouts++;
    const info = (p as WebSocketTransport | RawSocketTransport).info;
    this.log.info({ listener: this.config.id, peer: info.peer, kind: info.kind, auto_ping_interval: p.liveness.intervalMs, auto_ping_timeout: p.liveness.timeoutMs }, 'connection dropped: no answer to ping');
  }

  /** Stop accepting; destroy what is still open after sessions said goodbye. */
  async stop(): Promise<void> {
    this.liveness?.stop();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      for (const w of this.wss.values()) w.close();
    });
  }
}

/** Messages below this size are never deflated (see WebSocketTransport.send). */
export const DEFAULT_COMPRESS_THRESHOLD = 1024;

/**
 * permessage-deflate without context takeover in either direction. With
 * context takeover, ws peers deflate every message however small (their
 * threshold applies only without it), which costs each small WAMP message a
 * zlib round trip on the thread pool (~0.7 ms, and long tails under load) on
 * both ends; it also keeps a compression window per connection alive. Asking
 * for no context takeover makes well-behaved clients skip small messages and
 * keeps idle connections small, at a slightly worse ratio for large ones.
 */
const DEFAULT_DEFLATE: PerMessageDeflateOptions = {
  threshold: DEFAULT_COMPRESS_THRESHOLD,
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
};

function compressThreshold(c: boolean | PerMessageDeflateOptions): number {
  if (c === false) return Infinity;
  if (c === true) return DEFAULT_COMPRESS_THRESHOLD;
  return c.threshold ?? DEFAULT_COMPRESS_THRESHOLD;
}

/**
 * A socket file left by a process that died (a clean stop removes it) makes
 * listen() fail with EADDRINUSE. Remove it if nothing answers on it; refuse
 * to touch it if something does, or if it is not a socket.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st: fs.Stats;
  try { st = fs.lstatSync(path); } catch { return; }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path} is in use by another process`);
  fs.unlinkSync(path);
}
