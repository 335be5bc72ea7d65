// A role on a realm, and how its decisions are made and cached:
// - static permissions: a pure function of (role, action, uri), cached per role;
// - permissions with URI templates: expanded once per session, cached per session;
// - a dynamic authorizer: a procedure asked per (session, uri, action),
//   cached per session when it answers `cache: true`.
// A prefix or wildcard SUBSCRIBE/REGISTER is decided for everything the
// pattern matches (auth/pattern-authorization.ts), and cached under its
// match policy as well as its URI: an exact grant of `x` must not answer
// for a prefix subscription to `x`.
import type { Dict } from '../messages/types.js';
import { authorize, type Action, type Decision, type Permission } from '../auth/permissions.js';
import { expandPermissions, isTemplate } from '../auth/uri-template.js';
import { parseAuthorizerAnswer } from '../auth/authorizer.js';
import { authorizePattern } from '../auth/pattern-authorization.js';
import type { MatchPolicy } from '../messages/options.js';
import { shortUri } from '../uri.js';
import type { Actor } from '../routing/peer.js';

const CACHE_LIMIT = 10_000;
const SESSION_CACHE_LIMIT = 1_000;
/**
 * Characters of URIs a role's decision cache may hold: with max_uri_length
 * raised, 10,000 entries could otherwise hold gigabytes of URIs.
 */
const CACHE_CHARS_LIMIT = 4 * 1024 * 1024;
const DENY: Decision = { allow: false, disclose: false };

/** How a role reaches its authorizer procedure. */
export interface AuthorizerCall {
  (procedure: string, args: unknown[]): Promise<unknown>;
}

export interface RoleLog {
  warn(obj: object, msg: string): void;
}

/** Bounded: a client spraying random URIs must not grow a cache forever. */
function remember(cache: Map<string, Decision>, limit: number, key: string, d: Decision): void {
  if (cache.size >= limit) cache.clear();
  cache.set(key, d);
}

/** A per-session cache's keys are bounded by count and characters together. */
interface SizedCache { map: Map<string, Decision>; chars: number }

function rememberSized(cache: SizedCache, limit: number, key: string, d: Decision): void {
  if (cache.map.size >= limit || cache.chars + key.length > CACHE_CHARS_LIMIT / 4) { cache.map.clear(); cache.chars = 0; }
  cache.map.set(key, d);
  cache.chars += key.length;
}

interface PerSession {
  perms: readonly Permission[];
  cache: SizedCache;
  /** An authorizer failure was logged for this session (later ones are not: a client could repeat them). */
  failureLogged?: boolean;
}

export class Role {
  /** Static decisions by action, then URI: no key string to build per message. */
  private readonly cache: Record<Action, Map<string, Decision>> = { call: new Map(), register: new Map(), publish: new Map(), subscribe: new Map() };
  /** Characters of the URIs in `cache` (all actions). */
  private cachedChars = 0;
  private readonly templated: boolean;
  /** Per session, gone with the session. */
  private readonly sessions = new WeakMap<Actor, PerSession>();

  constructor(
    readonly name: string,
    readonly permissions: readonly Permission[],
    readonly authorizer?: string,
  ) {
    this.templated = permissions.some((p) => isTemplate(p.uri));
  }

  private perSession(s: Actor): PerSession {
    let ps = this.sessions.get(s);
    if (ps === undefined) {
      const perms = this.templated
        ? expandPermissions(this.permissions, { authid: s.authid, authrole: s.authrole, session: String(s.id) })
        : this.permissions;
      ps = { perms, cache: { map: new Map(), chars: 0 } };
      this.sessions.set(s, ps);
    }
    return ps;
  }

  /** Static permissions only (no session): kept for callers that have none. */
  authorize(uri: string, action: Action, match: MatchPolicy = 'exact'): Decision {
    const cache = this.cache[action];
    // No URI holds a space (loose and strict checks alike), so a pattern's key can't be an exact URI's.
    const key = match === 'exact' ? uri : match + ' ' + uri;
    let d = cache.get(key);
    if (d === undefined) {
      d = decideStatic(this.permissions, uri, action, match);
      if (this.cachedChars + key.length > CACHE_CHARS_LIMIT) {
        for (const c of Object.values(this.cache)) c.clear();
        this.cachedChars = 0;
      }
      remember(cache, CACHE_LIMIT, key, d);
      this.cachedChars += key.length;
    }
    return d;
  }

  /**
   * The decision for `session` doing `action` on `uri` (a pattern under
   * `match` for SUBSCRIBE and REGISTER); a Promise only when the authorizer
   * must be asked.
   */
  decide(session: Actor, uri: string, action: Action, options: Dict, call: AuthorizerCall, log: RoleLog, match: MatchPolicy = 'exact'): Decision | Promise<Decision> {
    if (this.authorizer !== undefined) return this.askAuthorizer(session, uri, action, options, call, log, match);
    if (!this.templated) return this.authorize(uri, action, match);
    const ps = this.perSession(session);
    const key = match === 'exact' ? action + ' ' + uri : action + ' ' + match + ' ' + uri;
    let d = ps.cache.map.get(key);
    if (d === undefined) {
      d = decideStatic(ps.perms, uri, action, match);
      rememberSized(ps.cache, SESSION_CACHE_LIMIT, key, d);
    }
    return d;
  }

  private askAuthorizer(session: Actor, uri: string, action: Action, options: Dict, call: AuthorizerCall, log: RoleLog, match: MatchPolicy): Decision | Promise<Decision> {
    const procedure = this.authorizer!;
    const ps = this.perSession(session);
    const key = match === 'exact' ? action + ' ' + uri : action + ' ' + match + ' ' + uri;
    const cached = ps.cache.map.get(key);
    if (cached !== undefined) return cached;
    // The authorizer decides a pattern as a pattern: `options.match` always names the policy.
    const asked = match !== 'exact' && options.match !== match ? { ...options, match } : options;
    // Crossbar's convention: (session details, uri, action, options).
    return call(procedure, [session.details(), uri, action, asked]).then(
      (answer) => {
        const a = parseAuthorizerAnswer(answer);
        if (a === undefined) {
          if (!ps.failureLogged) {
            ps.failureLogged = true;
            log.warn({ session: session.id, authorizer: procedure, uri: shortUri(uri), action, note: 'logged once per session' }, 'authorizer returned neither a boolean nor {allow, disclose?, cache?}: denied');
          }
          return DENY;
        }
        if (a.cache) rememberSized(ps.cache, SESSION_CACHE_LIMIT, key, a.decision);
        return a.decision;
      },
      (e: unknown) => {
        if (!ps.failureLogged) {
          ps.failureLogged = true;
          log.warn({ session: session.id, authorizer: procedure, uri: shortUri(uri), action, err: (e as Error)?.message, note: 'logged once per session' }, 'authorizer failed: denied');
        }
        return DENY;
      },
    );
  }
}

function decideStatic(perms: readonly Permission[], uri: string, action: Action, match: MatchPolicy): Decision {
  return match === 'exact' ? authorize(perms, uri, action) : authorizePattern(perms, uri, match, action);
}
