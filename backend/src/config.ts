// The backend's config: one JSON or YAML file (or an object for embedders),
// validated once here. An error names the exact key (`router.auth.secret`).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Defaults, REALM, isUriComponent } from '@clawgate/protocol';
import { TrustedProxies } from '@clawgate/router';
import { VideoSection, type VideoConfig } from './video/config.js';

export class BackendConfigError extends Error {
  constructor(readonly path: string, problem: string) {
    super(path ? `invalid config at ${path}: ${problem}` : `invalid config: ${problem}`);
    this.name = 'BackendConfigError';
  }
}

/** A secret inline, from an environment variable, or from a file (the router's config accepts the same forms). */
const Secret = z.union([
  z.string().min(1),
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof Secret>;

const Auth = z.discriminatedUnion('method', [
  z.object({ method: z.literal('anonymous') }).strict(),
  z.object({ method: z.literal('ticket'), authid: z.string().min(1).optional(), ticket: Secret }).strict(),
  z.object({ method: z.literal('wampcra'), authid: z.string().min(1), secret: Secret }).strict(),
]);

const Seconds = z.number().positive();

/** A token bucket: `burst` at once, refilled at `perMinute`. */
const Bucket = (burst: number, perMinute: number) => z.object({
  burst: z.number().int().positive().max(1_000_000).default(burst),
  perMinute: z.number().positive().max(6_000_000).default(perMinute),
}).strict().default({});

const MachineSettings = z.object({
  moveSeconds: Seconds.max(600).optional(),
  readyWindowSeconds: Seconds.max(3600).optional(),
  graceSeconds: z.number().nonnegative().max(86_400).optional(),
  maxQueue: z.number().int().positive().max(100_000).optional(),
}).strict();
export type MachineSettingsPatch = z.infer<typeof MachineSettings>;

const Guests = z.object({
  /** New identities per client address (IPv6: per /64). */
  mintPerAddress: Bucket(20, 10),
  /** New identities from all addresses together. */
  mintTotal: Bucket(200, 1200),
  /** Every POST /api/session (new, renewed or renamed) per client address. */
  requestsPerAddress: Bucket(30, 60),
  /** Client addresses whose buckets are kept (least recently seen dropped first). */
  maxTrackedAddresses: z.number().int().positive().max(10_000_000).default(10_000),
  /** A player row unused this long (no POST /api/session, no session on the router, not queued) is deleted. */
  expireAfterSeconds: z.number().int().positive().max(365 * 86_400).default(86_400),
  sweepIntervalSeconds: z.number().positive().max(86_400).default(300),
  /** Rows looked at per sweep step (each step is one short transaction). */
  sweepBatch: z.number().int().positive().max(100_000).default(500),
  /**
   * Places in one machine's queue held by guests minted from the same client
   * address (IPv6: /64). 0 = no quota. Players behind one NAT share it.
   */
  queuePlacesPerAddress: z.number().int().nonnegative().max(100_000).default(10),
}).strict().default({});

/** Players away, and the system coming back (docs/backend.md#players-away-and-restarts). */
const PresenceSettings = z.object({
  /**
   * After the backend (re)connects to the router, players have this long to
   * come back before the ready rules apply to them as usual: an absent
   * player's ready check does not run out within it, and one who comes back
   * within it gets a fresh ready window (once per ready check). 0: off.
   */
  recoveryWindowSeconds: z.number().nonnegative().max(3600).default(60),
  /**
   * A player in control whose sessions are all gone this long loses the turn
   * (ended `skipped`, reason `gone`), so the next player need not wait out the
   * turn timer. 0: at once.
   */
  turnGraceSeconds: z.number().nonnegative().max(600).default(15),
}).strict().default({});

/** claw.admin.kick's block against rejoining. */
const Kicks = z.object({
  /** Longest block an operator may give (minutes). */
  maxBlockMinutes: z.number().positive().max(525_600).default(1440),
  /** Blocks kept at most (expired ones are dropped first, then those ending soonest). */
  maxBlocks: z.number().int().positive().max(10_000_000).default(10_000),
}).strict().default({});

/**
 * Where the queues live: `path` (SQLite, one backend per file) or `url`
 * (PostgreSQL, any number of backends). Exactly one of the two.
 */
const Database = z.object({
  path: z.string().min(1).optional(),
  url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL').optional(),
  /** PostgreSQL: the password (else the URL's, or PGPASSWORD, as libpq does). */
  password: Secret.optional(),
  /** PostgreSQL: connections per instance. */
  poolSize: z.number().int().min(2).max(200).default(10),
  /** PostgreSQL: any statement (a wait for a machine's row lock included) fails after this. */
  statementTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
  /** PostgreSQL: connecting fails after this. */
  connectTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
}).strict().superRefine((d, ctx) => {
  if ((d.path === undefined) === (d.url === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: d.path === undefined ? ['path'] : ['url'], message: 'give either path (SQLite) or url (PostgreSQL), not both' });
  }
  if (d.path !== undefined && d.password !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['password'], message: 'only for PostgreSQL (url)' });
});

