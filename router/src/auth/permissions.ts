// Crossbar-style static permissions: a role is a list of URI rules, each with
// a match policy and the actions it allows. Pure functions, no I/O.
import type { MatchPolicy } from '../messages/options.js';
import { wildcardMatches } from '../uri.js';

export type Action = 'call' | 'register' | 'publish' | 'subscribe';

export interface Permission {
  uri: string;
  match: MatchPolicy;
  allow: Record<Action, boolean>;
  disclose: { caller: boolean; publisher: boolean };
  /** May publications here be retained (ClawGate `allow.retain`)? Unset: whenever publish is allowed, as in Crossbar. */
  retain?: boolean;
  /** Largest PUBLISH here in bytes, as it arrived (ClawGate `max_publication_size`). Unset: no cap beyond max_message_size. */
  maxPublicationSize?: number;
}

export interface Decision {
  allow: boolean;
  disclose: boolean;
  /** PUBLISH only: whether `retain: true` is allowed. Unset: as `allow` (Crossbar). */
  retain?: boolean;
  /** PUBLISH only: the permission's max_publication_size. */
  maxPublicationSize?: number;
}

const DENY: Decision = { allow: false, disclose: false };

/**
 * Of two wildcard patterns matching the same URI, the one whose first
 * differing component is concrete (not empty) is more specific. The dealer's
 * wildcard trie (routing/uri-index.ts) picks by the same rule.
 */
export function moreSpecificWildcard(a: string, b: string): boolean {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < pa.length; i++) {
    const ea = pa[i] === '';
    const eb = pb[i] === '';
    if (ea !== eb) return !ea;
  }
  return false;
}

/**
 * The permission that governs `uri`: an exact rule wins, then the longest
 * matching prefix, then the most specific matching wildcard (the order
 * Crossbar's router uses).
 */
export function bestPermission(perms: readonly Permission[], uri: string): Permission | undefined {
  let prefix: Permission | undefined;
  let wildcard: Permission | undefined;
  for (const p of perms) {
    if (p.match === 'exact') {
      if (p.uri === uri) return p;
    } else if (p.match === 'prefix') {
      if (uri.startsWith(p.uri) && (prefix === undefined || p.uri.length > prefix.uri.length)) prefix = p;
    } else if (wildcardMatches(p.uri, uri)) {
      if (wildcard === undefined || moreSpecificWildcard(p.uri, wildcard.uri)) wildcard = p;
    }
  }
  return prefix ?? wildcard;
}

export function authorize(perms: readonly Permission[], uri: string, action: Action): Decision {
  const p = bestPermission(perms, uri);
  if (p === undefined) return DENY;
  if (action === 'publish') {
    const allow = p.allow.publish === true;
    const d: Decision = { allow, disclose: p.disclose.publisher };
    // Only what a permission sets: a Crossbar permission's decision stays {allow, disclose}.
    if (p.retain !== undefined) d.retain = allow && p.retain;
    if (p.maxPublicationSize !== undefined) d.maxPublicationSize = p.maxPublicationSize;
    return d;
  }
  return { allow: p.allow[action] === true, disclose: action === 'call' ? p.disclose.caller : false };
}
