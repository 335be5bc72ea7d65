// Persistent subscriptions (SUBSCRIBE.Options.x_persistent, a ClawGate
// extension, issue 22): a subscription tied to (realm, authid, name) rather
// than to a session. While a session of the authid holds it, it is that
// session's ordinary subscription (an observer of the broker's
// ObservationMap). When the last such session leaves, it is *detached*:
// it stays here, in an index of its own, and the broker offers it every
// publication, which it keeps within its bounds (count, bytes, age; the
// realm's total bytes). When a session of the same authid subscribes again
// with the same name, the broker sends SUBSCRIBED and then, before it
// handles anything else, the kept events in order, marked `x_replayed`;
// live events follow. The router is single-threaded, so nothing is
// published between the end of the keeping and the replay: no gap, no
// duplicate. A detached subscription ends after its ttl; UNSUBSCRIBE by
// the last session holding it ends it at once.
//
// Kept events are what the subscriber could have received: the publication
// as delivered (the publisher's identity only where its permission
// disclosed it), through the publication's black/whitelists applied to the
// authid and role the subscription was last held with (a session-id list
// never names it: the session that comes back is a new one) and through
// its event filter.
//
// With a durable store (the realm's event history file, persistent-store.ts)
// the subscriptions here stay the truth and the file is their copy: every
// change is handed to the store, which writes it in a later batch, and the
// router reads it back at start (the subscriptions detached, their ttl
// counting from when they were detached, or from the start if a session
// held them when the router stopped).
import { WampErrors } from '../errors.js';
import type { Dict } from '../messages/types.js';
import { FILTER_OPTION, type MatchPolicy } from '../messages/options.js';
import type { Peer } from '../routing/peer.js';
import type { PublicationData } from '../routing/publication.js';
import type { Observation, PersistentRegistry } from '../routing/observation-map.js';
import { UriIndex } from '../routing/uri-index.js';
import type { RealmLimits } from '../limits/limits-config.js';
import { makeRoom, persistentRefusal, type QueueBounds } from '../limits/persistence.js';
import { shortUri } from '../uri.js';
import type { Receiver, ReceiverFilter } from './receiver-filter.js';
import { compileFilter, type ContentFilter } from './content-filter.js';
import { FilterEvent } from './filter-event.js';
import { eventSize } from './event-size.js';
import { PERSISTENT_OPTION, type PersistentOption } from './persistent-option.js';
import type { StoreTenant } from './event-history.js';
import type { DurablePersistent, PersistentEventRow, PersistentRow } from './persistent-store.js';

/**
 * The other nodes of the cluster, on a cluster node (cluster/persistent-link.ts):
 * told of this node's part of each persistent subscription, so that every
 * node knows every one and keeps its events while no node holds it.
 */
export interface PersistentClusterLink {
  /** This node's part changed: the ids of its sessions holding it (none: it doesn't hold it). */
  changed(row: PersistentRow, sessions: readonly number[]): void;
  /** It ended (ttl, last UNSUBSCRIBE, drop): it ends on every node. */
  ended(authid: string, name: string): void;
}

/** An event a detached subscription keeps. */
export type KeptEvent = PersistentEventRow;

/** Why a session may not take a persistent subscription: the ERROR it gets. */
export interface PersistentRefusal {
  readonly error: string;
  readonly message: string;
}

const NONE: readonly KeptEvent[] = [];

/**
 * On a cluster node, how long the events of a persistent subscription held
 * only on other nodes are kept here anyway (its *shadow*): when its node is
 * lost, or lets it go, what arrived here since is carried into the kept
 * events, instead of being lost while the news travels (up to 3 s for a
 * killed node). Longer than a lost node takes to be seen gone.
 */
export const SHADOW_MS = 4000;

