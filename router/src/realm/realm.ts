// A realm: the sessions joined to it, its broker and dealer, its roles, and
// the meta API. Everything routing-related happens inside one realm.
//
// The realm is the broker's, dealer's and meta API's RealmContext
// (routing/realm-context.ts): they reach it, and the sessions, only through
// the routing contracts, so nothing they import leads back here.
import type { Dict } from '../messages/types.js';
import { Broker } from '../broker/broker.js';
import { EventHistory, type HistoryEntryConfig } from '../broker/event-history.js';
import { sqliteHistory, type HistoryStoreConfig } from '../broker/history-store.js';
import { Dealer } from '../dealer/dealer.js';
import { MetaApi } from '../meta/meta-api.js';
import { Testaments } from '../meta/testaments.js';
import type { Action, Decision, Permission } from '../auth/permissions.js';
import { Role } from './role.js';
import { isValidPattern, isValidUri, shortUri, type UriCheck } from '../uri.js';
import type { MatchPolicy } from '../messages/options.js';
import type { Identity } from '../auth/auth-policy.js';
import type { Peer } from '../routing/peer.js';
import type { RealmContext } from '../routing/realm-context.js';
import { routerRoles } from './router-roles.js';
import type { Logger } from '../logger.js';
import { DEFAULT_REALM_LIMITS, NO_SESSION_LIMITS, type RealmLimits, type SessionLimits } from '../limits/limits-config.js';
import { admissionRefusal, unusedReserved, type OtherNodesCounts } from '../limits/admission.js';
import type { LimitCounters } from '../limits/limit-counters.js';
import type { BrokerClusterLink } from '../broker/cluster-link.js';
import type { DealerClusterLink } from '../dealer/cluster-link.js';
import type { ClusterSessions } from '../meta/meta-api.js';
import type { ClusterMeta } from '../meta/cluster-answers.js';
import type { Testament } from '../meta/testaments.js';

/** What a realm tells the cluster of its sessions (cluster/session-link.ts), and what the meta API asks of it. */
export interface RealmClusterSessions extends ClusterSessions {
  joined(session: Member): void;
  left(session: Peer): void;
  testamentsChanged(session: Peer, destroyed: Testament[], detached: Testament[]): void;
  /** The sessions of the other live nodes, as admission counts them (session limits count the cluster). */
  othersCounts(): OtherNodesCounts;
}

/** Where a cluster node's own subscription meta events go instead of its subscribers (cluster/subscription-link.ts). */
export interface ClusterSubscriptionEvents {
  local(topic: string, args: unknown[]): void;
}

/** A realm-level warning (not tied to a live session) is logged at most this often. */
const REALM_LOG_INTERVAL_MS = 60_000;

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
  /** Accept a client's request ids out of sequence (legacy clients). Default false: the spec's 1, 2, 3, ... */
  legacyRequestIds?: boolean;
  /** Event history kept in memory (Crossbar's `store` section, type memory); none when absent. */
  eventHistory?: HistoryEntryConfig[];
  /** Where the event history is also kept, to survive a restart (store type sqlite); memory only when absent. */
  historyStore?: HistoryStoreConfig;
  /** The most events one get_events answer carries (store max_events_per_read); DEFAULT_MAX_EVENTS_PER_READ when absent. */
  historyMaxEventsPerRead?: number;
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

/** A session as the realm counts it: a Peer, and the key per-address limits count its client under. */
export interface Member extends Peer {
  /** TransportInfo.address: undefined for in-process sessions and a trusted proxy's own connections. */
  readonly address: string | undefined;
}

