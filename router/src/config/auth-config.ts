// A transport's Crossbar `auth` section → AuthPolicy: each method validated
// with zod (errors name the JSON path of the bad key), secrets resolved.
//
// Secrets (tickets, WAMP-CRA secrets, the signed-ticket key) may be written
// inline, or as {"env": "VAR"} (an environment variable) or {"file": "path"}
// (a file's contents without the trailing newline; relative paths from the
// config file's folder), so they need not live in the config file.
import { z } from 'zod';
import type {
  AnonymousAuth, AuthPolicy, CryptosignAuth, CryptosignPrincipal, DynamicAuth, SignedTickets,
  TicketAuth, TicketPrincipal, WampCraAuth, WampCraUser,
} from '../auth/auth-policy.js';
import { DEFAULT_AUTH_POLICY } from '../auth/auth-policy.js';
import { ConfigError } from '../config-error.js';
import { SecretRef, resolveSecret, type SecretSources } from '../secret-ref.js';
import { unknownKeys } from '../unknown-keys.js';


/** Where secrets given by reference are looked up. */
export type { SecretSources } from '../secret-ref.js';

const Extra = z.record(z.string(), z.unknown());
const principalBase = { role: z.string().min(1), realm: z.string().min(1).optional(), extra: Extra.optional() };

const Anonymous = z.object({ type: z.literal('static'), role: z.string().min(1).optional(), authid: z.string().min(1).optional() }).passthrough();
const Dynamic = { type: z.literal('dynamic'), authenticator: z.string().min(1), 'authenticator-realm': z.string().min(1).optional() };
const Signed = z.object({ secret: SecretRef, roles: z.array(z.string().min(1)).optional() }).strict();

const TicketPrincipal_ = z.object({ ticket: SecretRef, ...principalBase }).passthrough();
const Ticket = z.discriminatedUnion('type', [
  z.object({ type: z.literal('static'), principals: z.record(z.string(), TicketPrincipal_).optional(), signed: Signed.optional() }).passthrough(),
  z.object({ ...Dynamic, signed: Signed.optional() }).passthrough(),
]);

const CraUser = z.object({
  secret: SecretRef,
  ...principalBase,
  salt: z.string().min(1).optional(),
  iterations: z.number().int().positive().optional(),
  keylen: z.number().int().positive().optional(),
}).passthrough();
const WampCra = z.discriminatedUnion('type', [
  z.object({ type: z.literal('static'), users: z.record(z.string(), CraUser) }).passthrough(),
  z.object(Dynamic).passthrough(),
]);

const HexKey = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be an Ed25519 public key: 64 hex digits');
const CsPrincipal = z.object({ authorized_keys: z.array(HexKey).min(1), ...principalBase }).passthrough();
const Cryptosign = z.discriminatedUnion('type', [
  z.object({ type: z.literal('static'), principals: z.record(z.string(), CsPrincipal) }).passthrough(),
  z.object(Dynamic).passthrough(),
]);

const SUPPORTED: Record<string, { types: string[] }> = {
  anonymous: { types: ['static'] },
  ticket: { types: ['static', 'dynamic'] },
  wampcra: { types: ['static', 'dynamic'] },
  cryptosign: { types: ['static', 'dynamic'] },
};

function parse<T>(schema: z.ZodType<T>, value: unknown, at: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  throw new ConfigError(`invalid config at ${at}${path}: ${issue.message}`);
}

const DYNAMIC_KEYS = ['type', 'authenticator', 'authenticator-realm'];
const BASE_KEYS = ['role', 'realm', 'extra'];

const secret = resolveSecret;

function dynamic(cfg: { authenticator: string; 'authenticator-realm'?: string }): DynamicAuth {
  return { type: 'dynamic', authenticator: cfg.authenticator, ...(cfg['authenticator-realm'] !== undefined ? { authenticatorRealm: cfg['authenticator-realm'] } : {}) };
}

function signed(cfg: z.infer<typeof Signed> | undefined, at: string, src: SecretSources): { signed?: SignedTickets } {
  if (cfg === undefined) return {};
  return { signed: { secret: secret(cfg.secret, `${at}.signed.secret`, src), ...(cfg.roles !== undefined ? { roles: cfg.roles } : {}) } };
}

function base<T extends { role: string; realm?: string; extra?: Record<string, unknown> }>(p: T): { role: string; realm?: string; extra?: Record<string, unknown> } {
  return { role: p.role, ...(p.realm !== undefined ? { realm: p.realm } : {}), ...(p.extra !== undefined ? { extra: p.extra } : {}) };
}