class Persistent implements Receiver {
  /** No session: a publication's `eligible`/`exclude` by session id never names it. */
  readonly id = 0;
  /** The sessions of this node holding it. */
  readonly sessions = new Set<Peer>();
  /** On a cluster node: the other live nodes whose sessions hold it, with those sessions' ids. Detached when neither holds it. */
  readonly remote = new Map<string, readonly number[]>();
  /** Held on other nodes only: the events of the last SHADOW_MS (oldest first), kept if they let it go. */
  shadow: KeptEvent[] | null = null;
  shadowBytes = 0;
  /** Events kept while detached, oldest first. */
  queue: KeptEvent[] = [];
  bytes = 0;
  /** Events not kept (bounds, age) since it was last detached. */
  dropped = 0;
  /** ms since the epoch; null while held. */
  detachedAt: number | null = null;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly authid: string,
    readonly name: string,
    readonly uri: string,
    readonly match: MatchPolicy,
    readonly filter: ContentFilter | null,
    /** The role of the session that last held it: black/whitelists by role are applied to it. */
    public authrole: string,
    /** Seconds it lives detached. */
    public ttl: number,
    readonly created: string,
  ) {}

  get variant(): string { return this.filter === null ? '' : this.filter.text; }

  row(): PersistentRow {
    return {
      authid: this.authid, name: this.name, uri: this.uri, match: this.match, filter: this.filter === null ? null : this.filter.text,
      authrole: this.authrole, ttl: this.ttl, created: this.created, detachedAt: this.detachedAt, dropped: this.dropped,
    };
  }
}

export class PersistentSubscriptions implements PersistentRegistry, StoreTenant {
  private readonly byAuthid = new Map<string, Map<string, Persistent>>();
  private readonly bySession = new Map<Peer, Set<Persistent>>();
  /** The detached ones by (uri, match): what a publication is offered to. */
  private index = new UriIndex<Set<Persistent>>();
  private detachedCount = 0;
  /** Held on other nodes only (a cluster node): their events are shadowed here, in an index of its own. */
  private shadowIndex = new UriIndex<Set<Persistent>>();
  private shadowCount = 0;
  /** Bytes of all shadows (bounded by max_total_persistent_bytes too). */
  private shadowTotal = 0;
  /** Detached ones with an event filter: held ones are counted as observations already. */
  private detachedFiltered = 0;
  private count = 0;
  /** Bytes kept by all of them (max_total_persistent_bytes). */
  private bytes = 0;
  private nextSeq = 1;
  private durable: DurablePersistent | null = null;
  /** The other nodes, on a cluster node (set before the router starts). */
  cluster: PersistentClusterLink | null = null;

  constructor(private readonly limits: RealmLimits) {}

  /**
   * Detached subscriptions (and, on a cluster node, those held on other
   * nodes only, whose events are shadowed): the broker offers publications
   * only while there are some.
   */
  get detached(): number { return this.detachedCount + this.shadowCount; }
  /** Persistent subscriptions on the realm. */
  get size(): number { return this.count; }
  /**
   * Detached ones with an event filter: what max_total_filters counts
   * beside the broker's filtered observations (a held one is one of those).
   */
  get detachedWithFilter(): number { return this.detachedFiltered; }

  /** Does (authid, name) exist (held or detached)? */
  has(authid: string, name: string): boolean {
    return this.get(authid, name) !== undefined;
  }
  /** Bytes of the events they keep. */
  get keptBytes(): number { return this.bytes; }

  private get(authid: string, name: string): Persistent | undefined {
    return this.byAuthid.get(authid)?.get(name);
  }

  private get bounds(): QueueBounds {
    const l = this.limits;
    return { maxEvents: l.maxPersistentEvents, maxBytes: l.maxPersistentBytes, maxTotalBytes: l.maxTotalPersistentBytes };
  }

  // ---- holding -------------------------------------------------------------

