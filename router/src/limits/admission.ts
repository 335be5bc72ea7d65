// Whether a session that has just authenticated may join its realm, given
// how many sessions are there already. Pure: the realm passes the counts.
//
// Reserved sessions: a role's `reserved_sessions` are slots of max_sessions
// that no other role may take, so a flood of anonymous sessions fills the
// realm only up to max_sessions minus the unused reservations, and the
// backend, claws and operators still get in. A session of a role with
// unused reservations takes one of them; the invariant
// `sessions + unused reservations <= max_sessions` holds throughout.
import type { RealmLimits, SessionLimits } from './limits-config.js';

export interface AdmissionInput {
  /** Sessions on the realm now. */
  realmSessions: number;
  /** Sessions on the realm now with the joining session's authid. */
  authidSessions: number;
  /** Sessions on the realm now from the joining session's client address (default 0). */
  addressSessions?: number;
  /** Sessions on the realm now with the joining session's role (default 0). */
  roleSessions?: number;
  /** Reserved slots not yet taken, over all roles: sum of max(0, reserved - sessions of the role) (default 0). */
  unusedReserved?: number;
  authid: string;
  authrole?: string;
  /** The client address sessions are counted by; undefined: not counted (in-process, or a trusted proxy speaking for itself). */
  address?: string | undefined;
  realm: string;
  /** Anonymous authids are not identities (random, or one shared fixed value), so no per-authid limit. */
  anonymous: boolean;
}

/**
 * On a cluster node, the sessions of the realm's other live nodes (as their
 * entries in the session table count them): added to this node's own counts,
 * so max_sessions, max_sessions_per_authid and reserved_sessions count the
 * cluster (docs/cluster.md, "Session limits").
 */
export interface OtherNodesCounts {
  /** Sessions max_sessions counts (not in-process ones). */
  sessions: number;
  /** Sessions with this authid (all, as max_sessions_per_authid counts them). */
  authid(authid: string): number;
  /** Counted sessions with this role. */
  role(role: string): number;
  /** Counted sessions from this client address. */
  address(address: string): number;
}

/** A refusal message, or undefined when the session may join. */
export function admissionRefusal(limits: RealmLimits, session: SessionLimits, a: AdmissionInput): string | undefined {
  if (limits.maxSessions !== null) {
    const unused = a.unusedReserved ?? 0;
    const ownReserve = a.authrole === undefined ? 0 : limits.reserved[a.authrole] ?? 0;
    const takesOwnReserve = (a.roleSessions ?? 0) < ownReserve;
    if (!takesOwnReserve && a.realmSessions + unused >= limits.maxSessions) {
      const kept = unused > 0 ? ` (${unused} of them kept for the roles ${Object.keys(limits.reserved).join(', ')})` : '';
      return `realm "${a.realm}" has reached its limit of ${limits.maxSessions} sessions${kept}`;
    }
  }
  if (!a.anonymous && session.maxSessionsPerAuthid !== null && a.authidSessions >= session.maxSessionsPerAuthid) {
    return `authid "${a.authid}" already has ${a.authidSessions} sessions on realm "${a.realm}" (limit ${session.maxSessionsPerAuthid})`;
  }
  const atAddress = a.addressSessions ?? 0;
  if (a.address !== undefined && session.maxSessionsPerAddress !== null && atAddress >= session.maxSessionsPerAddress) {
    return `client address ${a.address} already has ${atAddress} sessions on realm "${a.realm}" (limit ${session.maxSessionsPerAddress})`;
  }
  return undefined;
}

/** Unused reservations over all roles, from the reservations and the sessions per role. */
export function unusedReserved(reserved: Record<string, number>, sessionsOfRole: (role: string) => number): number {
  let n = 0;
  for (const [role, r] of Object.entries(reserved)) n += Math.max(0, r - sessionsOfRole(role));
  return n;
}