function ticket(raw: unknown, at: string, src: SecretSources, warnings: string[]): TicketAuth {
  const cfg = parse(Ticket, raw, at);
  if (cfg.type === 'dynamic') {
    unknownKeys(cfg, [...DYNAMIC_KEYS, 'signed'], at, warnings);
    return { ...dynamic(cfg), ...signed(cfg.signed, at, src) };
  }
  unknownKeys(cfg, ['type', 'principals', 'signed'], at, warnings);
  const principals: Record<string, TicketPrincipal> = {};
  for (const [authid, p] of Object.entries(cfg.principals ?? {})) {
    unknownKeys(p, ['ticket', ...BASE_KEYS], `${at}.principals.${authid}`, warnings);
    principals[authid] = { ...base(p), ticket: secret(p.ticket, `${at}.principals.${authid}.ticket`, src) };
  }
  return { type: 'static', principals, ...signed(cfg.signed, at, src) };
}

function wampcra(raw: unknown, at: string, src: SecretSources, warnings: string[]): WampCraAuth {
  const cfg = parse(WampCra, raw, at);
  if (cfg.type === 'dynamic') { unknownKeys(cfg, DYNAMIC_KEYS, at, warnings); return dynamic(cfg); }
  unknownKeys(cfg, ['type', 'users'], at, warnings);
  const users: Record<string, WampCraUser> = {};
  for (const [authid, u] of Object.entries(cfg.users)) {
    unknownKeys(u, ['secret', 'salt', 'iterations', 'keylen', ...BASE_KEYS], `${at}.users.${authid}`, warnings);
    users[authid] = {
      ...base(u),
      secret: secret(u.secret, `${at}.users.${authid}.secret`, src),
      ...(u.salt !== undefined ? { salt: u.salt, iterations: u.iterations ?? 1000, keylen: u.keylen ?? 32 } : {}),
    };
  }
  return { type: 'static', users };
}

function cryptosign(raw: unknown, at: string, warnings: string[]): CryptosignAuth {
  const cfg = parse(Cryptosign, raw, at);
  if (cfg.type === 'dynamic') { unknownKeys(cfg, DYNAMIC_KEYS, at, warnings); return dynamic(cfg); }
  unknownKeys(cfg, ['type', 'principals'], at, warnings);
  const principals: Record<string, CryptosignPrincipal> = {};
  for (const [authid, p] of Object.entries(cfg.principals)) {
    unknownKeys(p, ['authorized_keys', ...BASE_KEYS], `${at}.principals.${authid}`, warnings);
    principals[authid] = { ...base(p), authorized_keys: p.authorized_keys.map((k) => k.toLowerCase()) };
  }
  return { type: 'static', principals };
}

function anonymous(raw: unknown, at: string, warnings: string[]): AnonymousAuth {
  const cfg = parse(Anonymous, raw, at);
  unknownKeys(cfg, ['type', 'role', 'authid'], at, warnings);
  return { type: 'static', role: cfg.role ?? 'anonymous', ...(cfg.authid !== undefined ? { authid: cfg.authid } : {}) };
}

/**
 * The policy for one transport or path. `auth` absent: anonymous as role
 * `anonymous` (Crossbar's default). Methods this router doesn't implement are
 * named in `warnings` and not offered.
 */
export function authPolicy(auth: unknown, at: string, warnings: string[], src: SecretSources = {}, timeoutMs?: number): AuthPolicy {
  const timeout = timeoutMs !== undefined ? { timeoutMs } : {};
  if (auth === undefined) return timeoutMs === undefined ? DEFAULT_AUTH_POLICY : { ...DEFAULT_AUTH_POLICY, ...timeout };
  const section = parse(z.record(z.string(), z.object({ type: z.string().optional() }).passthrough()), auth, at);
  const policy: AuthPolicy = { ...timeout };
  for (const [method, cfg] of Object.entries(section)) {
    const mat = `${at}.${method}`;
    // A method or type this router does not implement is not offered (one less way in, never one
    // more): a warning, and the rest of the section runs. Crossbar's cookie method has no type.
    if (!Object.hasOwn(SUPPORTED, method)) {
      warnings.push(`${mat} (authentication method "${method}"${cfg.type !== undefined ? ` type "${cfg.type}"` : ''})`);
      continue;
    }
    if (cfg.type === undefined) throw new ConfigError(`invalid config at ${mat}.type: missing (one of ${SUPPORTED[method]!.types.map((x) => `"${x}"`).join(', ')})`);
    if (!SUPPORTED[method]!.types.includes(cfg.type)) {
      warnings.push(`${mat} (authentication method "${method}" type "${cfg.type}")`);
      continue;
    }
    switch (method) {
      case 'anonymous': policy.anonymous = anonymous(cfg, mat, warnings); break;
      case 'ticket': policy.ticket = ticket(cfg, mat, src, warnings); break;
      case 'wampcra': policy.wampcra = wampcra(cfg, mat, src, warnings); break;
      case 'cryptosign': policy.cryptosign = cryptosign(cfg, mat, warnings); break;
    }
  }
  return policy;
}
