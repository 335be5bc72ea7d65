// The broker: subscriptions, publications, event dispatch and retention.
//
// Fan-out cost: one EVENT (and one encoding per serializer in use) per
// matching subscription, then a loop of socket writes. Subscriptions that
// don't match the topic cost nothing (see routing/uri-index.ts). A
// subscription with an event filter (x_filter, content-filter.ts) is one of
// its own beside the plain one of its (topic, match); its filter is
// evaluated once per publication for all its subscribers, and the EVENT is
// built and encoded only if it passes.
//
// The subscriptions themselves (index, ids, who holds what, meta events)
// are an ObservationMap (routing/observation-map.ts), shared in form with
// the dealer's registrations; what is here is the broker's own rules.
//
// Persistent subscriptions (x_persistent, persistent-subscriptions.ts) are
// ordinary subscriptions while a session holds them; detached, they are
// offered each publication after its fan-out, which costs one comparison
// per publication while none is detached.
import {
  MessageType, type Dict, type Event, type Publish, type Subscribe, type Unsubscribe,
} from '../messages/types.js';
import { FILTER_OPTION, type MatchPolicy } from '../messages/options.js';
import { Outgoing } from '../transport/outgoing.js';
import type { Peer } from '../routing/peer.js';
import type { RealmContext } from '../routing/realm-context.js';
import type { PublicationData } from '../routing/publication.js';
import { disclose } from '../routing/disclosure.js';
import { ObservationMap, type Observation, type ObservationKind, type ObservationOwner } from '../routing/observation-map.js';
import { nodeRandomId, randomId, sharedId } from '../ids.js';
import { WampErrors } from '../errors.js';
import { shortUri, wildcardMatches } from '../uri.js';
import { retainRefusal } from '../limits/retention.js';
import { compileReceiverFilter, receiverLists, type ReceiverFilter } from './receiver-filter.js';
import type { BrokerClusterLink } from './cluster-link.js';
import { copyPassthrough } from '../messages/validate.js';
import type { Decision } from '../auth/permissions.js';
import type { EventHistory } from './event-history.js';
import { compileFilter, type ContentFilter } from './content-filter.js';
import { FilterEvent } from './filter-event.js';
import { eventSize } from './event-size.js';
import { PersistentSubscriptions, type KeptEvent } from './persistent-subscriptions.js';
import { PERSISTENT_OPTION, parsePersistentOption, type PersistentOption } from './persistent-option.js';

export interface Subscription extends Observation {
  /** The subscribers: a Set, so that the fan-out loop and (un)subscribing cost the same at any count. */
  readonly observers: Set<Peer>;
  /** Its event filter (compiled when the subscription was created); the variant is the filter's normal form. */
  readonly filter: ContentFilter | null;
}

export const SUBSCRIPTIONS: ObservationKind<Subscription> = {
  noun: 'subscription', observer: 'subscriber', uriName: 'topic', verb: 'subscribe', matching: 'all',
  describe: (sub) => sub.filter === null
    ? { id: sub.id, created: sub.created, uri: sub.uri, match: sub.match }
    : { id: sub.id, created: sub.created, uri: sub.uri, match: sub.match, [FILTER_OPTION]: sub.filter.text },
};

interface RetainedEvent extends PublicationData {
  publication: number;
  filter: ReceiverFilter | null;
  /** Bytes it counts against the retained limits. */
  size: number;
  /** On a cluster node, its place in the cluster's order of retained events (the greatest is kept); 0 otherwise. */
  stamp: number;
}

/** EVENT.Details key of an event a persistent subscription kept while detached, replayed when it is held again. */
export const REPLAYED_DETAIL = 'x_replayed';

export class Broker implements ObservationOwner<Subscription> {
  readonly observations: ObservationMap<Subscription>;
  private readonly retained = new Map<string, RetainedEvent>();
  private retainedBytes = 0;
  /** Subscriptions tied to (authid, name) that outlive their sessions (x_persistent). */
  readonly persistent: PersistentSubscriptions;
  /** The other nodes of the realm, when this router is a cluster node (docs/cluster.md); set before the router starts. */
  cluster: BrokerClusterLink | null = null;