  /**
   * Why `session` may not hold (its authid, opt.name) as a subscription of
   * (uri, match, variant), or undefined. The name may be taken only for the
   * same (uri, match, filter); a new one counts against the role's
   * max_persistent_per_authid and the realm's max_total_persistent.
   */
  refusal(session: Peer, opt: PersistentOption, uri: string, match: MatchPolicy, variant: string): PersistentRefusal | undefined {
    const p = this.get(session.authid, opt.name);
    if (p !== undefined) {
      if (p.uri === uri && p.match === match && p.variant === variant) return undefined;
      const filter = p.filter === null ? '' : ` with ${FILTER_OPTION} "${shortUri(p.filter.text)}"`;
      return {
        error: WampErrors.invalidOption,
        message: `${PERSISTENT_OPTION} "${shortUri(opt.name)}" of authid "${shortUri(session.authid)}" is a persistent subscription to ${p.match} topic "${shortUri(p.uri)}"${filter}: unsubscribe it first, or use another name`,
      };
    }
    if (session.isLocal) return undefined;
    const perAuthid = (this.limits.roles[session.authrole] ?? this.limits).maxPersistentPerAuthid;
    if (perAuthid === 0) {
      return { error: WampErrors.optionNotAllowed, message: `role "${shortUri(session.authrole)}" may not hold persistent subscriptions (max_persistent_per_authid 0)` };
    }
    const why = persistentRefusal({ perAuthid, perRealm: this.limits.maxTotalPersistent }, { authid: this.byAuthid.get(session.authid)?.size ?? 0, realm: this.count }, shortUri(session.authid));
    return why === undefined ? undefined : { error: WampErrors.tooManySubscriptions, message: why };
  }

  /**
   * `session` holds (its authid, opt.name) from now on, made with `filter`
   * if there is none yet (refusal() said yes). Returns the events it kept
   * while detached, oldest first, no longer kept: the broker replays them
   * before anything else reaches the session. A ttl in `opt` replaces the
   * subscription's.
   */
  attach(session: Peer, opt: PersistentOption, uri: string, match: MatchPolicy, filter: ContentFilter | null): readonly KeptEvent[] {
    const ttl = opt.ttl ?? this.limits.persistentTtlSeconds;
    let p = this.get(session.authid, opt.name);
    let replay = NONE;
    if (p === undefined) {
      p = new Persistent(session.authid, opt.name, uri, match, filter, session.authrole, ttl, new Date().toISOString());
      this.add(p);
    } else {
      p.ttl = ttl;
      if (p.detachedAt !== null) {
        const kept = this.reattach(p);
        // Kept under the black/whitelists as they applied to the role it was held with: a session of
        // the same authid under another role (a dynamic authenticator may give one) gets none of them.
        if (p.authrole === session.authrole) replay = kept;
        else p.dropped += kept.length;
      }
      p.authrole = session.authrole;
    }
    if (!p.sessions.has(session)) {
      p.sessions.add(session);
      let mine = this.bySession.get(session);
      if (mine === undefined) { mine = new Set(); this.bySession.set(session, mine); }
      mine.add(p);
    }
    this.durable?.save(p.row());
    this.reshadow(p);
    this.announce(p);
    return replay;
  }

  /** Tells the other nodes this node's part of `p`. */
  private announce(p: Persistent): void {
    this.cluster?.changed(p.row(), [...p.sessions].map((s) => s.id));
  }

  private add(p: Persistent): void {
    let mine = this.byAuthid.get(p.authid);
    if (mine === undefined) { mine = new Map(); this.byAuthid.set(p.authid, mine); }
    mine.set(p.name, p);
    this.count++;
  }

  /** Held again: out of the index, its clock stopped, its events handed over. */
  private reattach(p: Persistent): KeptEvent[] {
    this.unindex(p);
    const cutoff = Date.now() - this.limits.maxPersistentAgeSeconds * 1000;
    const events = p.queue.filter((e) => e.at >= cutoff);
    if (p.queue.length > 0) this.durable?.removeEvents(p.authid, p.name, p.queue[p.queue.length - 1]!.seq);
    this.bytes -= p.bytes;
    p.queue = [];
    p.bytes = 0;
    p.dropped = 0;
    return events;
  }

