// The broker: subscriptions, publications, event dispatch and retention.
//
// Fan-out cost: one EVENT (and one encoding per serializer in use) per
// matching subscription, then a loop of socket writes. Subscriptions that
// don't match the topic cost nothing (see realm/uri-index.ts).
import {
  MessageType, type Dict, type Event, type Publish, type Subscribe, type Unsubscribe,
} from '../messages/types.js';
import type { MatchPolicy } from '../messages/options.js';
import { Outgoing } from '../transport/outgoing.js';
import type { Session } from '../session/session.js';
import type { Realm } from '../realm/realm.js';
import { UriIndex } from '../realm/uri-index.js';
import { randomId } from '../ids.js';
import { WampErrors } from '../errors.js';
import { shortUri, wildcardMatches } from '../uri.js';
import { retainRefusal } from '../limits/retention.js';
import { jsonSerializer } from '../serializers/json.js';
import { compileReceiverFilter, type ReceiverFilter } from './receiver-filter.js';
import { copyPassthrough } from '../messages/validate.js';
import type { Decision } from '../auth/permissions.js';

export interface Subscription {
  readonly id: number;
  readonly uri: string;
  readonly match: MatchPolicy;
  readonly created: string;
  readonly subscribers: Set<Session>;
}

/** What a publication carries once the broker has accepted it. */
export interface PublicationData {
  args?: unknown[];
  kwargs?: Dict;
  payload?: Uint8Array | string;
  /** Publisher identity and passthrough details to put in EVENT.Details. */
  details: Dict;
}

interface RetainedEvent extends PublicationData {
  publication: number;
  filter: ReceiverFilter | null;
  /** Bytes it counts against the retained limits. */
  size: number;
}

/**
 * What a retained event counts against the limits: the PUBLISH as it
 * arrived, or, for in-process publishers and testaments, its payload as
 * JSON (a rare path: only retained publications are measured).
 */
function retainedSize(data: PublicationData, wireSize: number | undefined): number {
  if (wireSize !== undefined) return wireSize;
  if (data.payload !== undefined) return typeof data.payload === 'string' ? data.payload.length : data.payload.byteLength;
  const json = jsonSerializer.encode([data.args ?? [], data.kwargs ?? {}]);
  return typeof json === 'string' ? Buffer.byteLength(json) : json.byteLength;
}

export class Broker {
  private readonly index = new UriIndex<Subscription>();
  private readonly byId = new Map<number, Subscription>();
  private readonly bySession = new Map<Session, Set<Subscription>>();
  private readonly retained = new Map<string, RetainedEvent>();
  private retainedBytes = 0;
  /** Subscriptions held, one per (session, subscription): what max_total_subscriptions counts. */
  private held = 0;

  constructor(private readonly realm: Realm) {}

  // ---- PUBLISH -------------------------------------------------------------

