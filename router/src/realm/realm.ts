// A realm: the sessions joined to it, its broker and dealer, its roles, and
// the meta API. Everything routing-related happens inside one realm.
import type { Dict } from '../messages/types.js';
import type { Session } from '../session/session.js';
import { Broker } from '../broker/broker.js';
import { Dealer } from '../dealer/dealer.js';
import { MetaApi } from '../meta/meta-api.js';
import { Testaments } from '../meta/testaments.js';
import type { Action, Decision, Permission } from '../auth/permissions.js';
import { Role } from './role.js';
import type { UriCheck } from '../uri.js';
import { routerRoles } from './router-roles.js';
import type { Logger } from '../logger.js';
import { DEFAULT_REALM_LIMITS, NO_SESSION_LIMITS, type RealmLimits, type SessionLimits } from '../limits/limits-config.js';
import { admissionRefusal } from '../limits/admission.js';

export interface RoleConfig {
  name: string;
  /** Static permissions; URIs may use the templates `{authid}`, `{authrole}`, `{session}`. */
  permissions: Permission[];
  /** A dynamic authorizer procedure (Crossbar): asked instead of `permissions`. */
  authorizer?: string;
}

export interface RealmConfig {
  name: string;
  roles: RoleConfig[];
  uriCheck?: UriCheck;
  /** How long the router waits for a dynamic authorizer before denying. Default 5000 ms. */
  authorizerTimeoutMs?: number;
  /** Session counts and per-session limits (limits/limits-config.ts). Default: production defaults. */
  limits?: RealmLimits;
}

export const DEFAULT_AUTHORIZER_TIMEOUT_MS = 5000;

const DENY: Decision = { allow: false, disclose: false };

/**
 * In-process sessions of the embedding application get this role unless the
 * config defines it. The implicit role exists only for in-process sessions:
 * a remote client mapped to `trusted` gets the config's role or none.
 */
export const TRUSTED_ROLE = 'trusted';

const ALLOW_ALL: Permission = {
  uri: '', match: 'prefix',
  allow: { call: true, register: true, publish: true, subscribe: true },
  disclose: { caller: false, publisher: false },
};

export class Realm {
  readonly name: string;
  readonly uriCheck: UriCheck;
  readonly sessions = new Map<number, Session>();
  readonly broker: Broker;
  readonly dealer: Dealer;
  readonly meta: MetaApi;
  readonly testaments = new Testaments();
  private readonly roles = new Map<string, Role>();
  private readonly welcomeRoles = routerRoles();
  private readonly implicitTrusted = new Role(TRUSTED_ROLE, [ALLOW_ALL]);
  private readonly authorizerTimeoutMs: number;
  readonly limits: RealmLimits;
  /** Sessions per authid, for max_sessions_per_authid. */
  private readonly authidCounts = new Map<string, number>();

  constructor(config: RealmConfig, private readonly log: Logger) {
    this.name = config.name;
    this.limits = config.limits ?? DEFAULT_REALM_LIMITS;
    this.uriCheck = config.uriCheck ?? 'loose';
    this.authorizerTimeoutMs = config.authorizerTimeoutMs ?? DEFAULT_AUTHORIZER_TIMEOUT_MS;
    for (const r of config.roles) this.roles.set(r.name, new Role(r.name, r.permissions, r.authorizer));
    this.broker = new Broker(this);
    this.dealer = new Dealer(this);
    this.meta = new MetaApi(this);
  }

  private roleOf(session: Session): Role | undefined {
    const role = this.roles.get(session.authrole);
    if (role !== undefined) return role;
    return session.authrole === TRUSTED_ROLE && session.transport.info.kind === 'local' ? this.implicitTrusted : undefined;
  }

  hasRole(session: Session, name: string): boolean {
    return this.roles.has(name) || (name === TRUSTED_ROLE && session.transport.info.kind === 'local');
  }

  routerRoles(): Dict {
    return this.welcomeRoles;
  }

  /**
   * The decision for `session` doing `action` on `uri`. A Promise only when
   * the session's role has a dynamic authorizer that must be asked.
   */
  decide(session: Session, uri: string, action: Action, options: Dict = {}): Decision | Promise<Decision> {
    const role = this.roleOf(session);
    if (role === undefined) return DENY;
    return role.decide(session, uri, action, options, this.callAuthorizer, this.log);
  }

  /**
   * Runs `then` with the decision: at once when it is known, otherwise when
   * the authorizer has answered. Meanwhile the session's later messages wait,
   * so a session's messages are still handled in the order they came.
   */
  authorize(session: Session, uri: string, action: Action, options: Dict, then: (d: Decision) => void): void {
    const d = this.decide(session, uri, action, options);
    if (d instanceof Promise) session.holdUntil(d, then);
    else then(d);
  }

  private readonly callAuthorizer = (procedure: string, args: unknown[]): Promise<unknown> =>
    this.dealer.callInternal(procedure, args, this.authorizerTimeoutMs).then((r) => r.args[0]);

  denied(session: Session, uri: string, action: Action, why?: string): void {
    this.log.warn({ session: session.id, authid: session.authid, authrole: session.authrole, uri, action, why }, 'not authorized');
  }

  /** The limits on a session's own traffic. In-process sessions are trusted and not limited. */
  sessionLimits(session: Session, authrole: string): SessionLimits {
    if (session.transport.info.kind === 'local') return NO_SESSION_LIMITS;
    return this.limits.roles[authrole] ?? this.limits;
  }

  /** Why an authenticated session may not join (too many sessions), or undefined. */
  admissionRefusal(session: Session, authid: string, authrole: string, authmethod: string): string | undefined {
    if (session.transport.info.kind === 'local') return undefined;
    return admissionRefusal(this.limits, this.sessionLimits(session, authrole), {
      realmSessions: this.sessions.size, authidSessions: this.authidCounts.get(authid) ?? 0,
      authid, realm: this.name, anonymous: authmethod === 'anonymous',
    });
  }

  join(session: Session): void {
    this.sessions.set(session.id, session);
    this.authidCounts.set(session.authid, (this.authidCounts.get(session.authid) ?? 0) + 1);
    this.meta.publish('wamp.session.on_join', [session.details()]);
  }

  leave(session: Session): void {
    if (!this.sessions.delete(session.id)) return;
    const n = (this.authidCounts.get(session.authid) ?? 1) - 1;
    if (n <= 0) this.authidCounts.delete(session.authid); else this.authidCounts.set(session.authid, n);
    // Testaments first: they are the session's last words, and may go to
    // subscribers that are themselves leaving in this same shutdown.
    for (const t of this.testaments.take(session, 'detached')) this.broker.publishInternal(t.topic, t.data, t.options);
    for (const t of this.testaments.take(session, 'destroyed')) this.broker.publishInternal(t.topic, t.data, t.options);
    this.dealer.sessionLeft(session);
    this.broker.sessionLeft(session);
    this.meta.publish('wamp.session.on_leave', [session.id, session.authid, session.authrole]);
  }
}