  /** The session left the realm: what it held is detached where it was the last holder. */
  sessionLeft(session: Peer): void {
    const mine = this.bySession.get(session);
    if (mine === undefined) return;
    this.bySession.delete(session);
    for (const p of mine) {
      p.sessions.delete(session);
      if (p.sessions.size > 0) continue;
      // Held on another node still: not detached, but this node holds it no more (and shadows it).
      if (p.remote.size === 0) this.detach(p, Date.now()); else { this.reshadow(p); this.announce(p); }
    }
  }

  /**
   * The session gave up its subscription `sub` (UNSUBSCRIBE, or taken by
   * wamp.subscription.remove_subscriber): the persistent subscriptions it
   * held on it end where it was the last holder.
   */
  released(session: Peer, sub: Observation): void {
    const mine = this.bySession.get(session);
    if (mine === undefined) return;
    const variant = sub.variant ?? '';
    for (const p of mine) {
      if (p.uri !== sub.uri || p.match !== sub.match || p.variant !== variant) continue;
      mine.delete(p);
      p.sessions.delete(session);
      if (p.sessions.size > 0) continue;
      // The last holder of the cluster unsubscribed: it ends; sessions of other nodes still hold it.
      if (p.remote.size === 0) this.end(p); else { this.reshadow(p); this.announce(p); }
    }
    if (mine.size === 0) this.bySession.delete(session);
  }

  private detach(p: Persistent, at: number, announce = true): void {
    p.detachedAt = at;
    let group = this.index.get(p.uri, p.match);
    if (group === undefined) { group = new Set(); this.index.add(p.uri, p.match, group); }
    group.add(p);
    this.detachedCount++;
    if (p.filter !== null) this.detachedFiltered++;
    this.arm(p, at + p.ttl * 1000 - Date.now());
    this.durable?.save(p.row());
    if (announce) this.announce(p);
  }

  private arm(p: Persistent, ms: number): void {
    p.timer = setTimeout(() => this.end(p), Math.max(0, ms));
    p.timer.unref();
  }

  private unindex(p: Persistent): void {
    if (p.detachedAt === null) return;
    clearTimeout(p.timer);
    p.timer = undefined;
    p.detachedAt = null;
    const group = this.index.get(p.uri, p.match);
    if (group !== undefined && group.delete(p) && group.size === 0) this.index.remove(p.uri, p.match);
    this.detachedCount--;
    if (p.filter !== null) this.detachedFiltered--;
  }

  /** It ends: its ttl ran out, its last holder unsubscribed, or an operator dropped it (here or, `announce` false, on another node). */
  private end(p: Persistent, announce = true): void {
    if (this.get(p.authid, p.name) !== p) return;
    const mine = this.byAuthid.get(p.authid)!;
    mine.delete(p.name);
    if (mine.size === 0) this.byAuthid.delete(p.authid);
    this.count--;
    this.unindex(p);
    this.bytes -= p.bytes;
    p.queue = [];
    p.bytes = 0;
    for (const s of p.sessions) {
      const theirs = this.bySession.get(s);
      if (theirs !== undefined && theirs.delete(p) && theirs.size === 0) this.bySession.delete(s);
    }
    p.sessions.clear();
    p.remote.clear();
    this.reshadow(p);
    this.durable?.remove(p.authid, p.name);
    if (announce) this.cluster?.ended(p.authid, p.name);
  }

  // ---- the other nodes of a cluster (cluster/persistent-link.ts) --------------