export class Realm implements RealmContext {
  readonly name: string;
  readonly uriCheck: UriCheck;
  readonly sessions = new Map<number, Member>();
  readonly broker: Broker;
  readonly dealer: Dealer;
  readonly meta: MetaApi;
  readonly testaments = new Testaments();
  private readonly roles = new Map<string, Role>();
  private readonly welcomeRoles = routerRoles();
  private readonly implicitTrusted = new Role(TRUSTED_ROLE, [ALLOW_ALL]);
  private readonly authorizerTimeoutMs: number;
  readonly limits: RealmLimits;
  /** A client's request ids need not be sequential (realm option legacy_request_ids). */
  readonly legacyRequestIds: boolean;
  /** Sessions per authid, for max_sessions_per_authid. */
  private readonly authidCounts = new Map<string, number>();
  /** Remote sessions per client address, for max_sessions_per_address. */
  private readonly addressCounts = new Map<string, number>();
  /** Remote sessions per role, for reserved_sessions. */
  private readonly roleCounts = new Map<string, number>();

  constructor(config: RealmConfig, private readonly log: Logger, private readonly counters?: LimitCounters) {
    this.name = config.name;
    this.limits = config.limits ?? DEFAULT_REALM_LIMITS;
    this.uriCheck = config.uriCheck ?? 'loose';
    this.authorizerTimeoutMs = config.authorizerTimeoutMs ?? DEFAULT_AUTHORIZER_TIMEOUT_MS;
    this.legacyRequestIds = config.legacyRequestIds === true;
    for (const r of config.roles) this.roles.set(r.name, new Role(r.name, r.permissions, r.authorizer));
    // With a store but no entries the history is still made: opening it deletes the rows of the entries removed from the config.
    const entries = config.eventHistory ?? [];
    const store = config.historyStore;
    this.broker = new Broker(this, entries.length > 0 || store !== undefined
      ? new EventHistory(entries, store === undefined ? undefined : sqliteHistory(store, this.name, log), config.historyMaxEventsPerRead)
      : null);
    this.dealer = new Dealer(this);
    this.meta = new MetaApi(this, { sessions: this.sessions, testaments: this.testaments, subscriptions: this.broker, registrations: this.dealer, history: this.broker.history, eventFilter: (id) => this.broker.eventFilter(id) });
  }

  /** Opens the event history's file, if the realm keeps one (Router.start); throws when it can't be used. */
  open(): void {
    this.broker.history?.open();
  }

  /**
   * The realm is spread over the nodes of a cluster (cluster/realm-link.ts;
   * before the router starts): publications reach the other nodes'
   * subscribers, subscriptions and registrations get cluster-wide ids, and
   * the meta API answers for the cluster (docs/cluster.md).
   */
  joinCluster(link: BrokerClusterLink, calls: DealerClusterLink, sessions: RealmClusterSessions, meta: ClusterMeta, subscriptions: ClusterSubscriptionEvents): void {
    this.clusterSubscriptions = subscriptions;
    this.broker.cluster = link;
    this.dealer.cluster = calls;
    this.clusterSessions = sessions;
    this.testaments.changed = (s, destroyed, detached) => sessions.testamentsChanged(s, destroyed, detached);
    this.meta.cluster = sessions;
    this.meta.clusterMeta = meta;
  }

  /** The sessions of the other nodes (cluster/session-link.ts), on a cluster node. */
  private clusterSessions: RealmClusterSessions | null = null;
  /** The cluster's subscription meta events (cluster/subscription-link.ts), on a cluster node. */
  private clusterSubscriptions: ClusterSubscriptionEvents | null = null;

  /** Writes the event history's last batch and closes its file (Router.stop). */
  close(): void {
    const durable = this.broker.history?.durablyKept === true;
    this.broker.history?.close();
    // Without a durable store the persistent subscriptions end with the router (their ttl timers with them);
    // with one, the store's close has handed them over to the file.
    if (!durable) this.broker.persistent.closing();
  }

  private roleOf(session: Peer): Role | undefined {
    const role = this.roles.get(session.authrole);
    if (role !== undefined) return role;
    return session.authrole === TRUSTED_ROLE && session.isLocal ? this.implicitTrusted : undefined;
  }

