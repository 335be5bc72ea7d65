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

/** Does the subscription or registration (uri, match) match the concrete URI `target`? */
export function patternMatches(uri: string, match: MatchPolicy, target: string): boolean {
  if (match === 'exact') return uri === target;
  if (match === 'prefix') return target.startsWith(uri);
  return wildcardMatches(uri, target);
}

/**
 * Does (outer, outerMatch) match every URI that (uri, match) can match? An
 * exact outer covers only the same exact URI; a prefix outer covers what
 * starts with it (a wildcard pattern only if the prefix lies in its fixed
 * head); a wildcard outer covers same-length patterns whose components it
 * fixes identically, never a prefix pattern (which matches any length).
 */
export function patternCovers(outer: string, outerMatch: MatchPolicy, uri: string, match: MatchPolicy): boolean {
  if (outerMatch === 'exact') return match === 'exact' && outer === uri;
  if (match === 'exact') return patternMatches(outer, outerMatch, uri);
  if (match === 'prefix') return outerMatch === 'prefix' && uri.startsWith(outer);
  const w = uri.split('.');
  if (outerMatch === 'prefix') return uri.startsWith(outer) && outer.length <= fixedHeadLength(w);
  const c = outer.split('.');
  if (c.length !== w.length) return false;
  for (let i = 0; i < c.length; i++) if (c[i] !== '' && c[i] !== w[i]) return false;
  return true;
}

/**
 * Characters at the start of a wildcard pattern (split into `w`) that every
 * URI it matches shares: up to and including the dot before its first
 * wildcard component, or all of it when it has none.
 */
function fixedHeadLength(w: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === '') return i === 0 ? 0 : n;
    n += w[i]!.length + 1; // the component and the dot after it
  }
  return n - 1;
}

/**
 * Procedures the router answers itself and no client may register: the
 * spec's and Crossbar's meta API (`wamp.`) and ClawGate's own (`clawgate.`,
 * e.g. clawgate.persistent.list; the namespace of ClawGate's error URIs too).
 */
export function isRouterProcedure(uri: string): boolean {
  return uri.startsWith('wamp.') || uri.startsWith('clawgate.');
}

/** Characters of a client's URI that logs and error messages show. */
export const URI_SHOWN = 100;

/**
 * A client's URI as logs and error messages show it: whole up to 100
 * characters, else the first 100 and the length. A client must not be able
 * to make the router write (or send back) megabytes by sending them.
 */
export function shortUri(uri: string): string {
  return uri.length <= URI_SHOWN ? uri : `${uri.slice(0, URI_SHOWN)}… (${uri.length} characters)`;
}

/** Any client-supplied text in a log line or error message, cut the same way at `max` characters. */
export function shortText(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
