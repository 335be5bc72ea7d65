// May a role SUBSCRIBE or REGISTER a prefix or wildcard pattern? A pattern
// subscription receives events for every URI it matches, a pattern
// registration every call to them, so checking the pattern's string as if
// it were one URI (what Crossbar does) lets an exact grant widen itself:
// `claw.player.bob` allowed exactly, subscribed with match prefix, receives
// `claw.player.bobby`'s events too.
//
// The rule here: a pattern is allowed only when the role would allow the
// action on every URI the pattern can match. Since permissions are picked
// most-specific-first (exact, then the longest prefix, then the most specific
// wildcard: permissions.ts), that holds when
//   1. some permission covers the whole pattern (a prefix permission that is
//      a prefix of every URI it matches, a wildcard permission that matches
//      all of them; an exact permission never covers a pattern), and the most
//      specific such permission allows the action, and
//   2. no permission that denies the action could govern a URI of the
//      pattern: every denying permission that shares a URI with the pattern
//      is less specific than that covering one.
// Then every URI of the pattern is governed by the covering permission or by
// a more specific one, which (by 2) allows. When in doubt (two equally
// specific rules), the answer is no. Pure functions, no I/O.
import type { MatchPolicy } from '../messages/options.js';
import { moreSpecificWildcard, type Action, type Decision, type Permission } from './permissions.js';
import { patternCovers } from '../uri.js';

export type PatternMatch = Exclude<MatchPolicy, 'exact'>;

const DENY: Decision = { allow: false, disclose: false };
const ALLOW: Decision = { allow: true, disclose: false };

/** The decision for `action` (subscribe or register) on a prefix or wildcard pattern. */
export function authorizePattern(perms: readonly Permission[], pattern: string, match: PatternMatch, action: Action): Decision {
  const cover = coveringPermission(perms, pattern, match);
  if (cover === undefined || cover.p.allow[action] !== true) return DENY;
  for (let i = 0; i < perms.length; i++) {
    const p = perms[i]!;
    if (i === cover.index || p.allow[action] === true) continue;
    if (!shareUri(p, pattern, match)) continue;
    if (!lessSpecific(p, i, cover.p, cover.index)) return DENY;
  }
  return ALLOW;
}

/** The most specific permission that matches every URI `pattern` can match, with its index. */
export function coveringPermission(perms: readonly Permission[], pattern: string, match: PatternMatch): { p: Permission; index: number } | undefined {
  let best: Permission | undefined;
  let bestIndex = -1;
  for (let i = 0; i < perms.length; i++) {
    const p = perms[i]!;
    if (!covers(p, pattern, match)) continue;
    if (best === undefined || !lessSpecific(p, i, best, bestIndex)) { best = p; bestIndex = i; }
  }
  return best === undefined ? undefined : { p: best, index: bestIndex };
}

/** Does permission `p` match every URI that `pattern` (under `match`) matches? */
export function covers(p: Permission, pattern: string, match: PatternMatch): boolean {
  return patternCovers(p.uri, p.match, pattern, match);
}

/** Is there a URI (non-empty components) both `p` and the pattern match? */
export function shareUri(p: Permission, pattern: string, match: PatternMatch): boolean {
  if (p.match === 'exact') {
    if (p.uri.split('.').includes('')) return false;
    return match === 'prefix' ? p.uri.startsWith(pattern) : wildcardCovers(pattern.split('.'), p.uri.split('.'));
  }
  if (p.match === 'prefix') {
    if (match === 'prefix') return p.uri.startsWith(pattern) || pattern.startsWith(p.uri);
    return prefixMeetsWildcard(p.uri, pattern.split('.'));
  }
  const c = p.uri.split('.');
  if (match === 'prefix') return prefixMeetsWildcard(pattern, c);
  const w = pattern.split('.');
  if (c.length !== w.length) return false;
  for (let i = 0; i < c.length; i++) if (c[i] !== '' && w[i] !== '' && c[i] !== w[i]) return false;
  return true;
}

/** Does wildcard `w` match the URI with components `u`? */
function wildcardCovers(w: readonly string[], u: readonly string[]): boolean {
  if (w.length !== u.length) return false;
  for (let i = 0; i < w.length; i++) if (w[i] !== '' && w[i] !== u[i]) return false;
  return true;
}

/** Is there a URI that starts with `prefix` and matches the wildcard with components `w`? */
function prefixMeetsWildcard(prefix: string, w: readonly string[]): boolean {
  const r = prefix.split('.');
  // The URI has w.length components; the prefix's whole components are its first ones,
  // and its last (possibly empty) part starts the next.
  if (r.length > w.length) return false;
  for (let i = 0; i < r.length - 1; i++) {
    if (r[i] === '') return false;
    if (w[i] !== '' && w[i] !== r[i]) return false;
  }
  const k = r.length - 1;
  return w[k] === '' || w[k]!.startsWith(r[k]!);
}

/**
 * Is `a` (at `ai` in the list) less specific than `b` (at `bi`) wherever both
 * match a URI? Exact beats prefix beats wildcard; the longer prefix wins; the
 * wildcard concrete at the first position where they differ wins; on a tie
 * the one listed first wins (permissions.ts picks the same way).
 */
export function lessSpecific(a: Permission, ai: number, b: Permission, bi: number): boolean {
  const rank = (p: Permission): number => (p.match === 'exact' ? 2 : p.match === 'prefix' ? 1 : 0);
  if (rank(a) !== rank(b)) return rank(a) < rank(b);
  if (a.match === 'exact') return ai > bi;
  if (a.match === 'prefix') return a.uri.length !== b.uri.length ? a.uri.length < b.uri.length : ai > bi;
  if (moreSpecificWildcard(b.uri, a.uri)) return true;
  if (moreSpecificWildcard(a.uri, b.uri)) return false;
  return ai > bi;
}