  constructor(private readonly realm: RealmContext, readonly history: EventHistory | null = null) {
    this.observations = new ObservationMap(SUBSCRIPTIONS, (topic, args) => realm.metaEvent(topic, args));
    this.persistent = new PersistentSubscriptions(realm.limits);
    // One durable store per realm: with a sqlite store, persistent subscriptions are kept in the history's file.
    history?.addTenant(this.persistent);
  }

  // ---- PUBLISH -------------------------------------------------------------

  publish(session: Peer, m: Publish): void {
    const ack = m.options.acknowledge === true;
    const refuse = (error: string, message: string): void => {
      // The spec answers a publication only when it asked for acknowledgement.
      if (ack) session.sendError(MessageType.PUBLISH, m.request, error, [message]);
    };
    const bad = this.realm.uriRefusal(session, m.topic, 'topic');
    if (bad !== undefined) { refuse(WampErrors.invalidUri, bad); return; }
    if (m.topic.startsWith('wamp.')) { refuse(WampErrors.invalidUri, `topic "${shortUri(m.topic)}" is reserved for the router`); return; }
    // Written out rather than realm.authorize(): no closure on the hot path when the decision is known.
    const decision = this.realm.decide(session, m.topic, 'publish', m.options);
    if (decision instanceof Promise) session.holdUntil(decision, (d) => this.publishAuthorized(session, m, d));
    else this.publishAuthorized(session, m, decision);
  }

  private publishAuthorized(session: Peer, m: Publish, decision: Decision): void {
    const ack = m.options.acknowledge === true;
    const refuse = (error: string, message: string): void => {
      if (ack) session.sendError(MessageType.PUBLISH, m.request, error, [message]);
    };
    if (!decision.allow) {
      this.realm.denied(session, m.topic, 'publish');
      refuse(WampErrors.notAuthorized, `session is not authorized to publish to topic "${shortUri(m.topic)}"`);
      return;
    }
    if (m.options.disclose_me === true && !decision.disclose) {
      this.realm.denied(session, m.topic, 'publish', 'disclose_me not allowed');
      refuse(WampErrors.optionDisallowedDiscloseMe, `role "${session.authrole}" may not disclose itself when publishing to "${shortUri(m.topic)}"`);
      return;
    }
    const cap = decision.maxPublicationSize;
    if (cap !== undefined && m.size !== undefined && m.size > cap) {
      session.refused('publication_too_large', 'publication too large', { uri: shortUri(m.topic), size: m.size, max_publication_size: cap });
      refuse(WampErrors.payloadTooLarge, `a publication of ${m.size} bytes is larger than the ${cap} bytes allowed on topic "${shortUri(m.topic)}"`);
      return;
    }
    const cluster = this.cluster;
    if (cluster !== null && m.size !== undefined && m.size > cluster.maxPublicationSize) {
      session.refused('publication_too_large', 'publication too large', { uri: shortUri(m.topic), size: m.size, cluster_max: cluster.maxPublicationSize });
      refuse(WampErrors.payloadTooLarge, `a publication of ${m.size} bytes is larger than the ${cluster.maxPublicationSize} bytes the router cluster carries between nodes (NATS max_payload)`);
      return;
    }
    const retain = m.options.retain === true;
    if (retain && !(decision.retain ?? decision.allow)) {
      session.refused('retain_not_allowed', 'retain not allowed', { uri: shortUri(m.topic) });
      refuse(WampErrors.notAuthorized, `role "${session.authrole}" may not retain events on topic "${shortUri(m.topic)}"`);
      return;
    }
    const publication = cluster === null ? randomId() : nodeRandomId(cluster.slot);
    const details: Dict = {};
    if (decision.disclose) disclose(details, 'publisher', session);
    copyPassthrough(m.options, details);
    const data: PublicationData = { args: m.args, kwargs: m.kwargs, payload: m.payload, details };
    const filter = compileReceiverFilter(m.options);
    let stamp = 0;
    if (retain) {
      const size = eventSize(data, m.size);
      const over = this.retainRefusal(m.topic, size);
      if (over !== undefined) {
        session.refused('retain_limit', 'retain limit', { uri: shortUri(m.topic), size, why: over });
        refuse(WampErrors.retainLimit, `not published: ${over}`);
        return;
      }
      stamp = cluster === null ? 0 : cluster.retainStamp();
      this.retain(m.topic, { ...data, publication, filter, size, stamp });
    }
    // PUBLISHED goes out before the events, so a publisher that is also a
    // subscriber sees its acknowledgement first (Crossbar does the same).
    if (ack) session.send({ type: MessageType.PUBLISHED, request: m.request, publication });
    if (this.history !== null) this.history.record(m.topic, publication, data, filter, m.size);
    const excluded = m.options.exclude_me === false ? null : session;
    this.dispatch(m.topic, publication, data, excluded, filter, m.size);
    if (cluster !== null) cluster.published(m.topic, publication, data, filter === null ? null : receiverLists(filter.options), stamp);
  }

