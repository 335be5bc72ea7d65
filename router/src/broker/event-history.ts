// Event history (Crossbar's realm `store` section, type memory): for the
// (uri, match) pairs the config names, the broker keeps the last `limit`
// events published to matching topics, and `wamp.subscription.get_events`
// hands them to a subscriber of that (uri, match), newest first.
//
// A subscription is served from the entry with its own (uri, match) or, when
// there is none, from an entry that covers it (every topic the subscription
// matches is one the entry keeps), filtered to the subscription's topics: a
// page subscribed exactly to `claw.machine.claw-1.events` reads the history
// of the entry `claw.machine..events` (wildcard). Crossbar serves only the
// same (uri, match); this answers a superset of what it answers.
//
// Kept is what subscribers could receive: the event as delivered (the
// publisher's identity only where its permission disclosed it) and the
// publication's black/whitelists, applied to whoever reads it later.
// Bounded by the config: `limit` events per entry, each no larger than the
// endpoint's max_message_size.
//
// With a durable store (realm `store` type "sqlite", history-store.ts) the
// rings stay the read path (reads are synchronous and never touch the
// disk): open() fills them from the file, and every event recorded after
// that is also handed to the store, which writes it in a later batch.
//
// The durable store is the realm's one store: persistent subscriptions
// (persistent-subscriptions.ts) keep their events in the same file. They
// are a StoreTenant of the history, told when the store opens and before it
// closes, because the history is what the realm opens at start and closes
// at stop.
import type { Dict } from '../messages/types.js';
import type { MatchPolicy } from '../messages/options.js';
import type { Peer } from '../routing/peer.js';
import type { PublicationData } from '../routing/publication.js';
import { UriIndex } from '../routing/uri-index.js';
import { patternCovers, patternMatches } from '../uri.js';
import { eventSize } from './event-size.js';
import type { ReceiverFilter } from './receiver-filter.js';
import type { DurablePersistent } from './persistent-store.js';

export interface HistoryEntryConfig { readonly uri: string; readonly match: MatchPolicy; readonly limit: number }

export interface StoredEvent {
  readonly publication: number;
  readonly topic: string;
  readonly timestamp: string;
  readonly data: PublicationData;
  /** The publication's black/whitelists (a durable store keeps receiverLists(filter.options)). */
  readonly filter: ReceiverFilter | null;
  /** Its size (event-size.ts): the PUBLISH as it arrived, the stored body's; measured on first need otherwise. */
  size?: number;
}

/** Where the events are kept beyond the process (history-store.ts). */
export interface DurableHistory {
  /**
   * The events kept for each entry the store was opened with (in that
   * order), oldest first, at most the entry's limit; an event kept by
   * several entries is one object.
   */
  load(): StoredEvent[][];
  /** Keeps `e` for `entries`; written later, in a batch. */
  append(e: StoredEvent, entries: readonly HistoryEntryConfig[]): void;
  /** Writes what is pending, then closes. */
  close(): void;
  /** The persistent subscriptions' part of the same store, if it keeps them. */
  readonly persistent?: DurablePersistent;
}

/** Something else kept in the realm's durable store: opened after the history's rings are filled, closed before the store. */
export interface StoreTenant {
  /** The store is open (a throw closes it again and fails the start). */
  opened(store: DurablePersistent): void;
  /** The store is about to write its last batch and close. */
  closing(): void;
}

/**
 * Events one get_events answer carries at most, whatever limit it asks for:
 * any subscriber may read, so an answer must not turn one small CALL into
 * megabytes (an entry may keep 10000 events).
 */
export const DEFAULT_MAX_EVENTS_PER_READ = 100;

/** Events of an entry a filtered subscription's read evaluates its filter on at most (the newest ones). */
export const MAX_FILTERED_SCAN = 1000;
/**
 * Bytes of events one filtered read evaluates its filter on at most (each
 * evaluation converts the event's payload): a read of an entry of large
 * events costs what converting 1 MiB costs, a few ms, however many it keeps.
 */
export const MAX_FILTERED_SCAN_BYTES = 1 << 20;

