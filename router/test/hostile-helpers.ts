// Shared by the hostile-client suites (hostile-*.test.ts, issue 13): a real
// router on a real port whose pino output is captured (bytes and lines, at
// the production level), a probe of the event loop's longest stall, a
// session whose round trips are timed while an attack runs, and the heap.
//
// The router runs in the test's own process, so a stall of its event loop
// is a stall of the probe's. Stalls and round trips are measured as busy
// time: the wall time, capped by the CPU time this process spent meanwhile.
// A router blocked on an attacker's frame burns CPU for as long as it blocks
// (so the measure still catches it), while the time the OS hands to the
// other test files on CI's two cores is not the router's doing: measured as
// wall time alone, a 300 ms decode once read 1.3 s under CI's load.
import { Writable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import nacl from 'tweetnacl';
import { signTicket } from '../src/auth/signed-ticket.js';
import { craSignature } from '../src/auth/wampcra-auth.js';
import { Router } from '../src/router.js';
import { fromCrossbar } from '../src/config/crossbar-config.js';
import { Wire } from './wire.js';

export const ALLOW_ALL = [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } }];

export interface LogLine { level: number; msg: string; [k: string]: unknown }

export interface HostileRouter {
  router: Router;
  port: number;
  /** Every pino line the router wrote (level info and up, as in production). */
  logs: LogLine[];
  /** Bytes of log written so far. */
  logBytes(): number;
  stop(): Promise<void>;
}

export async function startHostileRouter(config: unknown, env?: Record<string, string>): Promise<HostileRouter> {
  const logs: LogLine[] = [];
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  const { config: rc } = fromCrossbar(config, env !== undefined ? { env } : {});
  const router = new Router(rc, { log: pino({ level: 'info' }, sink) });
  await router.start();
  const port = Object.values(router.ports())[0]!;
  return { router, port, logs, logBytes: () => bytes, stop: () => router.stop(200) };
}

/** CPU time (ms) this process has used so far, all threads. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Busy time (ms) of what runs between two readings: the wall time, capped by
 * the CPU time the process used meanwhile (see the note at the top).
 */
export function busyClock(): () => number {
  const wall0 = performance.now();
  const cpu0 = cpuMs();
  return () => Math.min(performance.now() - wall0, cpuMs() - cpu0);
}

/**
 * The longest event-loop stall (ms, busy time) between start and stop: a
 * 5 ms timer, and the longest gap between its ticks.
 */
export function stallMonitor(): { stop(): number } {
  let max = 0;
  let since = busyClock();
  const tick = (): void => {
    max = Math.max(max, since());
    since = busyClock();
  };
  const timer = setInterval(tick, 5);
  return {
    stop(): number {
      clearInterval(timer);
      tick();
      return max;
    },
  };
}

// A full collection before each reading, so that what is measured is what the router holds, not
// garbage not yet collected (a flood of 200 KiB URIs leaves 100+ MiB of it).
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** The V8 heap in use after a full collection. */
export function heapUsed(): number {
  gc();
  return v8.getHeapStatistics().used_heap_size;
}

export const MiB = 1024 * 1024;

/**
 * A joined session that calls wamp.session.count back to back until `done`
 * settles; resolves with the longest round trip (ms, busy time) and how many
 * it made.
 */
export async function probeWhile(port: number, done: Promise<unknown>, realm = 'realm1'): Promise<{ maxMs: number; calls: number }> {
  const w = await Wire.open({ kind: 'ws', port, serializer: 'json' });
  await w.join(realm);
  let finished = false;
  void done.finally(() => { finished = true; });
  let maxMs = 0;
  let calls = 0;
  let req = 1;
  while (!finished) {
    const busy = busyClock();
    const res = await w.call(req++, 'wamp.session.count', [], 30_000);
    if (res[0] !== 50) throw new Error(`probe call failed: ${JSON.stringify(res).slice(0, 200)}`);
    maxMs = Math.max(maxMs, busy());
    calls++;
    await new Promise((r) => setTimeout(r, 2));
  }
  w.close();
  return { maxMs, calls };
}