  /**
   * A publication from the router itself (meta events, testaments). A
   * testament that asks to be retained is retained only within the realm's
   * retained limits (its session is gone: there is nobody to refuse); it is
   * delivered either way. `lostStamp` (cluster, with `nodeOnly`): the
   * publication is a lost node's (its sessions' testaments, which every node
   * publishes to its own subscribers): retained at that stamp only if it is
   * later than the event held, and written to the cluster's retained store.
   */
  publishInternal(topic: string, data: PublicationData, options: Dict = {}, nodeOnly = false, lostStamp = 0): void {
    const publication = this.cluster === null ? randomId() : nodeRandomId(this.cluster.slot);
    const filter = compileReceiverFilter(options);
    const cluster = nodeOnly ? null : this.cluster;
    let stamp = 0;
    if (options.retain === true) {
      const size = eventSize(data, undefined);
      const over = this.retainRefusal(topic, size);
      if (over !== undefined) this.realm.retainDropped(topic, over);
      else if (lostStamp !== 0 && this.cluster !== null) {
        const held = this.retained.get(topic);
        if (held === undefined || held.stamp < lostStamp) {
          this.retain(topic, { ...data, publication, filter, size, stamp: lostStamp });
          this.cluster.retainLost(topic, publication, data, filter === null ? null : receiverLists(filter.options), lostStamp);
        }
      } else {
        stamp = cluster === null ? 0 : cluster.retainStamp();
        this.retain(topic, { ...data, publication, filter, size, stamp });
      }
    }
    if (this.history !== null) this.history.record(topic, publication, data, filter);
    this.dispatch(topic, publication, data, null, filter, undefined);
    if (cluster !== null) cluster.published(topic, publication, data, filter === null ? null : receiverLists(filter.options), stamp);
  }

  /**
   * A publication accepted on another node of the cluster (cluster/realm-link.ts):
   * retained here too when it is (`retainStamp` non-zero), kept in the history,
   * and delivered to this node's subscribers as one of its own would be. Its
   * publisher is on the other node, so exclude_me excludes nobody here.
   */
  remotePublication(topic: string, publication: number, data: PublicationData, lists: Dict | null, retainStamp: number): void {
    const filter = lists === null ? null : compileReceiverFilter(lists);
    if (retainStamp !== 0) this.mergeRetained(topic, publication, data, filter, retainStamp);
    if (this.history !== null) this.history.record(topic, publication, data, filter);
    this.dispatch(topic, publication, data, null, filter, undefined);
  }

  /**
   * A retained event of the cluster (from another node, or read from the
   * cluster's retained store): kept if it is later in the cluster's order
   * than the one held for its topic. The publishing node applied the
   * retained bounds; they are not applied again here, so that every node
   * keeps the same events.
   */
  mergeRetained(topic: string, publication: number, data: PublicationData, filter: ReceiverFilter | null, stamp: number): void {
    const held = this.retained.get(topic);
    if (held !== undefined && held.stamp >= stamp) return;
    this.retain(topic, { ...data, publication, filter, size: eventSize(data, undefined), stamp });
  }

  private retainRefusal(topic: string, size: number): string | undefined {
    return retainRefusal(this.realm.limits, { count: this.retained.size, bytes: this.retainedBytes }, size, this.retained.get(topic)?.size);
  }