  /**
   * Another node's part of a persistent subscription: made here if it is
   * new (within no cap: the node that made it applied them), held while a
   * live node's sessions hold it, detached (keeping events from now on)
   * when none does; held again elsewhere, what this node kept is dropped
   * (the node it came back on replays its own). `sessions`: that node's
   * sessions holding it (none: it holds it no more).
   */
  remoteChanged(node: string, row: PersistentRow, sessions: readonly number[]): void {
    let p = this.get(row.authid, row.name);
    if (p === undefined) {
      let filter: ContentFilter | null = null;
      if (row.filter !== null) {
        const f = compileFilter(row.filter, this.limits);
        if (typeof f === 'string') return; // not valid under this node's limits: configure the same limits on every node
        filter = f;
      }
      p = new Persistent(row.authid, row.name, row.uri, row.match, filter, row.authrole, row.ttl, row.created);
      this.add(p);
      if (sessions.length === 0) { p.remote.set(node, sessions); this.remoteReleased(p, node, row.detachedAt, null); return; }
    } else if (p.uri !== row.uri || p.match !== row.match || p.variant !== (row.filter ?? '')) return; // another definition under the name: the first one here stays
    p.ttl = row.ttl;
    p.authrole = row.authrole;
    if (sessions.length > 0) {
      p.remote.set(node, sessions);
      if (p.detachedAt !== null) this.reattach(p);
      this.reshadow(p);
    } else this.remoteReleased(p, node, row.detachedAt, row.detachedAt);
  }

  /**
   * `node` holds `p` no more (released, or gone): detached if nobody holds
   * it now, since `at` (or now), with what its shadow had from `since` on
   * (events that arrived here after that node let it go).
   */
  private remoteReleased(p: Persistent, node: string, at: number | null, since: number | null): void {
    p.remote.delete(node);
    if (p.remote.size > 0 || p.sessions.size > 0 || p.detachedAt !== null) { this.reshadow(p); return; }
    const carried = since === null || p.shadow === null ? [] : p.shadow.filter((e) => e.at >= since);
    this.detach(p, at ?? Date.now(), false);
    this.reshadow(p);
    for (const e of carried) this.keep(p, e.publication, e.topic, e.data, e.size, e.at);
  }

  /** Another node ended it (its ttl, its last holder's UNSUBSCRIBE, a drop). */
  remoteEnded(authid: string, name: string): void {
    const p = this.get(authid, name);
    if (p !== undefined) this.end(p, false);
  }

  /**
   * A node is gone: what its sessions held is detached where nobody else
   * holds it, from now, with the events that arrived here since `since`
   * (about when it was last heard, if it went silent: what it received
   * after that may not have reached its sessions; null: nothing carried).
   */
  nodeLeft(node: string, since: number | null): void {
    for (const mine of this.byAuthid.values()) {
      for (const p of [...mine.values()]) if (p.remote.has(node)) this.remoteReleased(p, node, null, since);
    }
  }

  /** Every persistent subscription here with this node's part (a node starting tells the others those its store brought back). */
  *parts(): Generator<{ row: PersistentRow; sessions: number[] }> {
    for (const mine of this.byAuthid.values()) {
      for (const p of mine.values()) yield { row: p.row(), sessions: [...p.sessions].map((s) => s.id) };
    }
  }

  // ---- keeping -------------------------------------------------------------

  /**
   * A publication to `topic` (the broker calls this only while some are
   * detached): kept by every detached subscription that matches it, passes
   * its black/whitelists and its event filter. `wireSize`: the PUBLISH's
   * size as it arrived, if it came over the wire.
   */
  offer(topic: string, publication: number, data: PublicationData, receivers: ReceiverFilter | null, wireSize: number | undefined): void {
    const groups = this.detachedCount === 0 ? [] : this.index.matchAll(topic);
    const shadows = this.shadowCount === 0 ? [] : this.shadowIndex.matchAll(topic);
    if (groups.length === 0 && shadows.length === 0) return;
    let event: FilterEvent | undefined;
    let size: number | undefined;
    let now: number | undefined;
    for (const group of groups) {
      for (const p of group) {
        if (receivers !== null && !receivers(p)) continue;
        // A filter that fails on the event keeps it out, as it would not have been delivered (no session to count it on).
        if (p.filter !== null && p.filter.test(event ??= new FilterEvent(topic, data)) !== true) continue;
        this.keep(p, publication, topic, data, size ??= eventSize(data, wireSize), now ??= Date.now());
      }
    }
    for (const group of shadows) {
      for (const p of group) {
        if (receivers !== null && !receivers(p)) continue;
        if (p.filter !== null && p.filter.test(event ??= new FilterEvent(topic, data)) !== true) continue;
        this.shade(p, { seq: 0, publication, topic, at: now ??= Date.now(), data, size: size ??= eventSize(data, wireSize) });
      }
    }
  }