/** `n` distinct loopback addresses other than 127.0.0.1 (Linux routes all of 127/8 to lo). */
export function loopbackAddresses(n: number, from = 2): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${from + i}`);
}

// ---- the claw system's own router config (config/claw-router.yaml) ---------

export const CLAW_ENV = {
  CLAWGATE_TICKET_SECRET: 'hostile-test-ticket-secret-0123456789abcdef',
  CLAWGATE_BACKEND_CRA_KEY: 'hostile-backend-derived-key',
  CLAWGATE_OPERATOR_CRA_KEY: 'hostile-operator-derived-key',
};

/** Claw nodes of the test config: machine id → Ed25519 key pair. */
export const CLAW_KEYS: Record<string, nacl.SignKeyPair> = {
  m1: nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(1)),
  m2: nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(2)),
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * config/claw-router.yaml as shipped, on a free port, with the test's claw
 * principals; `edit` may change the parsed YAML (e.g. a smaller max_sessions
 * so that a test can fill the realm) before it is loaded.
 */
export function clawConfig(edit: (raw: Json) => void = () => {}): unknown {
  const raw = parseYaml(readFileSync(fileURLToPath(new URL('../../config/claw-router.yaml', import.meta.url)), 'utf8')) as Json;
  const t = raw.workers[0].transports[0];
  t.endpoint.port = 0;
  const principals = Object.fromEntries(Object.entries(CLAW_KEYS).map(([id, k]) => [id, { authorized_keys: [Buffer.from(k.publicKey).toString('hex')], role: 'claw', realm: 'claw' }]));
  for (const auth of [t.rawsocket.auth, t.websocket.ws.auth]) auth.cryptosign = { ...auth.cryptosign, principals };
  edit(raw);
  return raw;
}

export async function startClawRouter(edit?: (raw: Json) => void): Promise<HostileRouter> {
  return startHostileRouter(clawConfig(edit), CLAW_ENV);
}

const HELLO_ROLES = { caller: {}, callee: {}, publisher: {}, subscriber: {} };

/** Logs in over `wire` (HELLO … WELCOME) as the claw system's roles do; resolves with WELCOME or the ABORT. */
export async function clawLogin(wire: Wire, who: { role: 'spectator' } | { role: 'player'; authid: string } | { role: 'backend' | 'operator' } | { role: 'claw'; authid: string }): Promise<unknown[]> {
  if (who.role === 'spectator') {
    wire.send([1, 'claw', { roles: HELLO_ROLES }]);
    return wire.next(undefined, 10_000);
  }
  if (who.role === 'player') {
    const ticket = signTicket({ authid: who.authid, authrole: 'player', expiresAt: Date.now() + 3_600_000 }, CLAW_ENV.CLAWGATE_TICKET_SECRET);
    wire.send([1, 'claw', { roles: HELLO_ROLES, authmethods: ['ticket'], authid: who.authid }]);
    const ch = await wire.next(undefined, 10_000);
    if (ch[0] !== 4) return ch;
    wire.send([5, ticket, {}]);
    return wire.next(undefined, 10_000);
  }
  if (who.role === 'claw') {
    const keys = CLAW_KEYS[who.authid]!;
    wire.send([1, 'claw', { roles: HELLO_ROLES, authmethods: ['cryptosign'], authid: who.authid, authextra: { pubkey: Buffer.from(keys.publicKey).toString('hex') } }]);
    const ch = await wire.next(undefined, 10_000);
    if (ch[0] !== 4) return ch;
    const challenge = Buffer.from((ch[2] as { challenge: string }).challenge, 'hex');
    wire.send([5, Buffer.from(nacl.sign.detached(challenge, keys.secretKey)).toString('hex'), {}]);
    return wire.next(undefined, 10_000);
  }
  const secret = who.role === 'backend' ? CLAW_ENV.CLAWGATE_BACKEND_CRA_KEY : CLAW_ENV.CLAWGATE_OPERATOR_CRA_KEY;
  wire.send([1, 'claw', { roles: HELLO_ROLES, authmethods: ['wampcra'], authid: who.role }]);
  const ch = await wire.next(undefined, 10_000);
  if (ch[0] !== 4) return ch;
  wire.send([5, craSignature(secret, (ch[2] as { challenge: string }).challenge), {}]);
  return wire.next(undefined, 10_000);
}