/** Several backends on one realm (PostgreSQL): who runs each machine's turns and timers. */
const Cluster = z.object({
  /**
   * How long a machine's lease lasts unless its owner renews it (every third
   * of it). An owner that dies or leaves the router is replaced at once; one
   * that hangs, or loses the database, after at most this (plus a renewal).
   */
  leaseSeconds: z.number().min(1).max(60).default(3),
}).strict().default({});

/** What claw.admin.turns can show besides turns. */
const History = z.object({
  /** Removals (no-shows, kicks, grace expiries) kept; the oldest go first. */
  maxRemovals: z.number().int().positive().max(10_000_000).default(10_000),
}).strict().default({});

const Schema = z.object({
  router: z.object({
    url: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL'),
    realm: z.string().min(1).default(REALM),
    auth: Auth.default({ method: 'anonymous' }),
    /** Reconnect backoff (the link's, @clawgate/runtime; ±10 % jitter). */
    reconnect: z.object({
      initialDelaySeconds: z.number().positive().default(0.5),
      maxDelaySeconds: z.number().positive().default(10),
      growth: z.number().min(1).default(1.5),
    }).strict().default({}),
    /**
     * Largest message the backend accepts from the router (bytes, after any
     * decompression); a larger one closes the connection and the backend
     * reconnects. The router's own cap (max_message_size, 256 KiB by default)
     * is what normally stops bigger ones.
     */
    maxMessageBytes: z.number().int().min(4096).max(16 * 1024 * 1024).default(1024 * 1024),
    /** Timeout of the backend's calls to claw nodes and the meta API. */
    callTimeoutMs: z.number().int().positive().default(10_000),
  }).strict(),
  database: Database,
  cluster: Cluster,
  tickets: z.object({
    /** The signing secret shared with the router's `auth.ticket.signed.secret`. */
    secret: Secret,
    ttlSeconds: z.number().int().positive().max(7 * 86_400).default(4 * 3600),
    /**
     * Grace: a validly signed cookie ticket that expired at most this long ago
     * still renews to the same authid (a page whose ticket ran out while it
     * was open). Short: a captured ticket must not stay useful for long.
     */
    renewWindowSeconds: z.number().int().nonnegative().max(7 * 86_400).default(600),
    /** A chain of renewals ends this long after its first ticket: then the player gets a new identity. */
    maxChainSeconds: z.number().int().positive().max(365 * 86_400).default(86_400),
    cookieName: z.string().regex(/^[A-Za-z0-9_-]+$/).default('clawgate_ticket'),
    /** `auto`: Secure when the request came over TLS (or a proxy said so with X-Forwarded-Proto, if express trusts it). */
    cookieSecure: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  }).strict(),
  /** Serve POST /api/session on an own port as well (the launcher mounts the router instead). */
  http: z.object({
    port: z.number().int().min(0).max(65535),
    host: z.string().default('127.0.0.1'),
    /**
     * Reverse proxies whose X-Forwarded-For is believed (CIDR networks,
     * addresses, `loopback`, `private`), as the router's `trusted_proxies`.
     */
    trustedProxies: z.array(z.string().min(1)).max(1000).default([]),
    /** The whole request, headers and body, must arrive within this (then 408 and close). */
    requestTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** The headers must arrive within this. */
    headersTimeoutMs: z.number().int().min(100).max(300_000).default(5_000),
    /** A connection with no traffic (between keep-alive requests, or a stalled request) is closed after this. */
    idleTimeoutMs: z.number().int().min(100).max(300_000).default(5_000),
    /** Open connections at most; further ones are closed at once. */
    maxConnections: z.number().int().positive().max(1_000_000).default(256),
  }).strict().optional(),
  defaults: MachineSettings.default({}),
  /** Per-machine settings; an operator's claw.admin.settings overrides them. */
  machines: z.record(z.string().refine(isUriComponent, 'machine ids are 1–64 of [0-9a-z_-]'), MachineSettings).default({}),
  rateLimit: z.object({
    calls: z.number().int().positive().default(30),
    perSeconds: z.number().positive().default(10),
  }).strict().default({}),
  /** Guest identities minted by POST /api/session: rate, lifetime, and their share of queues. */
  guests: Guests,
  presence: PresenceSettings,
  kicks: Kicks,
  history: History,
  /** Live video through Janus (docs/backend.md "Live video"); absent: no video service. */
  video: VideoSection.optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
}).strict().superRefine((c, ctx) => {
  // A valid ticket must always find its player row (name, minting address):
  // rows live longer than a ticket plus its renewal grace.
  const minimum = c.tickets.ttlSeconds + c.tickets.renewWindowSeconds;
  if (c.guests.expireAfterSeconds <= minimum) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['guests', 'expireAfterSeconds'], message: `must be more than tickets.ttlSeconds + tickets.renewWindowSeconds (${minimum})` });
  }
  if (c.http && c.http.headersTimeoutMs > c.http.requestTimeoutMs) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['http', 'headersTimeoutMs'], message: `must not be more than http.requestTimeoutMs (${c.http.requestTimeoutMs})` });
  }
  c.http?.trustedProxies.forEach((entry, i) => {
    try { new TrustedProxies([entry]); } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['http', 'trustedProxies', i], message: (e as Error).message });
    }
  });
  if (c.tickets.maxChainSeconds < c.tickets.ttlSeconds) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tickets', 'maxChainSeconds'], message: `must be at least tickets.ttlSeconds (${c.tickets.ttlSeconds})` });
  }
});