export type OpenDurableHistory = (entries: readonly HistoryEntryConfig[]) => DurableHistory;

class HistoryEntry {
  /** A ring of at most `limit` events; `next` is where the next one goes. */
  private readonly ring: StoredEvent[] = [];
  private next = 0;
  /** Events ever added: tells what was recorded after a mark (merge()). */
  added = 0;
  constructor(readonly uri: string, readonly match: MatchPolicy, readonly limit: number) {}

  add(e: StoredEvent): void {
    this.added++;
    if (this.ring.length < this.limit) this.ring.push(e);
    else this.ring[this.next] = e;
    this.next = (this.next + 1) % this.limit;
  }

  /** Starts over with `events` (oldest first), keeping the last `limit` of them. */
  reset(events: readonly StoredEvent[]): void {
    this.ring.length = 0;
    this.next = 0;
    for (const e of events.slice(-this.limit)) this.add(e);
  }

  /** Oldest first. */
  oldest(): StoredEvent[] {
    return [...this.newest()].reverse();
  }

  /** Newest first. */
  *newest(): Generator<StoredEvent> {
    const n = this.ring.length;
    for (let i = 1; i <= n; i++) yield this.ring[(this.next - i + n * 2) % n]!;
  }
}

export class EventHistory {
  private readonly index = new UriIndex<HistoryEntry>();
  private readonly byKey = new Map<string, HistoryEntry>();
  private durable: DurableHistory | null = null;
  private readonly tenants: StoreTenant[] = [];

  /**
   * `openDurable`: the durable store, opened by open(); none: memory only.
   * `maxPerRead`: the most events eventsFor returns, whatever it is asked.
   */
  constructor(entries: readonly HistoryEntryConfig[], private readonly openDurable?: OpenDurableHistory, readonly maxPerRead = DEFAULT_MAX_EVENTS_PER_READ) {
    for (const c of entries) {
      const key = `${c.match} ${c.uri}`;
      if (this.byKey.has(key)) continue;
      const e = new HistoryEntry(c.uri, c.match, c.limit);
      this.byKey.set(key, e);
      this.index.add(c.uri, c.match, e);
    }
  }

  /** Keeps `tenant`'s state in the durable store too (when there is one). */
  addTenant(tenant: StoreTenant): void {
    this.tenants.push(tenant);
  }

  /**
   * Opens the durable store, if there is one, and fills the rings from it.
   * Events recorded before (in-process publications before the router
   * started) stay in memory only, after the file's. Throws when the store
   * can't be opened.
   */
  open(): void {
    if (this.openDurable === undefined || this.durable !== null) return;
    const entries = [...this.byKey.values()];
    const durable = this.openDurable(entries);
    let loaded: StoredEvent[][];
    const opened: StoreTenant[] = [];
    try {
      loaded = durable.load();
      const shared = durable.persistent;
      if (shared !== undefined) {
        for (const t of this.tenants) { t.opened(shared); opened.push(t); }
      }
    } catch (e) {
      for (const t of opened) t.closing();
      durable.close();
      throw e;
    }
    entries.forEach((h, i) => h.reset([...loaded[i]!, ...h.oldest()]));
    this.durable = durable;
  }

  /** Is a durable store open (its tenants are closed with it)? */
  get durablyKept(): boolean {
    return this.durable !== null && this.durable.persistent !== undefined;
  }

  /**
   * Writes what is pending and closes the durable store. The rings are
   * emptied with it: open() fills them from the file again.
   */
  close(): void {
    if (this.durable === null) return;
    const durable = this.durable;
    this.durable = null;
    for (const h of this.byKey.values()) h.reset([]);
    if (durable.persistent !== undefined) for (const t of this.tenants) t.closing();
    durable.close();
  }

  /** The entries, in the order of the config (a cluster node keeps one stream per entry: cluster/history-link.ts). */
  get entries(): readonly HistoryEntryConfig[] {
    return [...this.byKey.values()];
  }

  /** The entries that keep publications to `topic`. */
  entriesFor(topic: string): readonly HistoryEntryConfig[] {
    return this.index.matchAll(topic);
  }

