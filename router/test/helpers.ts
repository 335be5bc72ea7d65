// Shared test fixtures: a real router on a real loopback port, and real
// clients (autobahn-js over ws, raw sockets for protocol abuse).
import net from 'node:net';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { Router } from '../src/router.js';
import { fromCrossbar } from '../src/config/crossbar-config.js';
import { silentLogger } from '../src/logger.js';

const require = createRequire(import.meta.url);
// autobahn-js expects a global WebSocket (browsers, Node 22+); Node 20 has none.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const autobahn = require('autobahn') as AutobahnModule;

export interface AutobahnModule {
  Connection: new (opts: Record<string, unknown>) => AutobahnConnection;
  Error: new (error: string, args?: unknown[], kwargs?: Record<string, unknown>) => Error;
  serializer: { JSONSerializer: new () => unknown; MsgpackSerializer: new () => unknown; CBORSerializer: new () => unknown };
}
export interface AutobahnConnection {
  onopen: (session: AutobahnSession, details: unknown) => void;
  onclose: (reason: string, details: { reason?: string; message?: string }) => boolean | void;
  open(): void;
  close(reason?: string, message?: string): void;
}
/** The parts of autobahn's Session the tests use (kept loose: autobahn is untyped JS). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AutobahnSession = any;

export type SerializerName = 'json' | 'msgpack' | 'cbor';

/** `realm1` where anonymous may do everything and role `bridge` may publish under `com.bridge.` (for HTTP bridge paths). */
export function bridgeRealm(): unknown {
  return {
    name: 'realm1',
    roles: [
      { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }] },
      { name: 'bridge', permissions: [{ uri: 'com.bridge.', match: 'prefix', allow: { publish: true } }] },
    ],
  };
}

/** Anonymous may do everything; realm `realm1`; universal listener on a free port. */
export function testConfig(overrides: { realms?: unknown[]; transportExtras?: Record<string, unknown> } = {}): unknown {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: overrides.realms ?? [{
        name: 'realm1',
        roles: [{
          name: 'anonymous',
          permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } }],
        }],
      }],
      transports: [{
        type: 'universal', id: 'test',
        endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' },
        rawsocket: {},
        websocket: { ws: { type: 'websocket' } },
        web: { paths: {} },
        ...overrides.transportExtras,
      }],
    }],
  };
}

export interface RunningRouter {
  router: Router;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function startRouter(config: unknown = testConfig()): Promise<RunningRouter> {
  const { config: rc } = fromCrossbar(config);
  const router = new Router(rc, { log: silentLogger() });
  await router.start();
  const port = Object.values(router.ports())[0]!;
  return { router, port, url: `ws://127.0.0.1:${port}/ws`, stop: () => router.stop(200) };
}

function serializerFor(name: SerializerName): unknown {
  if (name === 'json') return new autobahn.serializer.JSONSerializer();
  if (name === 'msgpack') return new autobahn.serializer.MsgpackSerializer();
  return new autobahn.serializer.CBORSerializer();
}

export interface ConnectOptions {
  url?: string;
  port: number;
  realm?: string;
  serializer?: SerializerName;
  rawsocket?: boolean;
  extra?: Record<string, unknown>;
}

/** Opens an autobahn session; resolves on WELCOME, rejects on close before it. */
export function connect(opts: ConnectOptions): Promise<{ session: AutobahnSession; connection: AutobahnConnection; closed: Promise<{ reason: string; details: unknown }> }> {
  return new Promise((resolve, reject) => {
    const transport = opts.rawsocket
      ? { type: 'rawsocket', host: '127.0.0.1', port: opts.port }
      : { type: 'websocket', url: opts.url ?? `ws://127.0.0.1:${opts.port}/ws`, serializers: [serializerFor(opts.serializer ?? 'json')] };
    const connection = new autobahn.Connection({
      transports: [transport],
      realm: opts.realm ?? 'realm1',
      max_retries: 0,
      retry_if_unreachable: false,
      ...opts.extra,
    });
    let opened = false;
    let closedResolve!: (v: { reason: string; details: unknown }) => void;
    const closed = new Promise<{ reason: string; details: unknown }>((r) => { closedResolve = r; });
    connection.onopen = (session) => { opened = true; resolve({ session, connection, closed }); };
    connection.onclose = (reason, details) => {
      closedResolve({ reason, details });
      if (!opened) reject(Object.assign(new Error(`connection closed before open: ${reason} ${details?.reason ?? ''} ${details?.message ?? ''}`), { reason, details }));
      return true; // no reconnect
    };
    connection.open();
  });
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

/** A WebSocket speaking WAMP frames directly (for protocol-violation tests). */
export class RawWamp {
  readonly ws: WebSocket;
  readonly messages: unknown[][] = [];
  private waiters: (() => void)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, protocol: string = 'wamp.2.json', headers?: Record<string, string>) {
    this.ws = new WebSocket(url, protocol, headers !== undefined ? { headers } : {});
    this.opened = new Promise((resolve, reject) => { this.ws.once('open', () => resolve()); this.ws.once('error', reject); });
    this.closed = new Promise((r) => this.ws.on('close', (code, reason) => { r({ code, reason: reason.toString() }); for (const w of this.waiters.splice(0)) w(); }));
    this.ws.on('message', (data) => {
      try { this.messages.push(JSON.parse(data.toString()) as unknown[]); } catch { this.messages.push(['<undecodable>']); }
      for (const w of this.waiters.splice(0)) w();
    });
    this.ws.on('error', () => {});
  }

  send(msg: unknown): void { this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)); }

  /** Waits for the next message of a type (consumes messages before it). */
  async next(type?: number, timeoutMs = 3000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => type === undefined || m[0] === type);
      if (i >= 0) return this.messages.splice(0, i + 1)[i]!;
      if (Date.now() > deadline || this.ws.readyState === WebSocket.CLOSED) throw new Error(`no message of type ${type} within ${timeoutMs} ms (got ${JSON.stringify(this.messages)})`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }

  /** HELLO and wait for WELCOME; returns the session id. */
  async join(realm = 'realm1', details: Record<string, unknown> = { roles: { caller: {}, callee: {}, publisher: {}, subscriber: {} } }): Promise<number> {
    await this.opened;
    this.send([1, realm, details]);
    const w = await this.next(2);
    return w[1] as number;
  }

  close(): void { this.ws.close(); }
}

/** The error a call was refused with (autobahn rejects with {error, args, kwargs}); fails if it succeeded. */
export async function callError(p: Promise<unknown>): Promise<{ error: string; args: unknown[]; kwargs: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { error: string; args: unknown[]; kwargs: Record<string, unknown> };
  }
  throw new Error('expected the call to fail');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` returns truthy, or fails after timeoutMs. */
export async function eventually<T>(fn: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
