// HTTP path services on web/universal listeners, configured as Crossbar
// configures its HTTP bridge: a `paths` entry of `type: publisher` or
// `type: caller` with `realm`, `role` and `options`. ClawGate adds
// `type: info` (subscriber counts, channelstream's `/info`) and
// `type: metrics` (Prometheus). Parsed here from the Crossbar config into
// plain data (RouterConfig.http); the bridge builds its handlers from it.
import type { RateLimit } from '../limits/token-bucket.js';
import { z } from 'zod';
import { ConfigError } from '../config-error.js';
import { cidrError, LOOPBACK_NETWORKS } from '../net/ip-allow.js';
import { SecretRef, resolveSecret, type SecretSources } from '../secret-ref.js';
import { unknownKeys } from '../unknown-keys.js';

export const HTTP_PATH_TYPES = ['publisher', 'caller', 'info', 'metrics'] as const;
export type HttpPathType = (typeof HTTP_PATH_TYPES)[number];

export const DEFAULT_POST_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_TIMESTAMP_DELTA_LIMIT_S = 300;
export const DEFAULT_BRIDGE_CALL_TIMEOUT_MS = 30_000;
export const DEFAULT_METRICS_PATH = '/metrics';

/** Who may use a path and how requests must be signed. */
export interface HttpGuard {
  /** Signed requests are required when both are set. */
  key?: string;
  secret?: string;
  /** Largest request body accepted, in bytes. */
  postBodyLimit: number;
  /** A signed request's timestamp may be this many seconds from the router's clock. */
  timestampDeltaLimitS: number;
  /** CIDR networks the client address must be in (absent: any). */
  requireIp?: string[];
  /** Refuse requests that did not arrive over TLS. */
  requireTls: boolean;
  /** Requests per second per client address (ClawGate; absent: unlimited). */
  rateLimit?: RateLimit;
}

interface PathBase {
  /** Listener (transport) id the path is served on. */
  listener: string;
  /** Request path, with a leading '/'. */
  path: string;
  guard: HttpGuard;
}

export interface BridgePathConfig extends PathBase {
  type: 'publisher' | 'caller';
  realm: string;
  /** The role whose permissions the bridge's session has. */
  role: string;
  /** The bridge session's authid. */
  authid: string;
  /** Longest a bridged call may take (caller only), in ms. */
  callTimeoutMs: number;
}

export interface InfoPathConfig extends PathBase {
  type: 'info';
  realm: string;
  /** Role of the session that asks the meta API (default: the implicit `trusted`). */
  role?: string;
}

export interface MetricsPathConfig extends PathBase {
  type: 'metrics';
}

export type HttpPathConfig = BridgePathConfig | InfoPathConfig | MetricsPathConfig;

export function isHttpPathType(t: string): t is HttpPathType {
  return (HTTP_PATH_TYPES as readonly string[]).includes(t);
}

const Options = z.object({
  key: z.string().min(1).optional(),
  secret: SecretRef.optional(),
  post_body_limit: z.number().int().min(0).optional(),
  timestamp_delta_limit: z.number().int().min(0).optional(),
  require_ip: z.array(z.string()).optional(),
  require_tls: z.boolean().optional(),
  /** ClawGate: longest a bridged call may take, in ms. */
  call_timeout: z.number().int().positive().optional(),
  /** ClawGate: requests per second per client address, and the burst allowed after a quiet spell. */
  rate_limit: z.object({ rate: z.number().positive(), burst: z.number().int().min(1).optional() }).strict().optional(),
}).passthrough();

const Entry = z.object({
  type: z.enum(HTTP_PATH_TYPES),
  realm: z.string().min(1).optional(),
  role: z.string().min(1).optional(),
  /** ClawGate: the bridge session's authid. */
  authid: z.string().min(1).optional(),
  options: Options.optional(),
}).passthrough();

const OPTION_KEYS: Record<HttpPathType, string[]> = {
  publisher: ['key', 'secret', 'post_body_limit', 'timestamp_delta_limit', 'require_ip', 'require_tls', 'rate_limit'],
  caller: ['key', 'secret', 'post_body_limit', 'timestamp_delta_limit', 'require_ip', 'require_tls', 'call_timeout', 'rate_limit'],
  info: ['key', 'secret', 'timestamp_delta_limit', 'require_ip', 'require_tls', 'rate_limit'],
  metrics: ['require_ip', 'require_tls'],
};
const ENTRY_KEYS: Record<HttpPathType, string[]> = {
  publisher: ['type', 'realm', 'role', 'authid', 'options'],
  caller: ['type', 'realm', 'role', 'authid', 'options'],
  info: ['type', 'realm', 'role', 'options'],
  metrics: ['type', 'options'],
};