  /** Keeps `e` in `p`'s shadow: its last SHADOW_MS, within the subscription's bounds, and all shadows within the realm's total. */
  private shade(p: Persistent, e: KeptEvent): void {
    const q = p.shadow;
    if (q === null) return;
    const drop = (n: number): void => { for (const x of q.splice(0, n)) { p.shadowBytes -= x.size; this.shadowTotal -= x.size; } };
    let old = 0;
    while (old < q.length && q[old]!.at < e.at - SHADOW_MS) old++;
    drop(old);
    const room = makeRoom(q, p.shadowBytes, this.shadowTotal, e.size, this.bounds);
    if (!room.keep) return;
    drop(room.evict);
    q.push(e);
    p.shadowBytes += e.size;
    this.shadowTotal += e.size;
  }

  /** Shadowed exactly while held on other nodes only (not detached, no session here). */
  private reshadow(p: Persistent): void {
    const want = p.detachedAt === null && p.sessions.size === 0 && p.remote.size > 0 && this.get(p.authid, p.name) === p;
    if (want === (p.shadow !== null)) return;
    if (want) {
      p.shadow = [];
      let group = this.shadowIndex.get(p.uri, p.match);
      if (group === undefined) { group = new Set(); this.shadowIndex.add(p.uri, p.match, group); }
      group.add(p);
      this.shadowCount++;
      return;
    }
    this.shadowTotal -= p.shadowBytes;
    p.shadow = null;
    p.shadowBytes = 0;
    const group = this.shadowIndex.get(p.uri, p.match);
    if (group !== undefined && group.delete(p) && group.size === 0) this.shadowIndex.remove(p.uri, p.match);
    this.shadowCount--;
  }

  private keep(p: Persistent, publication: number, topic: string, data: PublicationData, size: number, now: number): void {
    const cutoff = now - this.limits.maxPersistentAgeSeconds * 1000;
    let aged = 0;
    while (aged < p.queue.length && p.queue[aged]!.at < cutoff) aged++;
    if (aged > 0) this.evict(p, aged);
    const room = makeRoom(p.queue, p.bytes, this.bytes, size, this.bounds);
    if (!room.keep) { p.dropped++; return; }
    if (room.evict > 0) this.evict(p, room.evict);
    const e: KeptEvent = { seq: this.nextSeq++, publication, topic, at: now, data, size };
    p.queue.push(e);
    p.bytes += size;
    this.bytes += size;
    this.durable?.append(p.authid, p.name, e);
  }

  /** Drops the `n` oldest events of `p` (counted as dropped). */
  private evict(p: Persistent, n: number): void {
    const gone = p.queue.splice(0, n);
    let freed = 0;
    for (const e of gone) freed += e.size;
    p.bytes -= freed;
    this.bytes -= freed;
    p.dropped += n;
    this.durable?.removeEvents(p.authid, p.name, gone[gone.length - 1]!.seq);
  }

  // ---- operators (meta procedures) -------------------------------------------

  list(authid: string | undefined, max: number): Dict[] {
    const out: Dict[] = [];
    const authids = authid === undefined ? [...this.byAuthid.keys()].sort() : [authid];
    for (const a of authids) {
      const mine = this.byAuthid.get(a);
      if (mine === undefined) continue;
      for (const name of [...mine.keys()].sort()) {
        if (out.length >= max) return out;
        out.push(describe(mine.get(name)!));
      }
    }
    return out;
  }

  drop(authid: string, name: string): boolean {
    const p = this.get(authid, name);
    if (p === undefined) return false;
    this.end(p);
    return true;
  }

  // ---- the durable store (StoreTenant) ----------------------------------------

