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
}

export interface Decision {
  allow: boolean;
  disclose: boolean;
}

const DENY: Decision = { allow: false, disclose: false };

/**
 * The permission that governs `uri`: an exact rule wins, then the longest
 * matching prefix, then the wildcard rule with the most fixed components
 * (the order Crossbar's router uses).
 */
export function bestPermission(perms: readonly Permission[], uri: string): Permission | undefined {
  let prefix: Permission | undefined;
  let wildcard: Permission | undefined;
  let wildcardFixed = -1;
  for (const p of perms) {
    if (p.match === 'exact') {
      if (p.uri === uri) return p;
    } else if (p.match === 'prefix') {
      if (uri.startsWith(p.uri) && (prefix === undefined || p.uri.length > prefix.uri.length)) prefix = p;
    } else if (wildcardMatches(p.uri, uri)) {
      const fixed = p.uri.split('.').filter((c) => c !== '').length;
      if (fixed > wildcardFixed) { wildcard = p; wildcardFixed = fixed; }
    }
  }
  return prefix ?? wildcard;
}

export function authorize(perms: readonly Permission[], uri: string, action: Action): Decision {
  const p = bestPermission(perms, uri);
  if (p === undefined) return DENY;
  return {
    allow: p.allow[action] === true,
    disclose: action === 'call' ? p.disclose.caller : action === 'publish' ? p.disclose.publisher : false,
  };
}
