// Fixtures for the integration tests: a real router on a loopback port with
// the claw realm's roles, real autobahn clients, and polling helpers.
// (Copied in spirit from router/test/helpers.ts; tests import nothing from there.)
import { Router, fromCrossbar, signTicket, silentLogger } from '@clawgate/router';
import type { ClawNodeConfigInput } from '../src/config.js';
import { autobahn, provideGlobalWebSocket, type AutobahnConnection, type AutobahnSession } from '@clawgate/runtime';

// The test clients use autobahn's default transport (the global WebSocket; Node 20 has none).
provideGlobalWebSocket();

export { autobahn };

export const TICKET_SECRET = 'claw-node-test-secret';

/** Permissions as the contract's table says; the claw and backend paths log in anonymously with a fixed role (tests only). */
export function clawRealmConfig(port = 0): unknown {
  const allow = (o: Partial<Record<'call' | 'register' | 'publish' | 'subscribe', boolean>>) => ({ call: false, register: false, publish: false, subscribe: false, ...o });
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'claw',
        roles: [
          {
            name: 'claw',
            permissions: [
              { uri: 'claw.machine.', match: 'prefix', allow: allow({ register: true, publish: true, subscribe: true }), disclose: { caller: false, publisher: false } },
              { uri: 'wamp.session.add_testament', match: 'exact', allow: allow({ call: true }) },
              { uri: 'wamp.session.flush_testaments', match: 'exact', allow: allow({ call: true }) },
              { uri: 'claw.video.source', match: 'exact', allow: allow({ call: true }), disclose: { caller: true } },
            ],
          },
          {
            name: 'player',
            permissions: [
              // the router must disclose who publishes commands: the node trusts nothing else
              { uri: 'claw.machine.', match: 'prefix', allow: allow({ publish: true, subscribe: true }), disclose: { caller: true, publisher: true } },
            ],
          },
          {
            name: 'backend',
            permissions: [{ uri: '', match: 'prefix', allow: allow({ call: true, register: true, publish: true, subscribe: true }), disclose: { caller: true, publisher: true } }],
          },
        ],
      }],
      transports: [{
        type: 'universal', id: 'test',
        endpoint: { type: 'tcp', port, interface: '127.0.0.1' },
        websocket: {
          claw: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'claw' } } },
          backend: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'backend' } } },
          // players log in with signed guest tickets, as from the backend's POST /api/session
          player: { type: 'websocket', auth: { ticket: { type: 'static', signed: { secret: TICKET_SECRET, roles: ['player'] } } } },
        },
        web: { paths: {} },
      }],
    }],
  };
}

export interface RunningRouter { router: Router; port: number; stop(): Promise<void> }

export async function startRouter(port = 0): Promise<RunningRouter> {
  const router = new Router(fromCrossbar(clawRealmConfig(port)).config, { log: silentLogger() });
  await router.start();
  const actual = Object.values(router.ports())[0]!;
  return { router, port: actual, stop: () => router.stop(200) };
}

export interface Client { session: AutobahnSession; connection: AutobahnConnection; closed: Promise<string> }

/** An autobahn client on one of the test paths; resolves on WELCOME. */
export function connect(port: number, path: 'claw' | 'backend' | 'player'): Promise<Client> {
  return new Promise((resolve, reject) => {
    const connection = new autobahn.Connection({
      transports: [{ type: 'websocket', url: `ws://127.0.0.1:${port}/${path}` }],
      realm: 'claw', max_retries: 0, retry_if_unreachable: false, use_es6_promises: true,
    });
    let opened = false;
    let closedResolve!: (r: string) => void;
    const closed = new Promise<string>((r) => { closedResolve = r; });
    connection.onopen = (session) => { opened = true; resolve({ session, connection, closed }); };
    connection.onclose = (reason, details) => {
      closedResolve(reason);
      if (!opened) reject(new Error(`closed before open: ${reason} ${details?.reason ?? ''} ${details?.message ?? ''}`));
      return true;
    };
    connection.open();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until fn returns something truthy; generous default for a loaded 2-core machine. */
export async function eventually<T>(fn: () => T | undefined | false | null, what = 'condition', timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/**
 * Longer than the protocol's 600 ms: this shared test machine stalls whole
 * processes for up to ~1 s, which would let the dead man cut refreshed holds.
 */
export const HOLD_TIMEOUT_MS = 2000;

/** Fast timings and a fast simulated cabinet, so a whole turn takes a few seconds. */
export function fastNodeConfig(port: number, machine: string, extra: Partial<ClawNodeConfigInput> = {}): ClawNodeConfigInput {
  return {
    router: { url: `ws://127.0.0.1:${port}/claw`, realm: 'claw', auth: 'anonymous' },
    machine,
    driver: 'simulated',
    timings: { coinPulseMs: 50, coinGapMs: 100, dropPulseMs: 50, dropGapMs: 200, holdTimeoutMs: HOLD_TIMEOUT_MS, dropCycleSeconds: 2, prizeWindowSeconds: 1.5, prizeDebounceMs: 20 },
    simulator: { seed: 3, speed: 1, lowerMs: 150, grabMs: 50, raiseMs: 150, releaseMs: 50, prizePulseMs: 100 },
    reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
    logLevel: 'silent',
    ...extra,
  };
}

/** A player over a real WebSocket, logged in with a signed ticket for `authid`. */
export interface Player {
  authid: string;
  publish(topic: string, args: unknown[]): Promise<void>;
  /** Publishes args and kwargs exactly as given (acknowledged), e.g. junk. */
  raw(topic: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<void>;
  /** Leaves with GOODBYE. */
  close(): void;
  /** Drops the WebSocket without GOODBYE, as a dying browser tab or network would. */
  die(): void;
}

export async function player(port: number, authid: string): Promise<Player> {
  const ticket = signTicket({ authid, authrole: 'player', expiresAt: Date.now() + 3_600_000 }, TICKET_SECRET);
  const c = await new Promise<Client>((resolve, reject) => {
    const connection = new autobahn.Connection({
      transports: [{ type: 'websocket', url: `ws://127.0.0.1:${port}/player` }],
      realm: 'claw', max_retries: 0, retry_if_unreachable: false, use_es6_promises: true,
      authmethods: ['ticket'], authid, onchallenge: () => ticket,
    });
    let opened = false;
    let closedResolve!: (r: string) => void;
    const closed = new Promise<string>((r) => { closedResolve = r; });
    connection.onopen = (session) => { opened = true; resolve({ session, connection, closed }); };
    connection.onclose = (reason, details) => {
      closedResolve(reason);
      if (!opened) reject(new Error(`player ${authid} closed before open: ${reason} ${details?.reason ?? ''} ${details?.message ?? ''}`));
      return true;
    };
    connection.open();
  });
  let gone = false;
  return {
    authid,
    async publish(topic, args) {
      if (gone) return;
      await c.session.publish(topic, args, {}, { acknowledge: true });
    },
    async raw(topic, args, kwargs) {
      if (gone) return;
      await c.session.publish(topic, args, kwargs ?? {}, { acknowledge: true });
    },
    close() { if (!gone) { gone = true; c.connection.close(); } },
    die() {
      if (gone) return;
      gone = true;
      (c.connection as unknown as { _transport: { close(code: number, reason: string): void } })._transport.close(1000, 'gone');
    },
  };
}
