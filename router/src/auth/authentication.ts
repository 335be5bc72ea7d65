// The shapes one authentication goes through, shared by every method:
// HELLO → a Step (welcome at once, refuse, or CHALLENGE plus the check for
// the AUTHENTICATE that answers it) → an Outcome. Methods are pure apart
// from randomness and the dynamic authenticator call, both of which come in
// through the AuthContext.
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Dict } from '../messages/types.js';
import { WampError, WampErrors } from '../errors.js';
import type { DynamicAuth, Identity } from './auth-policy.js';

export type MaybePromise<T> = T | Promise<T>;

/** What the client said about itself in HELLO. Never trusted, only checked. */
export interface HelloClaims {
  /** HELLO.Details.authid, if any. */
  authid?: string;
  /** HELLO.Details.authextra ({} if none). */
  authextra: Dict;
}

export interface AuthContext {
  /** The realm the client asked to join. */
  realm: string;
  /** The session id WELCOME will carry (a WAMP-CRA challenge includes it). */
  sessionId: number;
  /** Transport details as Crossbar hands them to authenticators. */
  transport: Dict;
  /**
   * The TLS channel id for `tls-unique` channel binding. Undefined on
   * transports without TLS (all of them until the router terminates TLS).
   */
  channelId?: Uint8Array;
  /** Calls a procedure registered on `realm` (a dynamic authenticator). Rejects with WampError. */
  call(realm: string, procedure: string, args: unknown[]): Promise<unknown>;
  now(): number;
}

/**
 * A refusal. `message` goes to the client in ABORT.Details.message and must
 * not tell an unknown authid from a wrong secret; `detail` is for the log only
 * (never a secret).
 */
export interface Refusal {
  error: string;
  message: string;
  detail: string;
}

export type Outcome = { welcome: Identity } | { refuse: Refusal };

/** Checks the AUTHENTICATE that answers a CHALLENGE. */
export type Verify = (signature: string, extra: Dict) => MaybePromise<Outcome>;

export type Step =
  | Outcome
  | { challenge: { authmethod: string; extra: Dict }; verify: Verify };

export function refuse(error: string, message: string, detail: string = message): { refuse: Refusal } {
  return { refuse: { error, message, detail } };
}

export const authFailed = (message: string, detail?: string) => refuse(WampErrors.authenticationFailed, message, detail);

/**
 * Compares two strings in time that depends on neither content nor length
 * (both are hashed first), so a wrong ticket or signature teaches nothing.
 */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** Own-property lookup: an authid like `__proto__` or `constructor` finds nothing. */
export function own<T>(map: Record<string, T>, key: string | undefined): T | undefined {
  return key !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

// ---- dynamic authenticators ------------------------------------------------

/** What a dynamic authenticator may return: a role, or a principal dict (Crossbar). */
const PrincipalDict = z.object({
  role: z.string().min(1),
  authid: z.string().min(1).optional(),
  realm: z.string().min(1).optional(),
  extra: z.record(z.string(), z.unknown()).optional(),
  // wampcra
  secret: z.string().min(1).optional(),
  salt: z.string().min(1).optional(),
  iterations: z.number().int().positive().optional(),
  keylen: z.number().int().positive().optional(),
  // cryptosign
  pubkey: z.string().optional(),
  authorized_keys: z.array(z.string()).optional(),
});

export type DynamicPrincipal = z.infer<typeof PrincipalDict>;

export function parsePrincipal(v: unknown): DynamicPrincipal | undefined {
  if (typeof v === 'string') return v.length > 0 ? { role: v } : undefined;
  const r = PrincipalDict.safeParse(v);
  return r.success ? r.data : undefined;
}

/** Crossbar's `details` argument for an authenticator: `{transport, session, authmethod, authextra, ...}`. */
export function authenticatorDetails(ctx: AuthContext, authmethod: string, claims: HelloClaims, more: Dict = {}): Dict {
  return { transport: ctx.transport, session: ctx.sessionId, authmethod, authid: claims.authid ?? null, authextra: claims.authextra, ...more };
}

/** Errors the router itself raises when it cannot reach the authenticator. */
const UNAVAILABLE = new Set<string>([WampErrors.noSuchProcedure, WampErrors.timeout, WampErrors.canceled, WampErrors.noAvailableCallee]);

/**
 * Calls the authenticator; resolves to a principal, or to a refusal when it
 * raised an error, returned nonsense, or could not be reached.
 */
export async function askAuthenticator(cfg: DynamicAuth, ctx: AuthContext, args: unknown[]): Promise<{ principal: DynamicPrincipal } | { refuse: Refusal }> {
  let result: unknown;
  try {
    result = await ctx.call(cfg.authenticatorRealm ?? ctx.realm, cfg.authenticator, args);
  } catch (e) {
    if (!(e instanceof WampError)) throw e;
    if (UNAVAILABLE.has(e.uri)) {
      return authFailed('authentication service unavailable', `authenticator "${cfg.authenticator}" failed: ${e.message}`);
    }
    // The authenticator's own refusal: its message is meant for the client (as in Crossbar).
    const error = e.uri === WampErrors.authenticationFailed ? e.uri : WampErrors.notAuthorized;
    const text = typeof e.args[0] === 'string' ? e.args[0].slice(0, 300) : 'not authorized';
    return refuse(error, text, `authenticator "${cfg.authenticator}" raised ${e.uri}`);
  }
  const principal = parsePrincipal(result);
  if (principal === undefined) {
    return authFailed('authentication service error', `authenticator "${cfg.authenticator}" returned an invalid principal (want a role string or {role, authid?, realm?, extra?})`);
  }
  return { principal };
}

/** The identity for an authenticated principal, after its realm restriction. */
export function admit(ctx: AuthContext, p: { role: string; realm?: string; extra?: Dict }, authid: string, authmethod: string, authprovider: string): Outcome {
  if (p.realm !== undefined && p.realm !== ctx.realm) {
    return refuse(WampErrors.notAuthorized, `principal may not join realm "${ctx.realm}"`, `principal "${authid}" is restricted to realm "${p.realm}"`);
  }
  return { welcome: { authid, authrole: p.role, authmethod, authprovider, authextra: p.extra ?? {} } };
}