  hasRole(session: Peer, name: string): boolean {
    return this.roles.has(name) || (name === TRUSTED_ROLE && session.isLocal);
  }

  routerRoles(): Dict {
    return this.welcomeRoles;
  }

  /**
   * The decision for `session` doing `action` on `uri`. A Promise only when
   * the session's role has a dynamic authorizer that must be asked.
   */
  decide(session: Peer, uri: string, action: Action, options: Dict = {}, match: MatchPolicy = 'exact'): Decision | Promise<Decision> {
    const role = this.roleOf(session);
    if (role === undefined) return DENY;
    return role.decide(session, uri, action, options, this.callAuthorizer, this.log, match);
  }

  /**
   * Runs `then` with the decision: at once when it is known, otherwise when
   * the authorizer has answered. Meanwhile the session's later messages wait,
   * so a session's messages are still handled in the order they came.
   */
  authorize(session: Peer, uri: string, action: Action, options: Dict, then: (d: Decision) => void, match: MatchPolicy = 'exact'): void {
    const d = this.decide(session, uri, action, options, match);
    if (d instanceof Promise) session.holdUntil(d, then);
    else then(d);
  }

  private readonly callAuthorizer = (procedure: string, args: unknown[]): Promise<unknown> =>
    this.dealer.callInternal(procedure, args, this.authorizerTimeoutMs).then((r) => r.args[0]);

  /** A refused action: counted, and logged once per session (Peer.refused). */
  denied(session: Peer, uri: string, action: Action, why?: string): void {
    // One line per session for each action (and reason): at most a dozen, however many it tries.
    session.refused('not_authorized', 'not authorized', { uri: shortUri(uri), uri_length: uri.length, action, why }, why === undefined ? action : `${action} ${why}`);
  }

  /**
   * Why a URI a client sent can't be used (`what`: "topic", "procedure";
   * `match` for subscriptions and registrations), or undefined. Too long is
   * checked first, so the URI check's regular expression never runs over
   * more than max_uri_length characters, and neither answer quotes more
   * than the first 100 of them.
   */
  uriRefusal(session: Peer, uri: string, what: string, match?: MatchPolicy): string | undefined {
    const max = this.limits.maxUriLength;
    if (uri.length > max) {
      session.refused('uri_too_long', 'URI too long', { uri: shortUri(uri), uri_length: uri.length, max_uri_length: max });
      return `${what} URI of ${uri.length} characters is longer than max_uri_length (${max}): "${shortUri(uri)}"`;
    }
    if (match === undefined ? isValidUri(uri, this.uriCheck) : isValidPattern(uri, match, this.uriCheck)) return undefined;
    session.refused('invalid_uri', 'invalid URI', { uri: shortUri(uri), what });
    return `invalid ${match === undefined ? '' : `${match} `}${what} URI "${shortUri(uri)}"`;
  }

  /** The limits on a session's own traffic. In-process sessions are trusted and not limited. */
  sessionLimits(session: Peer, authrole: string): SessionLimits {
    if (session.isLocal) return NO_SESSION_LIMITS;
    return this.limits.roles[authrole] ?? this.limits;
  }

  private lastRetainDropLog = -Infinity;

  /** Publishes a meta event to whoever subscribed to it (no publisher session). */
  metaEvent(topic: string, args: unknown[]): void {
    // On a cluster node, session events (ids unique in the cluster) go to every node; a registration's are this
    // node's own (every node's dealer holds every callee); a subscription's are the cluster's, emitted by every node
    // from the cluster's subscription table, which this node's own become entries of: docs/cluster.md.
    if (this.clusterSubscriptions !== null && topic.startsWith('wamp.subscription.')) { this.clusterSubscriptions.local(topic, args); return; }
    this.broker.publishInternal(topic, { args, details: {} }, undefined, this.broker.cluster !== null && !topic.startsWith('wamp.session.'));
  }