  publish(session: Session, m: Publish): void {
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

  private publishAuthorized(session: Session, m: Publish, decision: Decision): void {
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
    const retain = m.options.retain === true;
    if (retain && !(decision.retain ?? decision.allow)) {
      session.refused('retain_not_allowed', 'retain not allowed', { uri: shortUri(m.topic) });
      refuse(WampErrors.notAuthorized, `role "${session.authrole}" may not retain events on topic "${shortUri(m.topic)}"`);
      return;
    }
    const publication = randomId();
    const details: Dict = {};
    if (decision.disclose) {
      details.publisher = session.id;
      details.publisher_authid = session.authid;
      details.publisher_authrole = session.authrole;
    }
    copyPassthrough(m.options, details);
    const data: PublicationData = { args: m.args, kwargs: m.kwargs, payload: m.payload, details };
    const filter = compileReceiverFilter(m.options);
    if (retain) {
      const size = retainedSize(data, m.size);
      const over = this.retainRefusal(m.topic, size);
      if (over !== undefined) {
        session.refused('retain_limit', 'retain limit', { uri: shortUri(m.topic), size, why: over });
        refuse(WampErrors.retainLimit, `not published: ${over}`);
        return;
      }
      this.retain(m.topic, { ...data, publication, filter, size });
    }
    // PUBLISHED goes out before the events, so a publisher that is also a
    // subscriber sees its acknowledgement first (Crossbar does the same).
    if (ack) session.send({ type: MessageType.PUBLISHED, request: m.request, publication });
    const excluded = m.options.exclude_me === false ? null : session;
    this.dispatch(m.topic, publication, data, excluded, filter);
  }

  /**
   * A publication from the router itself (meta events, testaments). A
   * testament that asks to be retained is retained only within the realm's
   * retained limits (its session is gone: there is nobody to refuse); it is
   * delivered either way.
   */
  publishInternal(topic: string, data: PublicationData, options: Dict = {}): void {
    const publication = randomId();
    const filter = compileReceiverFilter(options);
    if (options.retain === true) {
      const size = retainedSize(data, undefined);
      const over = this.retainRefusal(topic, size);
      if (over === undefined) this.retain(topic, { ...data, publication, filter, size });
      else this.realm.retainDropped(topic, over);
    }
    this.dispatch(topic, publication, data, null, filter);
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
    return this.held;
  }

  private dispatch(topic: string, publication: number, data: PublicationData, excluded: Session | null, filter: ReceiverFilter | null): void {
    const subs = this.index.matchAll(topic);
    for (const sub of subs) {
      if (sub.subscribers.size === 0) continue;
      const out = new Outgoing(this.event(sub, publication, data, topic, false));
      if (excluded === null && filter === null) {
        for (const s of sub.subscribers) s.sendShared(out);
      } else {
        for (const s of sub.subscribers) {
          if (s === excluded) continue;
          if (filter !== null && !filter(s)) continue;
          s.sendShared(out);
        }
      }
    }
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

  subscribe(session: Session, m: Subscribe): void {
    const match = (m.options.match as MatchPolicy | undefined) ?? 'exact';
    const bad = this.realm.uriRefusal(session, m.topic, 'topic', match);
    if (bad !== undefined) {
      session.sendError(MessageType.SUBSCRIBE, m.request, WampErrors.invalidUri, [bad]);
      return;
    }
    this.realm.authorize(session, m.topic, 'subscribe', m.options, (decision) => {
      if (!decision.allow) {
        this.realm.denied(session, m.topic, 'subscribe');
        session.sendError(MessageType.SUBSCRIBE, m.request, WampErrors.notAuthorized, [`session is not authorized to subscribe to topic "${shortUri(m.topic)}"`]);
        return;
      }
      this.subscribeAuthorized(session, m, match);
    });
  }

  private subscribeAuthorized(session: Session, m: Subscribe, match: MatchPolicy): void {
    let sub = this.index.get(m.topic, match);
    if (!session.isLocal && sub?.subscribers.has(session) !== true) {
      const full = this.holdingRefusal(session);
      if (full !== undefined) {
        session.refused('too_many_subscriptions', 'too many subscriptions', { uri: shortUri(m.topic), why: full });
        session.sendError(MessageType.SUBSCRIBE, m.request, WampErrors.tooManySubscriptions, [full]);
        return;
      }
    }
    let created = false;
    if (sub === undefined) {
      sub = { id: randomId(), uri: m.topic, match, created: new Date().toISOString(), subscribers: new Set() };
      this.index.add(m.topic, match, sub);
      this.byId.set(sub.id, sub);
      created = true;
    }
    const isNew = !sub.subscribers.has(session);
    sub.subscribers.add(session);
    if (isNew) this.held++;
    let mine = this.bySession.get(session);
    if (mine === undefined) { mine = new Set(); this.bySession.set(session, mine); }
    mine.add(sub);
    session.send({ type: MessageType.SUBSCRIBED, request: m.request, subscription: sub.id });
    if (created) this.realm.meta.publish('wamp.subscription.on_create', [session.id, subscriptionDetails(sub)]);
    if (isNew) this.realm.meta.publish('wamp.subscription.on_subscribe', [session.id, sub.id]);
    if (m.options.get_retained === true) this.sendRetained(session, sub);
  }

  /** Why `session` may not hold one more subscription, or undefined. */
  private holdingRefusal(session: Session): string | undefined {
    const mine = this.bySession.get(session)?.size ?? 0;
    const max = session.limits.maxSubscriptions;
    if (max !== null && mine >= max) return `this session already holds ${mine} subscriptions (max_subscriptions ${max})`;
    const total = this.realm.limits.maxTotalSubscriptions;
    if (total !== null && this.held >= total) return `the realm already holds ${this.held} subscriptions (max_total_subscriptions ${total})`;
    return undefined;
  }

  private sendRetained(session: Session, sub: Subscription): void {
    const deliver = (topic: string, r: RetainedEvent): void => {
      if (r.filter !== null && !r.filter(session)) return;
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

  unsubscribe(session: Session, m: Unsubscribe): void {
    const sub = this.byId.get(m.subscription);
    if (sub === undefined || !sub.subscribers.has(session)) {
      session.sendError(MessageType.UNSUBSCRIBE, m.request, WampErrors.noSuchSubscription, [`session has no subscription ${m.subscription}`]);
      return;
    }
    this.detach(session, sub);
    this.bySession.get(session)?.delete(sub);
    session.send({ type: MessageType.UNSUBSCRIBED, request: m.request });
  }

  /**
   * `wamp.subscription.remove_subscriber`: takes `session` off `sub` as if it
   * had unsubscribed; tells it (UNSUBSCRIBED with request 0 and Details
   * {subscription, reason}) if it announced subscription revocation.
   */
  removeSubscriber(sub: Subscription, session: Session, reason: string): void {
    this.detach(session, sub);
    this.bySession.get(session)?.delete(sub);
    if (session.features.subscriberSubscriptionRevocation) {
      session.send({ type: MessageType.UNSUBSCRIBED, request: 0, details: { subscription: sub.id, reason } });
    }
  }

  private detach(session: Session, sub: Subscription): void {
    if (sub.subscribers.delete(session)) this.held--;
    this.realm.meta.publish('wamp.subscription.on_unsubscribe', [session.id, sub.id]);
    if (sub.subscribers.size === 0) {
      this.index.remove(sub.uri, sub.match);
      this.byId.delete(sub.id);
      this.realm.meta.publish('wamp.subscription.on_delete', [session.id, sub.id]);
    }
  }

  sessionLeft(session: Session): void {
    const mine = this.bySession.get(session);
    if (mine === undefined) return;
    this.bySession.delete(session);
    for (const sub of mine) this.detach(session, sub);
  }

  // ---- lookups for the meta API --------------------------------------------

  get(id: number): Subscription | undefined { return this.byId.get(id); }
  lookup(uri: string, match: MatchPolicy): Subscription | undefined { return this.index.get(uri, match); }
  matching(uri: string): Subscription[] { return this.index.matchAll(uri); }
  list(match: MatchPolicy): number[] { return [...this.index.values(match)].map((s) => s.id); }
}

export function subscriptionDetails(sub: Subscription): Dict {
  return { id: sub.id, created: sub.created, uri: sub.uri, match: sub.match };
}