  private retain(topic: string, event: RetainedEvent): void {
    this.retainedBytes += event.size - (this.retained.get(topic)?.size ?? 0);
    this.retained.set(topic, event);
  }

  /** Topics with a retained event and their bytes (for metrics and tests). */
  retainedHoldings(): { count: number; bytes: number } {
    return { count: this.retained.size, bytes: this.retainedBytes };
  }

  /** Subscriptions held across the realm (one per session and subscription). */
  get subscriptionsHeld(): number {
    return this.observations.held;
  }

  private dispatch(topic: string, publication: number, data: PublicationData, excluded: Peer | null, filter: ReceiverFilter | null, wireSize: number | undefined): void {
    const subs = this.observations.matchAll(topic);
    let seen: FilterEvent | undefined;
    for (const sub of subs) {
      if (sub.observers.size === 0) continue;
      if (sub.filter !== null && !this.passes(sub, sub.filter, seen ??= new FilterEvent(topic, data))) continue;
      const out = new Outgoing(this.event(sub, publication, data, topic, false));
      if (excluded === null && filter === null) {
        for (const s of sub.observers) s.sendShared(out);
      } else {
        for (const s of sub.observers) {
          if (s === excluded) continue;
          if (filter !== null && !filter(s)) continue;
          s.sendShared(out);
        }
      }
    }
    if (this.persistent.detached !== 0) this.persistent.offer(topic, publication, data, filter, wireSize);
  }

  /**
   * What subscription `id`'s event filter lets through, for reading its
   * history (wamp.subscription.get_events): null when it has none. A failure
   * is a no, uncounted: a read is not a delivery.
   */
  eventFilter(id: number): ((topic: string, data: PublicationData) => boolean) | null {
    const filter = this.observations.get(id)?.filter ?? null;
    if (filter === null) return null;
    return (topic, data) => filter.test(new FilterEvent(topic, data)) === true;
  }

  /** Does the event pass the subscription's filter? A filter that fails on it is counted (and logged once) on a subscriber. */
  private passes(sub: Subscription, filter: ContentFilter, event: FilterEvent): boolean {
    const r = filter.test(event);
    if (typeof r === 'boolean') return r;
    const first = sub.observers.values().next().value;
    first?.refused('filter_error', 'event filter failed on an event, which was not delivered', { subscription: sub.id, uri: shortUri(sub.uri), [FILTER_OPTION]: shortUri(filter.text), error: r });
    return false;
  }

  private event(sub: Subscription, publication: number, data: PublicationData, topic: string, retained: boolean): Event {
    let details = data.details;
    if (sub.match !== 'exact' || retained) {
      details = { ...details };
      if (sub.match !== 'exact') details.topic = topic;
      if (retained) details.retained = true;
    }
    return {
      type: MessageType.EVENT, subscription: sub.id, publication, details,
      args: data.args, kwargs: data.kwargs, payload: data.payload,
    };
  }

  // ---- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------

