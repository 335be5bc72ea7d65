// Subscriptions and registrations are one structure: an observation of a
// URI (or URI pattern, by match policy) with the peers observing it. This
// map keeps them for the broker (subscriptions) and the dealer
// (registrations), as Crossbar's UriObservationMap does for its broker and
// dealer: the URI index, ids, what each peer holds and how many are held in
// the realm, attach/detach with their meta events, and the holding bounds.
// Broker and dealer keep only their own rules (who may attach, invoke
// policies, retained events, delivery).
//
// An observation is identified by (uri, match) and a `variant`: the
// broker's subscriptions with an event filter (x_filter) are observations
// of their own beside the plain one, keyed by the filter's normalized text
// (broker/content-filter.ts). The dealer has no variants.
import type { Dict } from '../messages/types.js';
import type { MatchPolicy } from '../messages/options.js';
import { randomId } from '../ids.js';
import { UriIndex } from './uri-index.js';
import type { Peer } from './peer.js';

/** The peers of one observation: a Set for subscribers, OrderedObservers for callees. */
export interface Observers extends Iterable<Peer> {
  readonly size: number;
  has(peer: Peer): boolean;
  add(peer: Peer): void;
  delete(peer: Peer): boolean;
}

export interface Observation {
  readonly id: number;
  readonly uri: string;
  readonly match: MatchPolicy;
  /** What tells it apart from other observations of (uri, match); absent or '' for the plain one. */
  readonly variant?: string;
  /** ISO time it was created (meta API). */
  readonly created: string;
  readonly observers: Observers;
}

/**
 * Observers in the order they attached, which the `first`, `last` and
 * `roundrobin` invoke policies depend on (Crossbar's OrderedSet). An array:
 * `has` is a scan, fine for the callees of one registration, unlike the
 * subscribers of a topic (a Set).
 */
export class OrderedObservers implements Observers {
  readonly list: Peer[] = [];
  get size(): number { return this.list.length; }
  has(peer: Peer): boolean { return this.list.includes(peer); }
  add(peer: Peer): void { this.list.push(peer); }
  delete(peer: Peer): boolean {
    const i = this.list.indexOf(peer);
    if (i < 0) return false;
    this.list.splice(i, 1);
    return true;
  }
  [Symbol.iterator](): Iterator<Peer> { return this.list[Symbol.iterator](); }
}

/** What is observed and how it is named (meta topics, meta procedures, limit keys, messages). */
export interface ObservationKind<O extends Observation> {
  readonly noun: 'subscription' | 'registration';
  readonly observer: 'subscriber' | 'callee';
  /** What its URI names, as meta procedures call their argument. */
  readonly uriName: 'topic' | 'procedure';
  /** on_subscribe/on_unsubscribe, on_register/on_unregister. */
  readonly verb: 'subscribe' | 'register';
  /** `all`: every matching observation gets the message (broker); `best`: the one that governs the URI (dealer). */
  readonly matching: 'all' | 'best';
  /** The observation as `wamp.<noun>.get` and `on_create` describe it. */
  describe(o: O): Dict;
}

/** What attach() did: the observation, whether it was created, whether the peer was new on it. */
export interface Attached<O> {
  readonly observation: O;
  readonly created: boolean;
  readonly added: boolean;
}

/** What the meta API needs of a broker or dealer besides its map: taking a peer off an observation. */
export interface ObservationOwner<O extends Observation> {
  readonly observations: ObservationMap<O>;
  /** `wamp.<noun>.remove_<observer>`: as if the peer had left it, told when it announced revocation. */
  removeObserver(o: O, peer: Peer, reason: string): void;
  /** The broker's persistent subscriptions (x_persistent), for their meta procedures; the dealer has none. */
  readonly persistent?: PersistentRegistry;
}

/**
 * What the meta API needs of persistent subscriptions (the broker's,
 * broker/persistent-subscriptions.ts): subscriptions tied to (authid, name)
 * that outlive their sessions, which are no observers of the map while no
 * session holds them.
 */
export interface PersistentRegistry {
  /** At most `max` of them (of `authid`, or all), by authid and name, described for operators. */
  list(authid: string | undefined, max: number): Dict[];
  /** Ends one, with the events it keeps; false if there is none. */
  drop(authid: string, name: string): boolean;
}

/**
 * The observations of one (uri, match): the plain one and its variants, in
 * the order they were created. `members` is replaced, never changed in
 * place, so a fan-out loop over it is not disturbed by a detach.
 */
class Group<O extends Observation> {
  members: readonly O[] = [];
  readonly byVariant = new Map<string, O>();
}

const NONE: readonly never[] = [];

export class ObservationMap<O extends Observation> {
  private readonly index = new UriIndex<Group<O>>();
  private readonly byId = new Map<number, O>();
  private readonly byPeer = new Map<Peer, Set<O>>();
  /** Observations held, one per (peer, observation): what max_total_<noun>s counts. */
  private total = 0;
  /** Observations with a variant (the broker's filtered subscriptions), each counted once. */
  private variantTotal = 0;
  private readonly topics: { create: string; attach: string; detach: string; delete: string };

  constructor(readonly kind: ObservationKind<O>, private readonly metaEvent: (topic: string, args: unknown[]) => void) {
    const prefix = `wamp.${kind.noun}.`;
    this.topics = { create: `${prefix}on_create`, attach: `${prefix}on_${kind.verb}`, detach: `${prefix}on_un${kind.verb}`, delete: `${prefix}on_delete` };
  }

  // ---- lookups -------------------------------------------------------------