export type BackendConfigInput = z.input<typeof Schema>;
type Parsed = z.infer<typeof Schema>;

export interface Settings { moveSeconds: number; readyWindowSeconds: number; graceSeconds: number; maxQueue: number }

export type RouterAuth =
  | { method: 'anonymous' }
  | { method: 'ticket'; authid?: string; ticket: string }
  | { method: 'wampcra'; authid: string; secret: string };

export type DatabaseConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; password?: string | undefined; poolSize: number; statementTimeoutMs: number; connectTimeoutMs: number };

export interface BackendConfig extends Omit<Parsed, 'router' | 'tickets' | 'defaults' | 'database' | 'video'> {
  video?: VideoConfig | undefined;
  router: Omit<Parsed['router'], 'auth'> & { auth: RouterAuth };
  database: DatabaseConfig;
  tickets: Omit<Parsed['tickets'], 'secret'> & { secret: string };
  defaults: Settings;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Folder relative `file` secrets and the database path are resolved against. */
  baseDir?: string;
}

function resolveSecret(ref: SecretRef, path: string, o: Required<ResolveOptions>): string {
  if (typeof ref === 'string') return ref;
  if ('env' in ref) {
    const v = o.env[ref.env];
    if (v === undefined || v === '') throw new BackendConfigError(path, `environment variable ${ref.env} is not set`);
    return v;
  }
  const file = isAbsolute(ref.file) ? ref.file : resolve(o.baseDir, ref.file);
  let v: string;
  try { v = readFileSync(file, 'utf8').replace(/\r?\n$/, ''); } catch (e) { throw new BackendConfigError(path, `cannot read ${file}: ${(e as Error).message}`); }
  if (v === '') throw new BackendConfigError(path, `${file} is empty`);
  return v;
}