  subscribe(session: Peer, m: Subscribe): void {
    const match = (m.options.match as MatchPolicy | undefined) ?? 'exact';
    const bad = this.realm.uriRefusal(session, m.topic, 'topic', match);
    if (bad !== undefined) {
      session.sendError(MessageType.SUBSCRIBE, m.request, WampErrors.invalidUri, [bad]);
      return;
    }
    let filter: ContentFilter | null = null;
    if (m.options[FILTER_OPTION] !== undefined) {
      const f = compileFilter(m.options[FILTER_OPTION], this.realm.limits);
      if (typeof f === 'string') {
        session.refused('invalid_filter', 'invalid event filter', { uri: shortUri(m.topic), why: f });
        session.sendError(MessageType.SUBSCRIBE, m.request, WampErrors.invalidOption, [f]);
        return;
      }
      filter = f;
    }
    let persistent: PersistentOption | undefined;
    if (m.options[PERSISTENT_OPTION] !== undefined) {
      const refuse = (error: string, message: string): void => {
        session.refused('persistent_refused', 'persistent subscription refused', { uri: shortUri(m.topic), why: message });
        session.sendError(MessageType.SUBSCRIBE, m.request, error, [message]);
      };
      const p = parsePersistentOption(m.options[PERSISTENT_OPTION], this.realm.limits.maxPersistentTtlSeconds);
      if (typeof p === 'string') { refuse(WampErrors.invalidOption, p); return; }
      // An anonymous authid is the router's, new for every session (or one shared by all of them): nobody could come back to it.
      // In-process sessions log in as anonymous with the authid their embedder gave.
      if (!session.isLocal && session.details().authmethod === 'anonymous') {
        refuse(WampErrors.optionNotAllowed, `${PERSISTENT_OPTION} needs an authenticated session: anonymous sessions can't hold persistent subscriptions`);
        return;
      }
      persistent = p;
    }
    const authorized = (decision: Decision): void => {
      if (!decision.allow) {
        this.realm.denied(session, m.topic, 'subscribe', match === 'exact' ? undefined : `${match} pattern`);
        session.sendError(MessageType.SUBSCRIBE, m.request, WampErrors.notAuthorized, [match === 'exact'
          ? `session is not authorized to subscribe to topic "${shortUri(m.topic)}"`
          : `session is not authorized to subscribe to ${match} pattern "${shortUri(m.topic)}": no permission covers every topic it matches`]);
        return;
      }
      this.subscribeAuthorized(session, m, match, filter, persistent);
    };
    // On a cluster node, the retained events are sent once every node's earlier publications are here:
    // a retained event published (and acknowledged) on another node just before is not missed.
    if (this.cluster !== null && m.options.get_retained === true) {
      const decision = this.realm.decide(session, m.topic, 'subscribe', m.options, match);
      session.holdUntil(Promise.all([decision, this.cluster.synced()]).then(([d]) => d), authorized);
    } else this.realm.authorize(session, m.topic, 'subscribe', m.options, authorized, match);
  }

  private subscribeAuthorized(session: Peer, m: Subscribe, match: MatchPolicy, filter: ContentFilter | null, persistent: PersistentOption | undefined): void {
    const variant = filter === null ? '' : filter.text;
    const existing = this.observations.lookup(m.topic, match, variant);
    if (persistent !== undefined) {
      // Decided now, not before the authorizer answered: the name may have been taken or dropped meanwhile.
      const no = this.persistent.refusal(session, persistent, m.topic, match, variant);
      if (no !== undefined) {
        session.refused('persistent_refused', 'persistent subscription refused', { uri: shortUri(m.topic), why: no.message });
        session.sendError(MessageType.SUBSCRIBE, m.request, no.error, [no.message]);
        return;
      }
    }
    const alreadyHeld = existing?.observers.has(session) === true;
    // A persistent subscription coming back already holds its compiled filter (and is counted): no new one is made.
    const returning = persistent !== undefined && this.persistent.has(session.authid, persistent.name);
    if (!session.isLocal && !alreadyHeld) {
      let full = this.observations.holdingRefusal(session, session.limits.maxSubscriptions, this.realm.limits.maxTotalSubscriptions);
      if (full === undefined && existing === undefined && filter !== null && !returning) full = this.filterRefusal(m.topic, match);
      if (full !== undefined) {
        session.refused('too_many_subscriptions', 'too many subscriptions', { uri: shortUri(m.topic), why: full });
        session.sendError(MessageType.SUBSCRIBE, m.request, WampErrors.tooManySubscriptions, [full]);
        return;
      }
    }
    // A subscription's filter is the one compiled when it was created; later subscribers share it.
    // On a cluster node the subscription has the id every node gives it (ids.ts sharedId).
    const a = this.observations.attach(session, m.topic, match, (id, created) => ({
      id: this.cluster === null ? id : sharedId('subscription', this.realm.name, m.topic, match, variant),
      uri: m.topic, match, variant, created, observers: new Set(), filter,
    }), variant);
    const sub = a.observation;
    // Taken over from keeping to delivering here, with SUBSCRIBED and the replay below in the same turn: nothing published in between.
    const kept = persistent === undefined ? undefined : this.persistent.attach(session, persistent, m.topic, match, sub.filter);
    // A session that held this subscription already (plainly) got every event live: replaying them would be duplicates.
    const replay = alreadyHeld ? undefined : kept;
    session.send({ type: MessageType.SUBSCRIBED, request: m.request, subscription: sub.id });
    this.observations.announce(session, a);
    if (m.options.get_retained === true) this.sendRetained(session, sub, replay);
    if (replay !== undefined) for (const e of replay) session.send(this.replayed(sub, e));
  }