  get(id: number): O | undefined { return this.byId.get(id); }
  lookup(uri: string, match: MatchPolicy, variant = ''): O | undefined { return this.index.get(uri, match)?.byVariant.get(variant); }
  /**
   * Every observation matching `uri` (uri-index.ts for the order; the
   * variants of one (uri, match) in the order they were created). Read only.
   */
  matchAll(uri: string): readonly O[] {
    const groups = this.index.matchAll(uri);
    // The common case (one matching (uri, match)) hands out the group's own list: no copy per publication.
    if (groups.length === 1) return groups[0]!.members;
    if (groups.length === 0) return NONE;
    const out: O[] = [];
    for (const g of groups) for (const o of g.members) out.push(o);
    return out;
  }
  /** The one observation that governs `uri` (the dealer's rule; it has no variants). */
  best(uri: string): O | undefined { return this.index.best(uri)?.members[0]; }
  ids(match: MatchPolicy): number[] { return [...this.index.values(match)].flatMap((g) => g.members.map((o) => o.id)); }
  /** Observations with a variant across the map (max_total_filters counts the broker's). */
  get withVariant(): number { return this.variantTotal; }
  /** Observations of (uri, match) with a variant (the broker's filtered subscriptions): max_filters_per_topic counts them. */
  variants(uri: string, match: MatchPolicy): number {
    const g = this.index.get(uri, match);
    return g === undefined ? 0 : g.members.length - (g.byVariant.has('') ? 1 : 0);
  }

  /** Observations `peer` holds. */
  heldBy(peer: Peer): number { return this.byPeer.get(peer)?.size ?? 0; }
  /** Observations held across the realm, one per (peer, observation). */
  get held(): number { return this.total; }

  /** Why `peer` may not hold one more (max_<noun>s per session, max_total_<noun>s per realm), or undefined. */
  holdingRefusal(peer: Peer, perSession: number | null, perRealm: number | null): string | undefined {
    const noun = this.kind.noun;
    const mine = this.heldBy(peer);
    if (perSession !== null && mine >= perSession) return `this session already holds ${mine} ${noun}s (max_${noun}s ${perSession})`;
    if (perRealm !== null && this.total >= perRealm) return `the realm already holds ${this.total} ${noun}s (max_total_${noun}s ${perRealm})`;
    return undefined;
  }

  // ---- attach / detach -----------------------------------------------------

  /**
   * Adds `peer` to the observation of (uri, match, variant), made by
   * `create` (with a fresh id; it must carry `variant`) when there is none.
   * Call announce() once the peer has its answer (SUBSCRIBED, REGISTERED),
   * so the meta events follow it.
   */
  attach(peer: Peer, uri: string, match: MatchPolicy, create: (id: number, created: string) => O, variant = ''): Attached<O> {
    let group = this.index.get(uri, match);
    let o = group?.byVariant.get(variant);
    let created = false;
    if (o === undefined) {
      o = create(randomId(), new Date().toISOString());
      if (group === undefined) { group = new Group(); this.index.add(uri, match, group); }
      group.byVariant.set(variant, o);
      group.members = [...group.members, o];
      if (variant !== '') this.variantTotal++;
      this.byId.set(o.id, o);
      created = true;
    }
    const added = !o.observers.has(peer);
    if (added) {
      o.observers.add(peer);
      this.total++;
      let mine = this.byPeer.get(peer);
      if (mine === undefined) { mine = new Set(); this.byPeer.set(peer, mine); }
      mine.add(o);
    }
    return { observation: o, created, added };
  }

  /** The meta events of an attach: on_create (if created), on_subscribe/on_register (if the peer was new on it). */
  announce(peer: Peer, a: Attached<O>): void {
    if (a.created) this.metaEvent(this.topics.create, [peer.id, this.kind.describe(a.observation)]);
    if (a.added) this.metaEvent(this.topics.attach, [peer.id, a.observation.id]);
  }

  /**
   * Takes `peer` off `o` (on_unsubscribe/on_unregister); the observation
   * goes when its last observer does (on_delete). False if `peer` was not on it.
   */
  detach(peer: Peer, o: O): boolean {
    if (!this.drop(peer, o)) return false;
    const mine = this.byPeer.get(peer);
    if (mine !== undefined) {
      mine.delete(o);
      if (mine.size === 0) this.byPeer.delete(peer);
    }
    return true;
  }

  /** UNSUBSCRIBE, UNREGISTER: detaches `peer` from the observation with that id; undefined if it held none. */
  release(peer: Peer, id: number): O | undefined {
    const o = this.byId.get(id);
    return o !== undefined && this.detach(peer, o) ? o : undefined;
  }

  /** The peer left the realm: it is taken off everything it observed. */
  sessionLeft(peer: Peer): void {
    const mine = this.byPeer.get(peer);
    if (mine === undefined) return;
    this.byPeer.delete(peer);
    for (const o of mine) this.drop(peer, o);
  }

  private drop(peer: Peer, o: O): boolean {
    if (!o.observers.delete(peer)) return false;
    this.total--;
    this.metaEvent(this.topics.detach, [peer.id, o.id]);
    if (o.observers.size === 0) {
      const group = this.index.get(o.uri, o.match);
      if (group !== undefined) {
        const variant = o.variant ?? '';
        if (group.byVariant.delete(variant) && variant !== '') this.variantTotal--;
        group.members = group.members.filter((m) => m !== o);
        if (group.members.length === 0) this.index.remove(o.uri, o.match);
      }
      this.byId.delete(o.id);
      this.metaEvent(this.topics.delete, [peer.id, o.id]);
    }
    return true;
  }
}