  callMeta(caller: Peer, procedure: string, args: unknown[], kwargs: Dict): unknown {
    return this.meta.call(caller, procedure, args, kwargs);
  }

  /** A testament asked to be retained beyond the retained limits: delivered, not retained (broker). */
  retainDropped(topic: string, why: string): void {
    if (this.counters) this.counters.retainRefused++;
    const now = Date.now();
    if (now - this.lastRetainDropLog < REALM_LOG_INTERVAL_MS) { if (this.counters) this.counters.logsSuppressed++; return; }
    this.lastRetainDropLog = now;
    this.log.warn({ realm: this.name, uri: shortUri(topic), why, note: `logged at most once a minute; counted in clawgate_limit_events_total{kind="retain_refused"}` }, 'testament published but not retained');
  }

  /** Why an authenticated session may not join (too many sessions), or undefined. */
  admissionRefusal(session: Member, identity: Identity): string | undefined {
    if (session.isLocal) return undefined;
    const address = session.address;
    // On a cluster node the realm's, an authid's and an address's sessions are counted over every node
    // (docs/cluster.md, "Session limits"): this node's exactly, the others' from the session table it already holds.
    const others = this.clusterSessions?.othersCounts();
    const ofRole = others === undefined
      ? (role: string): number => this.roleCounts.get(role) ?? 0
      : (role: string): number => (this.roleCounts.get(role) ?? 0) + others.role(role);
    return admissionRefusal(this.limits, this.sessionLimits(session, identity.authrole), {
      realmSessions: this.remoteSessions + (others?.sessions ?? 0),
      authidSessions: (this.authidCounts.get(identity.authid) ?? 0) + (others?.authid(identity.authid) ?? 0),
      addressSessions: address === undefined ? 0 : (this.addressCounts.get(address) ?? 0) + (others?.address(address) ?? 0),
      roleSessions: ofRole(identity.authrole),
      unusedReserved: unusedReserved(this.limits.reserved, ofRole),
      authid: identity.authid, authrole: identity.authrole, address, realm: this.name, anonymous: identity.authmethod === 'anonymous',
    });
  }

  /** Remote sessions on the realm (what max_sessions counts; in-process ones are not counted). */
  private remoteSessions = 0;

  join(session: Member): void {
    this.sessions.set(session.id, session);
    this.authidCounts.set(session.authid, (this.authidCounts.get(session.authid) ?? 0) + 1);
    if (!session.isLocal) {
      this.remoteSessions++;
      increment(this.roleCounts, session.authrole, 1);
      const address = session.address;
      if (address !== undefined) increment(this.addressCounts, address, 1);
    }
    this.clusterSessions?.joined(session);
    this.metaEvent('wamp.session.on_join', [session.details()]);
  }

  leave(session: Member): void {
    if (!this.sessions.delete(session.id)) return;
    increment(this.authidCounts, session.authid, -1);
    if (!session.isLocal) {
      this.remoteSessions--;
      increment(this.roleCounts, session.authrole, -1);
      const address = session.address;
      if (address !== undefined) increment(this.addressCounts, address, -1);
    }
    // Testaments first: they are the session's last words, and may go to
    // subscribers that are themselves leaving in this same shutdown.
    for (const t of this.testaments.take(session, 'detached')) this.broker.publishInternal(t.topic, t.data, t.options);
    for (const t of this.testaments.take(session, 'destroyed')) this.broker.publishInternal(t.topic, t.data, t.options);
    this.clusterSessions?.left(session);
    this.dealer.sessionLeft(session);
    this.broker.sessionLeft(session);
    this.metaEvent('wamp.session.on_leave', [session.id, session.authid, session.authrole]);
  }
}

/** Adds `by` to a count in `counts`, dropping the key at zero (the maps stay as small as what they count). */
function increment(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n <= 0) counts.delete(key); else counts.set(key, n);
}