  /** A kept event as it is replayed: to the subscription as it is now, marked x_replayed. */
  private replayed(sub: Subscription, e: KeptEvent): Event {
    const details: Dict = { ...e.data.details, [REPLAYED_DETAIL]: true };
    if (sub.match !== 'exact') details.topic = e.topic;
    return {
      type: MessageType.EVENT, subscription: sub.id, publication: e.publication, details,
      args: e.data.args, kwargs: e.data.kwargs, payload: e.data.payload,
    };
  }

  /** Why a new filtered subscription of (topic, match) can't be created (max_filters_per_topic, max_total_filters), or undefined. */
  private filterRefusal(topic: string, match: MatchPolicy): string | undefined {
    const { maxFiltersPerTopic: perTopic, maxTotalFilters: perRealm } = this.realm.limits;
    const here = perTopic === null ? 0 : this.observations.variants(topic, match);
    if (perTopic !== null && here >= perTopic) return `${match} topic "${shortUri(topic)}" already has ${here} subscriptions with different filters (max_filters_per_topic ${perTopic})`;
    // Persistent subscriptions with a filter hold their compiled filter also while no session holds them
    // (a held one is one of the filtered observations, counted once).
    const all = this.observations.withVariant + this.persistent.detachedWithFilter;
    if (perRealm !== null && all >= perRealm) return `the realm already has ${all} subscriptions with filters (max_total_filters ${perRealm})`;
    return undefined;
  }

  /** `replay`: what a persistent subscription is about to replay; a retained event among it is left to the replay, which has it in its place. */
  private sendRetained(session: Peer, sub: Subscription, replay?: readonly KeptEvent[]): void {
    const replayed = replay === undefined || replay.length === 0 ? undefined : new Set(replay.map((e) => e.publication));
    const deliver = (topic: string, r: RetainedEvent): void => {
      if (replayed?.has(r.publication) === true) return;
      if (r.filter !== null && !r.filter(session)) return;
      if (sub.filter !== null && !this.passes(sub, sub.filter, new FilterEvent(topic, r))) return;
      session.send(this.event(sub, r.publication, r, topic, true));
    };
    if (sub.match === 'exact') {
      const r = this.retained.get(sub.uri);
      if (r) deliver(sub.uri, r);
      return;
    }
    for (const [topic, r] of this.retained) {
      const hit = sub.match === 'prefix' ? topic.startsWith(sub.uri) : wildcardMatches(sub.uri, topic);
      if (hit) deliver(topic, r);
    }
  }

  unsubscribe(session: Peer, m: Unsubscribe): void {
    const sub = this.observations.release(session, m.subscription);
    if (sub === undefined) {
      session.sendError(MessageType.UNSUBSCRIBE, m.request, WampErrors.noSuchSubscription, [`session has no subscription ${m.subscription}`]);
      return;
    }
    // UNSUBSCRIBE says the subscriber is done: a persistent subscription ends with its last holder (leaving only detaches it).
    this.persistent.released(session, sub);
    session.send({ type: MessageType.UNSUBSCRIBED, request: m.request });
  }

  /**
   * `wamp.subscription.remove_subscriber`: takes `session` off `sub` as if it
   * had unsubscribed; tells it (UNSUBSCRIBED with request 0 and Details
   * {subscription, reason}) if it announced subscription revocation.
   */
  removeObserver(sub: Subscription, session: Peer, reason: string): void {
    if (!this.observations.detach(session, sub)) return;
    this.persistent.released(session, sub);
    if (session.features.subscriberSubscriptionRevocation) {
      session.send({ type: MessageType.UNSUBSCRIBED, request: 0, details: { subscription: sub.id, reason } });
    }
  }

  /** The session left the realm: its persistent subscriptions are detached (and keep events) before it is taken off everything. */
  sessionLeft(session: Peer): void {
    this.persistent.sessionLeft(session);
    this.observations.sessionLeft(session);
  }
}
