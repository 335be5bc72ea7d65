// URI rules as Crossbar and the spec define them. Loose is the default
// (anything but whitespace, '.' and '#' inside a component); a realm can
// demand strict ([0-9a-z_] components).
import type { MatchPolicy } from './messages/options.js';

const LOOSE = /^([^\s.#]+\.)*([^\s.#]+)$/;
const LOOSE_LAST_EMPTY = /^([^\s.#]+\.)*([^\s.#]*)$/;
const LOOSE_EMPTY = /^(([^\s.#]+\.)|\.)*([^\s.#]+)?$/;
const STRICT = /^([0-9a-z_]+\.)*([0-9a-z_]+)$/;
const STRICT_LAST_EMPTY = /^([0-9a-z_]+\.)*([0-9a-z_]*)$/;
const STRICT_EMPTY = /^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$/;

export type UriCheck = 'loose' | 'strict';

/** A concrete URI (topic to publish on, procedure to call, error, realm). */
export function isValidUri(uri: string, check: UriCheck): boolean {
  return (check === 'strict' ? STRICT : LOOSE).test(uri);
}

/** A subscription or registration URI under a match policy. */
export function isValidPattern(uri: string, match: MatchPolicy, check: UriCheck): boolean {
  if (match === 'exact') return isValidUri(uri, check);
  if (match === 'prefix') return (check === 'strict' ? STRICT_LAST_EMPTY : LOOSE_LAST_EMPTY).test(uri);
  return uri.length > 0 && (check === 'strict' ? STRICT_EMPTY : LOOSE_EMPTY).test(uri);
}

/** Wildcard match: empty components of the pattern match any one component. */
export function wildcardMatches(pattern: string, uri: string): boolean {
  const p = pattern.split('.');
  const u = uri.split('.');
  if (p.length !== u.length) return false;
  for (let i = 0; i < p.length; i++) if (p[i] !== '' && p[i] !== u[i]) return false;
  return true;
}
