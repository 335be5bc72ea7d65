// Test fixtures: the real router with the claw system's config
// (config/claw-router.yaml) on a free loopback port, the real backend on a
// temp SQLite file or a fresh database of a throwaway PostgreSQL cluster
// (pg-cluster.ts), players that get their tickets from POST /api/session and
// log in with them, and a scripted claw node logging in with cryptosign.
// `storeTest` runs one behaviour test against each store.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tap, { type Test } from 'tap';
import type { RawBuilder } from 'kysely';
import { Router, deriveCraKey, fromCrossbar, signTicket, silentLogger as routerSilent } from '@clawgate/router';
import { EventPayload, machineUris, playerTopic, type PlayerMessage, type StatusPayload, type TurnResult } from '@clawgate/protocol';
import { loadClawRouterConfig } from '../src/router-config.js';
import { startBackend, type Backend } from '../src/service.js';
import type { BackendConfigInput } from '../src/config.js';
import { createLogger, silentLogger } from '../src/logger.js';
import { autobahn, provideGlobalWebSocket, type AutobahnConnection, type AutobahnSession } from '@clawgate/runtime';
import type { Store } from '../src/db/store.js';
import { pgUnavailable, sharedCluster, stopSharedCluster } from './pg-cluster.js';

// The test clients use autobahn's default transport (the global WebSocket; Node 20 has none).
provideGlobalWebSocket();

export { autobahn };
export type { AutobahnSession };

export const SECRETS = {
  ticket: 'test-ticket-secret-0123456789abcdef0123456789',
  backendPassword: 'backend-password',
  operatorPassword: 'operator-password',
};