function fail(at: string, message: string): never {
  throw new ConfigError(`invalid config at ${at}: ${message}`);
}


/**
 * One `paths` entry of an HTTP path type. `at` is the entry's JSON path (for
 * errors and warnings). Realm and role existence are checked later, by
 * checkHttpRealms(), once every realm is known.
 */
export function httpPath(raw: unknown, listener: string, path: string, at: string, warnings: string[], src: SecretSources = {}): HttpPathConfig {
  const r = Entry.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    fail(`${at}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`, issue.message);
  }
  const e = r.data;
  unknownKeys(e, ENTRY_KEYS[e.type], at, warnings);
  const o = e.options ?? {};
  unknownKeys(o, OPTION_KEYS[e.type], `${at}.options`, warnings);

  if ((o.key === undefined) !== (o.secret === undefined)) fail(`${at}.options`, 'signed requests need both "key" and "secret"');
  const secret = o.secret !== undefined ? resolveSecret(o.secret, `${at}.options.secret`, src) : undefined;
  const timestampDeltaLimitS = o.timestamp_delta_limit ?? DEFAULT_TIMESTAMP_DELTA_LIMIT_S;
  // Crossbar reads 0 as "no limit"; replay protection needs a window to forget nonces after.
  if (secret !== undefined && timestampDeltaLimitS === 0) fail(`${at}.options.timestamp_delta_limit`, 'must be > 0 when requests are signed (nonces are remembered for this window)');
  (o.require_ip ?? []).forEach((n, i) => {
    const bad = cidrError(n);
    if (bad !== undefined) fail(`${at}.options.require_ip[${i}]`, bad);
  });
  const guard: HttpGuard = {
    ...(secret !== undefined ? { key: o.key!, secret } : {}),
    // Crossbar reads 0 (its default) as "no limit"; unbounded bodies would let any client exhaust memory.
    postBodyLimit: o.post_body_limit || DEFAULT_POST_BODY_LIMIT,
    timestampDeltaLimitS,
    ...(o.require_ip !== undefined ? { requireIp: o.require_ip } : e.type === 'metrics' ? { requireIp: LOOPBACK_NETWORKS } : {}),
    requireTls: o.require_tls ?? false,
    // Burst defaults to one second's worth (at least 1).
    ...(o.rate_limit !== undefined ? { rateLimit: { rate: o.rate_limit.rate, burst: o.rate_limit.burst ?? Math.max(1, Math.ceil(o.rate_limit.rate)) } } : {}),
  };
  const base = { listener, path, guard };
  switch (e.type) {
    case 'publisher':
    case 'caller':
      if (e.realm === undefined) fail(`${at}.realm`, `a ${e.type} path needs a realm`);
      if (e.role === undefined) fail(`${at}.role`, `a ${e.type} path needs a role`);
      return {
        ...base, type: e.type, realm: e.realm, role: e.role,
        authid: e.authid ?? `http-${e.type}`,
        callTimeoutMs: o.call_timeout ?? DEFAULT_BRIDGE_CALL_TIMEOUT_MS,
      };
    case 'info':
      if (e.realm === undefined) fail(`${at}.realm`, 'an info path needs a realm');
      return { ...base, type: 'info', realm: e.realm, ...(e.role !== undefined ? { role: e.role } : {}) };
    case 'metrics':
      return { ...base, type: 'metrics' };
  }
}

/** A role an HTTP path names must exist on its realm (`trusted` exists implicitly for in-process sessions). */
export function checkHttpRealms(paths: readonly { entry: HttpPathConfig; at: string }[], realms: readonly { name: string; roles: readonly { name: string }[] }[]): void {
  for (const { entry, at } of paths) {
    if (entry.type === 'metrics') continue;
    const realm = realms.find((r) => r.name === entry.realm);
    if (realm === undefined) fail(`${at}.realm`, `no realm "${entry.realm}" is defined`);
    const role = entry.role;
    if (role !== undefined && role !== 'trusted' && !realm.roles.some((r) => r.name === role)) {
      fail(`${at}.role`, `role "${role}" is not defined on realm "${entry.realm}"`);
    }
  }
}
