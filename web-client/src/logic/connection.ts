// What the page says about its link to the router, and when it tries again.
// The page never claims to be connected when it is not: every state has its
// own words, and "reconnecting" says when the next attempt is.
import { backoffDelay, type Backoff } from '@clawgate/runtime/backoff';

export type ConnectionState =
  /** `reason`: why the last connection was lost, while reconnecting (see `carryReason`). */
  | { kind: 'connecting'; attempt: number; reason?: string }
  | { kind: 'online'; since: number }
  | { kind: 'waiting'; attempt: number; retryAt: number; reason: string }
  | { kind: 'offline'; reason: string };

export type { Backoff };

/** The pages' reconnect backoff: 0.5 s × 2ⁿ, at most 10 s apart, ±20 %. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 10_000, factor: 2, jitter: 0.2 };

/** Delay before attempt number `attempt` (1 = first retry; the page counts attempts from 1). `random` in [0, 1). */
export function retryDelay(attempt: number, b: Backoff = DEFAULT_BACKOFF, random = 0.5): number {
  return backoffDelay(attempt - 1, b, random);
}

/** A short, honest label and a tone for the connection badge. */
export function describeConnection(s: ConnectionState, now: number): { label: string; tone: 'ok' | 'warn' | 'bad' } {
  switch (s.kind) {
    case 'online': return { label: 'Connected', tone: 'ok' };
    case 'connecting':
      if (s.reason === RESTARTING) return { label: `Server restarting: reconnecting (attempt ${s.attempt})…`, tone: 'warn' };
      return { label: s.attempt > 1 ? `Reconnecting (attempt ${s.attempt})…` : 'Connecting…', tone: 'warn' };
    case 'waiting': {
      const secs = Math.max(0, Math.ceil((s.retryAt - now) / 1000));
      return { label: `Connection lost (${s.reason}). Retrying in ${secs} s`, tone: 'bad' };
    }
    case 'offline': return { label: `Disconnected: ${s.reason}`, tone: 'bad' };
  }
}

export const RESTARTING = 'server restarting';

/** Why a WAMP close happened, in words a player understands. */
export function closeReason(reason: string, details: { reason?: string | null; message?: string | null } = {}): string {
  if (details.reason === 'wamp.close.system_shutdown') return RESTARTING;
  if (details.reason === 'wamp.error.authentication_failed' || details.reason === 'wamp.error.not_authorized') return 'login refused';
  if (reason === 'unreachable') return 'server unreachable';
  if (reason === 'lost') return 'connection dropped';
  return details.reason ?? reason;
}

/** How long after a shutdown GOODBYE failed attempts still count as the restart (then: plain "server unreachable"). */
export const RESTART_WINDOW_MS = 120_000;

export interface LostReason { reason: string; since: number }

/**
 * The reason to show for a failed (re)connection, given the one before: the
 * router said GOODBYE with `wamp.close.system_shutdown`, so the attempts that
 * find nobody listening while it restarts are part of that restart, not a
 * new problem. For `RESTART_WINDOW_MS`; after that, or on any other reason
 * (a refused login, a GOODBYE with another reason), the new reason stands.
 */
export function carryReason(previous: LostReason | undefined, reason: string, now: number): LostReason {
  const duringRestart = previous?.reason === RESTARTING && now - previous.since < RESTART_WINDOW_MS;
  if (duringRestart && (reason === 'server unreachable' || reason === 'connection dropped')) return previous;
  if (previous?.reason === reason) return previous;
  return { reason, since: now };
}
