// Shared test fixtures: a real router on a real loopback port, real
// autobahn-js clients, and the waits and checks every suite uses. The
// wire-level client (raw frames, for protocol abuse and exact shapes) is
// wire.ts.
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { freePort } from '@clawgate/runtime/free-port';
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

/** A port nobody listens on right now (bind port 0, read it, close). */
/**
 * A child spawned `detached` (a process group of its own, so that kill(-pid)
 * reaches a launcher and its child) is not ended with the test process: if
 * tap ends a test file before its teardowns run (a timeout), the group would
 * live on and load the machine for the rest of the run. It is killed when
 * this process exits.
 */
export function killGroupOnExit(child: { pid?: number | undefined; once(event: 'exit', fn: () => void): unknown }): void {
  const kill = (): void => { try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

/** A free loopback port, outside the kernel's ephemeral range (@clawgate/runtime: why). */
export { freePort };

// ---- waiting and failing ---------------------------------------------------

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` returns something truthy, and returns it; fails after timeoutMs. */
export async function eventually<T>(fn: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Resolves like `p`, or rejects after `ms` (so a missing answer or close fails fast instead of hanging). */
export function within<T>(p: Promise<T>, ms = 5000, what = 'promise'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what} not settled within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

export interface CallFailure { error: string; args: unknown[]; kwargs: Record<string, unknown> }

/**
 * The WAMP error a call (publish, subscribe, ...) was refused with: autobahn
 * rejects with {error, args, kwargs}, a LocalSession with a WampError
 * {uri, args, kwargs}. Fails if it succeeded, and passes on any other failure.
 */
export async function callError(p: Promise<unknown>): Promise<CallFailure> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    const err = e as { error?: unknown; uri?: unknown; args?: unknown[]; kwargs?: Record<string, unknown> };
    const error = typeof err.error === 'string' ? err.error : typeof err.uri === 'string' ? err.uri : undefined;
    if (error === undefined) throw e;
    return { error, args: err.args ?? [], kwargs: err.kwargs ?? {} };
  }
  throw new Error(`expected a WAMP error, got success: ${JSON.stringify(value)}`);
}

/** The WAMP error URI a call was refused with, or 'resolved' (for asserting either outcome). */
export async function errorOf(p: Promise<unknown>): Promise<string> {
  try { await p; return 'resolved'; } catch (e) { return (e as { error?: string }).error ?? String(e); }
}