export function routerEnv(): NodeJS.ProcessEnv {
  return {
    CLAWGATE_TICKET_SECRET: SECRETS.ticket,
    CLAWGATE_BACKEND_CRA_KEY: deriveCraKey(SECRETS.backendPassword, 'clawgate-backend', 1000, 32),
    CLAWGATE_OPERATOR_CRA_KEY: deriveCraKey(SECRETS.operatorPassword, 'clawgate-operator', 1000, 32),
  };
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** A small deterministic PRNG (mulberry32), so that a failing seed can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls until `fn` returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(fn: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export interface ClawKey { publicKey: string; privateKey: KeyObject }

export function clawKey(): ClawKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x!;
  return { publicKey: Buffer.from(x, 'base64url').toString('hex'), privateKey };
}

export interface TestRouter {
  router: Router;
  port: number;
  url: string;
  http: string;
  keys: Record<string, ClawKey>;
  stop(): Promise<void>;
}

/** The claw system's router on a free port; `machines` get cryptosign keys. */
export async function startClawRouter(machines: string[], port = 0): Promise<TestRouter> {
  const keys: Record<string, ClawKey> = {};
  for (const m of machines) keys[m] = clawKey();
  const raw = loadClawRouterConfig({ port, claws: Object.fromEntries(machines.map((m) => [m, [keys[m]!.publicKey]])) });
  const router = new Router(fromCrossbar(raw, { env: routerEnv() }).config, { log: routerSilent() });
  await router.start();
  const p = Object.values(router.ports())[0]!;
  return { router, port: p, url: `ws://127.0.0.1:${p}/ws`, http: `http://127.0.0.1:${p}`, keys, stop: () => router.stop(200) };
}

export function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-backend-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const NO_LIMIT = { burst: 1_000_000, perMinute: 6_000_000 };
export const UNLIMITED_GUESTS = { mintPerAddress: NO_LIMIT, mintTotal: NO_LIMIT, requestsPerAddress: NO_LIMIT, queuePlacesPerAddress: 0 };

export type StoreKind = 'sqlite' | 'postgres';
/** A SQLite file, or a PostgreSQL database `{url}`. */
export type TestDatabase = string | { url: string };

/**
 * CI's pass on Node 20 (the core suites again, beside the whole suite on
 * Node 24: .ci/run) runs lean: the PostgreSQL runs, which are the costliest
 * and the same JavaScript on both versions, are left to the full pass.
 */
export const LEAN = process.env.CLAWGATE_TEST_PROFILE === 'lean';
const LEAN_SKIP = 'lean profile (CLAWGATE_TEST_PROFILE=lean): PostgreSQL runs in the full pass';

/** The stores the behaviour tests run against here: SQLite always, PostgreSQL when it can be started. */
export const STORES: StoreKind[] = pgUnavailable() === undefined ? ['sqlite', 'postgres'] : ['sqlite'];

let clusterUsed = false;

/** A fresh database of the kind asked for: a file in a temp folder, or a new database of this file's PostgreSQL cluster. */
export async function testDatabase(t: { teardown(fn: () => void): void }, store: StoreKind): Promise<TestDatabase> {
  if (store === 'sqlite') return join(tempDir(t), 'queue.sqlite');
  if (!clusterUsed) { clusterUsed = true; tap.teardown(() => stopSharedCluster()); }
  return { url: await (await sharedCluster()).createDatabase() };
}

/**
 * The same behaviour test against each store (`name [sqlite]`, `name
 * [postgres]`); the PostgreSQL run is skipped, saying why, where PostgreSQL
 * cannot be started.
 */
export function storeTest(name: string, fn: (t: Test, store: StoreKind) => Promise<void>, o: { stores?: StoreKind[] } = {}): void {
  for (const store of o.stores ?? ['sqlite', 'postgres'] as StoreKind[]) {
    const why = store === 'postgres' ? (LEAN ? LEAN_SKIP : pgUnavailable()) : undefined;
    if (why) tap.test(`${name} [${store}]`, { skip: why }, async () => {});
    else tap.test(`${name} [${store}]`, (t) => fn(t, store));
  }
}

/** Rows of a query on the backend's store (`sql` from kysely; columns come back camelCased). */
export async function query<R = Record<string, unknown>>(b: { store: Store }, q: RawBuilder<R>): Promise<R[]> {
  return (await q.execute(b.store.db)).rows;
}
/** The first column of every row. */
export async function column(b: { store: Store }, q: RawBuilder<unknown>): Promise<unknown[]> {
  return (await query(b, q)).map((r) => Object.values(r as object)[0]);
}
/** The first column of the first row. */
export async function scalar(b: { store: Store }, q: RawBuilder<unknown>): Promise<unknown> {
  return (await column(b, q))[0];
}

export function backendConfig(url: string, db: TestDatabase, extra: Partial<BackendConfigInput> = {}): BackendConfigInput {
  return {
    router: { url, realm: 'claw', auth: { method: 'wampcra', authid: 'backend', secret: SECRETS.backendPassword }, reconnect: { initialDelaySeconds: 0.2, maxDelaySeconds: 1 } },
    database: typeof db === 'string' ? { path: db } : { url: db.url },
    tickets: { secret: SECRETS.ticket },
    defaults: { moveSeconds: 5, readyWindowSeconds: 5, graceSeconds: 5, maxQueue: 50 },
    rateLimit: { calls: 1000, perSeconds: 1 },
    // Every test player comes from 127.0.0.1: the per-address limits are tested on their own (guests.test.ts).
    guests: UNLIMITED_GUESTS,
    logLevel: 'silent',
    ...extra,
  };
}

/** The backend, connected, with POST /api/session mounted on the router's express app. */
export async function startTestBackend(r: TestRouter, db: TestDatabase, extra: Partial<BackendConfigInput> = {}, mount = true): Promise<Backend> {
  const log = process.env.BACKEND_TEST_LOG ? createLogger(process.env.BACKEND_TEST_LOG) : silentLogger();
  const backend = await startBackend(backendConfig(r.url, db, extra), { log });
  if (mount) r.router.app.use(backend.sessionRouter);
  await backend.ready();
  return backend;
}

export interface Opened { session: AutobahnSession; connection: AutobahnConnection; closed: Promise<void>; close(): Promise<void> }

export function open(url: string, extra: Record<string, unknown>): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const connection = new autobahn.Connection({ url, realm: 'claw', max_retries: 0, retry_if_unreachable: false, ...extra });
    let opened = false;
    let done!: () => void;
    const closed = new Promise<void>((r) => { done = r; });
    const close = async () => { try { connection.close(); } catch { /* already closed */ } await closed; };
    connection.onopen = (session) => { opened = true; resolve({ session, connection, closed, close }); };
    connection.onclose = (reason, details) => {
      done();
      if (!opened) reject(new Error(`closed before open: ${reason} ${details?.reason ?? ''} ${details?.message ?? ''}`));
      return true;
    };
    connection.open();
  });
}

/** The WAMP error URI of a rejected call (or 'resolved'). */
export async function errorOf(p: Promise<unknown>): Promise<string> {
  try { await p; return 'resolved'; } catch (e) { return (e as { error?: string }).error ?? String(e); }
}

export class Player {
  readonly messages: PlayerMessage[] = [];
  private conn: Opened | undefined;
  private constructor(readonly http: string, readonly url: string, readonly authid: string, readonly ticket: string, readonly cookie: string, readonly name: string) {}

