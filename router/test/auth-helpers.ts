// Fixtures for the authentication and authorization tests: a router whose
// log lines are captured, a config with an `auth` section on every endpoint,
// and autobahn logins that report ABORT reasons.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Router } from '../src/router.js';
import { fromCrossbar } from '../src/config/crossbar-config.js';
import type { SecretSources } from '../src/config/auth-config.js';
import { autobahn, type AutobahnConnection, type AutobahnSession } from './helpers.js';

export { autobahn };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const ab = autobahn as any;

export const allowAll = { call: true, register: true, publish: true, subscribe: true };
export const noDisclose = { caller: false, publisher: false };

export interface LogLine { level: number; msg: string; [k: string]: unknown }

/** One realm `realm1`, a universal listener on port 0 whose WebSocket path `/ws` and RawSocket use `auth`. */
export function authConfig(opts: { auth?: unknown; roles?: unknown[]; realms?: unknown[]; extraRealms?: unknown[]; options?: Record<string, unknown> }): unknown {
  const roles = opts.roles ?? [
    { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: noDisclose }] },
    { name: 'user', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: noDisclose }] },
    { name: 'admin', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: noDisclose }] },
  ];
  const endpoint = { ...(opts.auth !== undefined ? { auth: opts.auth } : {}), ...(opts.options ? { options: opts.options } : {}) };
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [...opts.realms ?? [{ name: 'realm1', roles }], ...opts.extraRealms ?? []],
      transports: [{
        type: 'universal', id: 'test',
        endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' },
        rawsocket: { ...endpoint },
        websocket: { ws: { type: 'websocket', ...endpoint } },
        web: { paths: {} },
      }],
    }],
  };
}

export interface AuthRouter {
  router: Router;
  port: number;
  url: string;
  logs: LogLine[];
  stop(): Promise<void>;
}

/** A real router on a free port; its pino lines (level info and up) land in `logs`. */
export async function startAuthRouter(config: unknown, src: SecretSources = {}): Promise<AuthRouter> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const { config: rc } = fromCrossbar(config, src);
  const router = new Router(rc, { log });
  await router.start();
  const port = Object.values(router.ports())[0]!;
  return { router, port, url: `ws://127.0.0.1:${port}/ws`, logs, stop: () => router.stop(200) };
}

export interface Login {
  session: AutobahnSession;
  connection: AutobahnConnection;
  /** WELCOME.Details as autobahn saw them. */
  details: Record<string, unknown>;
}

export interface LoginOptions {
  realm?: string;
  rawsocket?: boolean;
  serializer?: 'json' | 'msgpack' | 'cbor';
  url?: string;
}

function serializerFor(name: 'json' | 'msgpack' | 'cbor'): unknown {
  if (name === 'json') return new ab.serializer.JSONSerializer();
  if (name === 'msgpack') return new ab.serializer.MsgpackSerializer();
  return new ab.serializer.CBORSerializer();
}

/**
 * Logs in with autobahn (`extra` goes into the Connection options: authmethods,
 * authid, authextra, onchallenge). Resolves on WELCOME with its details;
 * rejects on ABORT with `.details` {reason, message}.
 */
export function login(port: number, extra: Record<string, unknown>, opts: LoginOptions = {}): Promise<Login> {
  return new Promise((resolve, reject) => {
    const transport = opts.rawsocket
      ? { type: 'rawsocket', host: '127.0.0.1', port }
      : { type: 'websocket', url: opts.url ?? `ws://127.0.0.1:${port}/ws`, serializers: [serializerFor(opts.serializer ?? 'json')] };
    const connection = new ab.Connection({
      transports: [transport], realm: opts.realm ?? 'realm1', max_retries: 0, retry_if_unreachable: false, ...extra,
    }) as AutobahnConnection;
    let opened = false;
    connection.onopen = (session, details) => { opened = true; resolve({ session, connection, details: details as Record<string, unknown> }); };
    connection.onclose = (reason, details) => {
      if (!opened) reject(Object.assign(new Error(`closed before WELCOME: ${reason} ${details?.reason ?? ''} ${details?.message ?? ''}`), { reason, details }));
      return true;
    };
    connection.open();
  });
}

/** Logs in with `connection` built elsewhere (autobahn's auth_cryptosign.create_connection). */
export function openConnection(connection: AutobahnConnection): Promise<Login> {
  return new Promise((resolve, reject) => {
    let opened = false;
    connection.onopen = (session, details) => { opened = true; resolve({ session, connection, details: details as Record<string, unknown> }); };
    connection.onclose = (reason, details) => {
      if (!opened) reject(Object.assign(new Error(`closed before WELCOME: ${reason} ${details?.reason ?? ''} ${details?.message ?? ''}`), { reason, details }));
      return true;
    };
    connection.open();
  });
}

/** The ABORT a login attempt ends with (reason 'WELCOMED' if it was let in). */
export async function refused(port: number, extra: Record<string, unknown>, opts: LoginOptions = {}): Promise<{ reason: string; message: string }> {
  try {
    const l = await login(port, extra, opts);
    l.connection.close();
    return { reason: 'WELCOMED', message: `unexpectedly welcomed as ${String(l.details.authid)}/${String(l.details.authrole)}` };
  } catch (e) {
    const d = (e as { details?: { reason?: string; message?: string } }).details ?? {};
    return { reason: d.reason ?? 'none', message: d.message ?? '' };
  }
}

/** Closes autobahn connections at the end of a test. */
export function closeAll(...logins: (Login | { connection: AutobahnConnection } | undefined)[]): void {
  for (const l of logins) { try { l?.connection.close(); } catch { /* already closed */ } }
}