  /** The realm's store opened (Router.start): the subscriptions in it come back detached. */
  opened(store: DurablePersistent): void {
    const now = Date.now();
    const inMemory = [...this.byAuthid.values()].flatMap((m) => [...m.values()]);
    for (const { row, events } of store.load()) {
      for (const e of events) this.nextSeq = Math.max(this.nextSeq, e.seq + 1);
      if (this.get(row.authid, row.name) !== undefined) continue; // made before the store opened: that one is written below
      let filter: ContentFilter | null = null;
      if (row.filter !== null) {
        const f = compileFilter(row.filter, this.limits);
        if (typeof f === 'string') {
          store.warn({ authid: row.authid, name: row.name, why: f }, 'persistent subscription left out: its event filter is not valid under the current limits');
          store.remove(row.authid, row.name);
          continue;
        }
        filter = f;
      }
      const detachedAt = row.detachedAt ?? now;
      if (detachedAt + Math.min(row.ttl, this.limits.maxPersistentTtlSeconds) * 1000 <= now) { store.remove(row.authid, row.name); continue; }
      // A max_persistent_ttl lowered since it was written applies to it too.
      const p = new Persistent(row.authid, row.name, row.uri, row.match, filter, row.authrole, Math.min(row.ttl, this.limits.maxPersistentTtlSeconds), row.created);
      p.dropped = row.dropped;
      this.add(p);
      // The bounds as configured now (they may have been lowered): what they leave out goes from the file too.
      const cutoff = now - this.limits.maxPersistentAgeSeconds * 1000;
      let left = 0;
      for (const e of events) {
        const room = e.at < cutoff ? undefined : makeRoom(p.queue, p.bytes, this.bytes, e.size, this.bounds);
        if (room === undefined || !room.keep) { left++; continue; }
        for (const gone of p.queue.splice(0, room.evict)) { p.bytes -= gone.size; this.bytes -= gone.size; left++; }
        p.queue.push(e);
        p.bytes += e.size;
        this.bytes += e.size;
      }
      p.dropped += left;
      this.detach(p, detachedAt);
      // Held when the router stopped: detached from now on, which the file must say so that the next start counts from here.
      if (row.detachedAt === null || left > 0) store.save(p.row());
      if (left > 0) {
        store.removeEvents(p.authid, p.name, Number.MAX_SAFE_INTEGER);
        for (const e of p.queue) store.append(p.authid, p.name, e);
      }
    }
    this.durable = store;
    // An in-process session's, from before the start: written as it is now.
    for (const p of inMemory) {
      store.remove(p.authid, p.name);
      store.save(p.row());
      for (const e of p.queue) store.append(p.authid, p.name, e);
    }
  }

  /** The store is closing (Router.stop): its copy is complete; what is here is read back from it at the next start. */
  closing(): void {
    for (const mine of this.byAuthid.values()) for (const p of mine.values()) clearTimeout(p.timer);
    this.byAuthid.clear();
    this.bySession.clear();
    this.index = new UriIndex();
    this.shadowIndex = new UriIndex();
    this.shadowCount = 0;
    this.shadowTotal = 0;
    this.detachedCount = 0;
    this.detachedFiltered = 0;
    this.count = 0;
    this.bytes = 0;
    this.durable = null;
  }
}

function describe(p: Persistent): Dict {
  const d: Dict = { authid: p.authid, name: p.name, topic: p.uri, match: p.match };
  if (p.filter !== null) d[FILTER_OPTION] = p.filter.text;
  d.ttl = p.ttl;
  d.authrole = p.authrole;
  d.created = p.created;
  d.sessions = [...[...p.sessions].map((s) => s.id), ...[...p.remote.values()].flat()];
  d.detached = p.detachedAt === null ? null : new Date(p.detachedAt).toISOString();
  d.expires = p.detachedAt === null ? null : new Date(p.detachedAt + p.ttl * 1000).toISOString();
  d.events = p.queue.length;
  d.bytes = p.bytes;
  d.dropped = p.dropped;
  return d;
}
