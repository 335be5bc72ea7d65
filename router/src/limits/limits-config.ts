// Limits as configured: their types, production defaults, and the zod
// schemas for the Crossbar-format config keys (ClawGate extensions):
//
//   realm   options.limits: { max_sessions, max_sessions_per_authid,
//                             publish_rate: {rate, burst}, call_rate: {rate, burst},
//                             max_pending_calls }
//   role    limits:         the same minus max_sessions (overrides the realm's)
//   endpoint options:       hello_timeout (ms), max_send_buffer (bytes)
//
// `null` switches a limit off. Bad values are config errors naming the key
// (the schemas are parsed with the JSON path of where they sit).
import { z } from 'zod';
import type { RateLimit } from './token-bucket.js';

/** Limits on one session's own traffic. `null`: no limit. */
export interface SessionLimits {
  publishRate: RateLimit | null;
  callRate: RateLimit | null;
  maxPendingCalls: number | null;
  /** Sessions with the same authid at once (authenticated sessions only). */
  maxSessionsPerAuthid: number | null;
}

export interface RealmLimits extends SessionLimits {
  maxSessions: number | null;
  /** Per-role overrides of the session limits, by role name. */
  roles: Record<string, SessionLimits>;
}

/** Per listener endpoint (a WebSocket path or the RawSocket block). */
export interface EndpointLimits {
  /** ms from TCP accept until HELLO (includes the TLS, WebSocket or RawSocket handshake). */
  helloTimeoutMs: number;
  /** Unsent bytes queued for one peer before it is dropped as a slow consumer. */
  maxSendBuffer: number;
}

export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_SEND_BUFFER = 4 * 1024 * 1024;

/**
 * Production defaults. A player steering the claw publishes a few tens of
 * messages a second at most; the backend and claw nodes make a handful of
 * calls per turn. These leave an order of magnitude of headroom for honest
 * clients while capping what one session can make the router do.
 */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  publishRate: { rate: 100, burst: 200 },
  callRate: { rate: 100, burst: 200 },
  maxPendingCalls: 128,
  maxSessionsPerAuthid: 16,
};

export const DEFAULT_MAX_SESSIONS = 10_000;

export const DEFAULT_REALM_LIMITS: RealmLimits = {
  ...DEFAULT_SESSION_LIMITS,
  maxSessions: DEFAULT_MAX_SESSIONS,
  roles: {},
};

/** No limits at all (in-process sessions; embedders that want none). */
export const NO_SESSION_LIMITS: SessionLimits = { publishRate: null, callRate: null, maxPendingCalls: null, maxSessionsPerAuthid: null };

const Count = z.number().int().positive().nullable();
const Rate = z.object({
  rate: z.number().positive().finite(),
  burst: z.number().int().positive(),
}).strict().nullable();

const sessionKeys = {
  publish_rate: Rate.optional(),
  call_rate: Rate.optional(),
  max_pending_calls: Count.optional(),
  max_sessions_per_authid: Count.optional(),
};

export const RoleLimitsSchema = z.object(sessionKeys).strict();
export const RealmLimitsSchema = z.object({ ...sessionKeys, max_sessions: Count.optional() }).strict();

export type RoleLimitsInput = z.infer<typeof RoleLimitsSchema>;
export type RealmLimitsInput = z.infer<typeof RealmLimitsSchema>;

/** `undefined` keeps the fallback, `null` switches the limit off. */
function pick<T>(v: T | null | undefined, fallback: T | null): T | null {
  return v === undefined ? fallback : v;
}

export function sessionLimits(input: RoleLimitsInput | undefined, base: SessionLimits): SessionLimits {
  return {
    publishRate: pick(input?.publish_rate, base.publishRate),
    callRate: pick(input?.call_rate, base.callRate),
    maxPendingCalls: pick(input?.max_pending_calls, base.maxPendingCalls),
    maxSessionsPerAuthid: pick(input?.max_sessions_per_authid, base.maxSessionsPerAuthid),
  };
}

export function realmLimits(input: RealmLimitsInput | undefined, roles: Record<string, RoleLimitsInput | undefined>): RealmLimits {
  const base = sessionLimits(input, DEFAULT_SESSION_LIMITS);
  const byRole: Record<string, SessionLimits> = {};
  for (const [name, r] of Object.entries(roles)) if (r !== undefined) byRole[name] = sessionLimits(r, base);
  return { ...base, maxSessions: pick(input?.max_sessions, DEFAULT_MAX_SESSIONS), roles: byRole };
}

export const EndpointLimitKeys = {
  /** ms from connect until HELLO (ClawGate). */
  hello_timeout: z.number().int().positive().optional(),
  /** bytes of unsent data before a peer is dropped as a slow consumer (ClawGate). */
  max_send_buffer: z.number().int().positive().optional(),
};

export function endpointLimits(options: { hello_timeout?: number | undefined; max_send_buffer?: number | undefined } | undefined): EndpointLimits {
  return {
    helloTimeoutMs: options?.hello_timeout ?? DEFAULT_HELLO_TIMEOUT_MS,
    maxSendBuffer: options?.max_send_buffer ?? DEFAULT_MAX_SEND_BUFFER,
  };
}