/** Validates a config object; secrets by reference are resolved here. */
export function parseConfig(raw: unknown, options: ResolveOptions = {}): BackendConfig {
  const o: Required<ResolveOptions> = { env: options.env ?? process.env, baseDir: options.baseDir ?? process.cwd() };
  const r = Schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new BackendConfigError(issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '['), issue.message);
  }
  const c = r.data;
  const auth: RouterAuth = c.router.auth.method === 'anonymous'
    ? { method: 'anonymous' }
    : c.router.auth.method === 'ticket'
      ? { method: 'ticket', authid: c.router.auth.authid, ticket: resolveSecret(c.router.auth.ticket, 'router.auth.ticket', o) }
      : { method: 'wampcra', authid: c.router.auth.authid, secret: resolveSecret(c.router.auth.secret, 'router.auth.secret', o) };
  const d = c.database;
  const database: DatabaseConfig = d.path !== undefined
    ? { kind: 'sqlite', path: d.path === ':memory:' || isAbsolute(d.path) ? d.path : resolve(o.baseDir, d.path) }
    : {
      kind: 'postgres', url: d.url!, poolSize: d.poolSize, statementTimeoutMs: d.statementTimeoutMs, connectTimeoutMs: d.connectTimeoutMs,
      ...(d.password !== undefined ? { password: resolveSecret(d.password, 'database.password', o) } : {}),
    };
  const v = c.video;
  const video: VideoConfig | undefined = v === undefined ? undefined : (() => {
    const adminKey = resolveSecret(v.janus.adminKey, 'video.janus.adminKey', o);
    return {
      ...v,
      janus: {
        ...v.janus,
        adminKey,
        apiSecret: v.janus.apiSecret !== undefined ? resolveSecret(v.janus.apiSecret, 'video.janus.apiSecret', o) : undefined,
        mountpointSecret: v.janus.mountpointSecret !== undefined ? resolveSecret(v.janus.mountpointSecret, 'video.janus.mountpointSecret', o) : adminKey,
      },
    };
  })();
  return {
    ...c,
    video,
    router: { ...c.router, auth },
    database,
    tickets: { ...c.tickets, secret: resolveSecret(c.tickets.secret, 'tickets.secret', o) },
    defaults: {
      moveSeconds: c.defaults.moveSeconds ?? Defaults.moveSeconds,
      readyWindowSeconds: c.defaults.readyWindowSeconds ?? Defaults.readyWindowSeconds,
      graceSeconds: c.defaults.graceSeconds ?? Defaults.graceSeconds,
      maxQueue: c.defaults.maxQueue ?? Defaults.maxQueue,
    },
  };
}

/**
 * `--database`: a postgres:// URL selects PostgreSQL (its password from
 * PGPASSWORD or database.password, not the command line), anything else is
 * a SQLite file. Replaces the config file's `database.url`/`path`; its other
 * database settings stay.
 */
export function databaseOverride(raw: unknown, database: string): unknown {
  const r = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const { path: _p, url: _u, ...rest } = (r.database !== null && typeof r.database === 'object' ? r.database : {}) as Record<string, unknown>;
  const pg = /^postgres(ql)?:\/\//.test(database);
  if (!pg) delete rest.password;
  return { ...r, database: pg ? { ...rest, url: database } : { ...rest, path: database } };
}

/** Reads a JSON or YAML (`.yaml`/`.yml`) file; relative paths inside it are relative to its folder. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env, o: { database?: string } = {}): BackendConfig {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new BackendConfigError('', `cannot read ${file}: ${(e as Error).message}`); }
  let raw: unknown;
  try { raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text); } catch (e) { throw new BackendConfigError('', `cannot parse ${file}: ${(e as Error).message}`); }
  if (o.database !== undefined) raw = databaseOverride(raw, o.database);
  return parseConfig(raw, { env, baseDir: dirname(resolve(file)) });
}

/** The `guests` section with every default (for embedders that build a session route without a whole config). */
export function guestDefaults(): BackendConfig['guests'] {
  return Guests.parse({});
}

/** Validates a claw.admin.settings patch (same rules as the config's per-machine settings). */
export function parseSettingsPatch(raw: unknown): { ok: true; patch: MachineSettingsPatch } | { ok: false; message: string } {
  const r = MachineSettings.safeParse(raw);
  if (r.success) return { ok: true, patch: r.data };
  const i = r.error.issues[0]!;
  return { ok: false, message: `${i.path.join('.') || 'settings'}: ${i.message}` };
}
