// Whether a session that has just authenticated may join its realm, given
// how many sessions are there already. Pure: the realm passes the counts.
import type { RealmLimits, SessionLimits } from './limits-config.js';

export interface AdmissionInput {
  /** Sessions on the realm now. */
  realmSessions: number;
  /** Sessions on the realm now with the joining session's authid. */
  authidSessions: number;
  authid: string;
  realm: string;
  /** Anonymous authids are not identities (random, or one shared fixed value), so no per-authid limit. */
  anonymous: boolean;
}

/** A refusal message, or undefined when the session may join. */
export function admissionRefusal(limits: RealmLimits, session: SessionLimits, a: AdmissionInput): string | undefined {
  if (limits.maxSessions !== null && a.realmSessions >= limits.maxSessions) {
    return `realm "${a.realm}" has reached its limit of ${limits.maxSessions} sessions`;
  }
  if (!a.anonymous && session.maxSessionsPerAuthid !== null && a.authidSessions >= session.maxSessionsPerAuthid) {
    return `authid "${a.authid}" already has ${a.authidSessions} sessions on realm "${a.realm}" (limit ${session.maxSessionsPerAuthid})`;
  }
  return undefined;
}