  /** POST /api/session (with `cookie` when given: a reload), then log in with the ticket. */
  static async join(r: { http: string; url: string }, name: string, cookie?: string): Promise<Player> {
    const res = await fetch(`${r.http}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify({ name }) });
    if (res.status !== 200) throw new Error(`POST /api/session: ${res.status} ${await res.text()}`);
    const body = await res.json() as { authid: string; ticket: string };
    const setCookie = res.headers.get('set-cookie') ?? '';
    const p = new Player(r.http, r.url, body.authid, body.ticket, setCookie.split(';')[0]!, name);
    await p.connect();
    return p;
  }

  /** A player with a ticket signed here (no HTTP), e.g. when the backend runs in another process. */
  static async withTicket(r: { http: string; url: string }, authid: string, name = authid): Promise<Player> {
    const ticket = signTicket({ authid, authrole: 'player', expiresAt: Date.now() + 3_600_000 }, SECRETS.ticket);
    const p = new Player(r.http, r.url, authid, ticket, '', name);
    await p.connect();
    return p;
  }

  get session(): AutobahnSession { return this.conn!.session; }
  get connected(): boolean { return this.conn !== undefined; }

  async connect(): Promise<void> {
    this.conn = await open(this.url, { authmethods: ['ticket'], authid: this.authid, onchallenge: () => this.ticket });
    await this.conn.session.subscribe(playerTopic(this.authid), (args: unknown[] | undefined) => { this.messages.push(args?.[0] as PlayerMessage); });
  }

  /** Another tab: a second session with the same ticket. */
  async secondTab(): Promise<{ session: AutobahnSession; messages: PlayerMessage[]; close(): Promise<void> }> {
    const c = await open(this.url, { authmethods: ['ticket'], authid: this.authid, onchallenge: () => this.ticket });
    const messages: PlayerMessage[] = [];
    await c.session.subscribe(playerTopic(this.authid), (args: unknown[] | undefined) => { messages.push(args?.[0] as PlayerMessage); });
    let closing: Promise<void> | undefined;
    return { session: c.session, messages, close: () => (closing ??= (async () => { try { c.connection.close(); } catch { /* closed */ } await c.closed; })()) };
  }

  call(procedure: string, args: unknown[] = []): Promise<unknown> { return this.session.call(procedure, args); }

  async disconnect(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (!c) return;
    try { c.connection.close(); } catch { return; }
    await c.closed;
  }

  /** Waits for a message matching `pred` that arrived at index ≥ `from`. */
  waitFor<T extends PlayerMessage>(pred: (m: PlayerMessage) => boolean, from = 0, timeoutMs = 15_000, what = 'message'): Promise<T> {
    return eventually(() => this.messages.slice(from).find(pred) as T | undefined, timeoutMs, `${this.name}: ${what} (got ${JSON.stringify(this.messages.slice(from))})`);
  }
  positions(machine: string): number[] {
    return this.messages.filter((m) => m.type === 'position' && m.machine === machine).map((m) => (m as { position: number }).position);
  }
}

export async function connectOperator(url: string): Promise<Opened> {
  return open(url, {
    authmethods: ['wampcra'], authid: 'operator',
    onchallenge: (_s: unknown, _m: string, extra: { challenge: string; salt: string; iterations: number; keylen: number }) => {
      const key = deriveCraKey(SECRETS.operatorPassword, extra.salt, extra.iterations, extra.keylen);
      return (autobahn as unknown as { auth_cra: { sign(k: string, c: string): string } }).auth_cra.sign(key, extra.challenge);
    },
  });
}

export async function connectSpectator(url: string): Promise<Opened> {
  return open(url, {});
}

export interface ClawOptions {
  /** Ends every turn by itself after `resultAfterMs` with this result. */
  autoResult?: TurnResult | ((n: number) => TurnResult);
  resultAfterMs?: number;
  /** Publish `controlled` while a turn runs (a real node does). */
  publishControlled?: boolean;
  /**
   * Behave like a node from before turn ids: events and status carry only the
   * display name (`player`), no `authid` or `turn`.
   */
  legacy?: boolean;
}

/**
 * A claw node that follows the contract with no GPIO: registers start_turn,
 * end_turn and release, keeps a retained status with an offline testament,
 * and ends turns when told (finish) or by itself (autoResult).
 */
export class ScriptedClaw {
  readonly starts: { player: string; moveSeconds: number; name?: string; turn?: number }[] = [];
  readonly ends: string[] = [];
  releases = 0;
  turn: { player: string; name: string; turnId?: number; timer?: NodeJS.Timeout } | undefined;
  private conn: Opened | undefined;

  constructor(readonly r: TestRouter, readonly machine: string, readonly options: ClawOptions = {}) {}

  get session(): AutobahnSession { return this.conn!.session; }

  async start(): Promise<this> {
    const key = this.r.keys[this.machine]!;
    this.conn = await open(this.r.url, {
      authmethods: ['cryptosign'], authid: this.machine, authextra: { pubkey: key.publicKey },
      onchallenge: (_s: unknown, _m: string, extra: { challenge: string }) => sign(null, Buffer.from(extra.challenge, 'hex'), key.privateKey).toString('hex'),
    });
    const s = this.conn.session;
    const uris = machineUris(this.machine);
    await s.call('wamp.session.add_testament', [uris.status, [{ state: 'offline', since: Date.now() }], {}], { publish_options: { retain: true } });
    await s.register(uris.startTurn, (args: unknown[] | undefined) => this.onStart(args?.[0] as { player: string; moveSeconds: number; name?: string; turn?: number }));
    await s.register(uris.endTurn, (args: unknown[] | undefined) => {
      const reason = (args?.[0] as { reason: string }).reason;
      this.ends.push(reason);
      const ended = this.turn !== undefined;
      if (ended) this.finish(reason as TurnResult);
      return { machine: this.machine, ended };
    });
    await s.register(`claw.machine.${this.machine}.release`, () => { this.releases++; return { released: true }; });
    await this.status('ready');
    return this;
  }

  async status(state: StatusPayload['state'], player?: string, whose: { authid?: string; turn?: number } = {}): Promise<void> {
    await this.session.publish(machineUris(this.machine).status, [{ state, since: Date.now(), ...(player ? { player } : {}), ...whose }], {}, { retain: true, acknowledge: true });
  }

  /** What this node's events and `controlled` status say about whose turn it is (nothing but the name when legacy). */
  whose(turn: { player: string; turnId?: number }): { authid?: string; turn?: number } {
    if (this.options.legacy) return {};
    return { authid: turn.player, ...(turn.turnId !== undefined ? { turn: turn.turnId } : {}) };
  }

  /** Publishes a node event as this node (the session the router lets publish on the machine's events topic). */
  async event(e: Record<string, unknown>): Promise<void> {
    await this.session.publish(machineUris(this.machine).events, [{ machine: this.machine, at: Date.now(), ...e }], {}, { acknowledge: true });
  }

  private onStart(a: { player: string; moveSeconds: number; name?: string; turn?: number }): { topic: string; endsAt: number } {
    if (this.turn) throw new autobahn.Error('claw.error.machine_busy', ['busy']);
    this.starts.push(a);
    const name = a.name ?? a.player;
    this.turn = { player: a.player, name, turnId: a.turn };
    if (this.options.publishControlled !== false) void this.status('controlled', name, this.whose(this.turn));
    void this.session.publish(machineUris(this.machine).events, [{ type: 'turn_started', machine: this.machine, player: name, ...this.whose(this.turn), at: Date.now() }]);
    const auto = this.options.autoResult;
    if (auto) {
      const result = typeof auto === 'function' ? auto(this.starts.length) : auto;
      const turn = this.turn;
      turn.timer = setTimeout(() => { if (this.turn === turn) this.finish(result); }, this.options.resultAfterMs ?? 20);
    }
    return { topic: machineUris(this.machine).control(a.player), endsAt: Date.now() + a.moveSeconds * 1000 };
  }

  /** Ends the turn with `result`: turn_ended, then `ready`. */
  finish(result: TurnResult): void {
    const turn = this.turn;
    if (!turn) throw new Error('no turn');
    clearTimeout(turn.timer);
    this.turn = undefined;
    const event: EventPayload = { type: 'turn_ended', machine: this.machine, player: turn.name, ...this.whose(turn), result, at: Date.now() };
    void this.session.publish(machineUris(this.machine).events, [event]);
    void this.status('ready');
  }

  /** The node's session ends (its testament publishes `offline`). */
  async stop(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (this.turn) clearTimeout(this.turn.timer);
    this.turn = undefined;
    if (!c) return;
    try { c.connection.close(); } catch { return; }
    await c.closed;
  }
}

/** Router, backend on a fresh database of `store` (SQLite unless said), and scripted claws, torn down with the test. */
export async function setup(t: { teardown(fn: () => unknown): void }, machines: string[], o: { backend?: Partial<BackendConfigInput>; claw?: ClawOptions; store?: StoreKind } = {}) {
  const dir = tempDir(t);
  const db = await testDatabase(t, o.store ?? 'sqlite');
  const r = await startClawRouter(machines);
  t.teardown(() => r.stop());
  const claws: Record<string, ScriptedClaw> = {};
  for (const m of machines) { claws[m] = await new ScriptedClaw(r, m, o.claw).start(); }
  t.teardown(async () => { for (const c of Object.values(claws)) await c.stop(); });
  const backend = await startTestBackend(r, db, o.backend);
  t.teardown(() => backend.stop());
  const players: Player[] = [];
  t.teardown(async () => { for (const p of players) await p.disconnect(); });
  const player = async (name: string) => { const p = await Player.join(r, name); players.push(p); return p; };
  return { r, backend, claws, db, dir, player };
}