  /** Where each entry stands now (merge() keeps what is recorded after it). */
  mark(): number[] {
    return [...this.byKey.values()].map((h) => h.added);
  }

  /**
   * A cluster node's history read from the cluster's store (oldest first,
   * per entry in the order of `entries`): it replaces what an entry held at
   * `mark` (the file's, which the cluster's store supersedes), followed by
   * what was recorded since (live publications while it was read), less
   * what the store had already. An entry the store had nothing for keeps
   * what it had.
   */
  merge(loaded: readonly (readonly StoredEvent[])[], mark: readonly number[]): void {
    [...this.byKey.values()].forEach((h, i) => {
      const got = loaded[i] ?? [];
      if (got.length === 0) return;
      const fresh = Math.min(h.added - (mark[i] ?? 0), h.limit);
      const have = new Set(got.map((e) => e.publication));
      const since = fresh <= 0 ? [] : h.oldest().slice(-fresh).filter((e) => !have.has(e.publication));
      h.reset([...got, ...since]);
    });
  }

  /** Keeps a publication in every entry whose (uri, match) matches its topic. */
  record(topic: string, publication: number, data: PublicationData, filter: ReceiverFilter | null, wireSize?: number): void {
    const entries = this.index.matchAll(topic);
    if (entries.length === 0) return;
    const e: StoredEvent = { publication, topic, timestamp: new Date().toISOString(), data, filter };
    if (wireSize !== undefined) e.size = wireSize;
    for (const h of entries) h.add(e);
    if (this.durable !== null) this.durable.append(e, entries);
  }

  /** Is history kept for subscriptions of (uri, match)? */
  has(uri: string, match: MatchPolicy): boolean {
    return this.entryFor(uri, match) !== undefined;
  }

  /**
   * The entry that serves subscriptions of (uri, match): its own, else the
   * covering entry that keeps the most events (the first configured on a tie).
   */
  private entryFor(uri: string, match: MatchPolicy): HistoryEntry | undefined {
    const own = this.byKey.get(`${match} ${uri}`);
    if (own !== undefined) return own;
    let best: HistoryEntry | undefined;
    for (const e of this.byKey.values()) {
      if (patternCovers(e.uri, e.match, uri, match) && (best === undefined || e.limit > best.limit)) best = e;
    }
    return best;
  }

  /**
   * The last `limit` (at most maxPerRead) events of (uri, match) that
   * `reader` may receive, newest first, in the shape of Crossbar's answer
   * where it does not tell more than the event did; undefined when no
   * history is kept for it. `accept`: the subscription's event filter
   * (x_filter), asked of at most MAX_FILTERED_SCAN events per read, so a
   * read costs a bounded number of evaluations whatever the entry keeps.
   */
  eventsFor(uri: string, match: MatchPolicy, reader: Peer, asked: number, accept?: (topic: string, data: PublicationData) => boolean): Dict[] | undefined {
    const h = this.entryFor(uri, match);
    if (h === undefined) return undefined;
    const limit = Math.min(asked, this.maxPerRead);
    const own = h.uri === uri && h.match === match;
    const out: Dict[] = [];
    let evaluated = 0;
    let scanned = 0;
    for (const e of h.newest()) {
      if (out.length >= limit) break;
      if (!own && !patternMatches(uri, match, e.topic)) continue;
      if (e.filter !== null && !e.filter(reader)) continue;
      if (accept !== undefined) {
        if (evaluated++ >= MAX_FILTERED_SCAN) break;
        scanned += e.size ??= eventSize(e.data, undefined);
        if (scanned > MAX_FILTERED_SCAN_BYTES && evaluated > 1) break;
        if (!accept(e.topic, e.data)) continue;
      }
      const item: Dict = { publication: e.publication, topic: e.topic, timestamp: e.timestamp, args: e.data.args ?? [], kwargs: e.data.kwargs ?? {}, details: e.data.details };
      if (e.data.payload !== undefined) item.payload = e.data.payload;
      out.push(item);
    }
    return out;
  }
}
