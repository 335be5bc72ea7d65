// One realm's event history across the cluster (docs/cluster.md, "Event
// history"): a JetStream stream per `event-history` entry keeps the entry's
// last `limit` events of the whole cluster, so that a node started later,
// or started again, serves the events published before it started, also
// by nodes that are gone.
//
// Every node records every publication it delivers in its own rings
// (event-history.ts; remote ones as they arrive on the realm's event
// subject), which stay the read path: get_events never waits for NATS. The
// streams are the cluster's durable copy: the node that accepted a
// publication (and only that one) appends it to the stream of each entry
// that keeps it, and a node fills its rings from the streams when it
// starts, before it serves. NATS trims each stream to the entry's limit
// (max_msgs, discard old), so nothing here counts or deletes.
//
// One connection per node, appends in the order published: a publisher's
// events are in its entry's stream in the order it published them, as they
// are on the event subject.
import { createHash } from 'node:crypto';
import { jetstream, jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Dict } from '../messages/types.js';
import type { PublicationData } from '../routing/publication.js';
import type { EventHistory, HistoryEntryConfig, StoredEvent } from '../broker/event-history.js';
import { compileReceiverFilter } from '../broker/receiver-filter.js';
import { cborSerializer } from '../serializers/cbor.js';
import type { DecodeLimits } from '../serializers/serializer.js';
import type { ClusterCounters } from './cluster-counters.js';
import { isJetStreamTimeout, patiently, type StartPatience } from './start-patience.js';

/** Written by nodes of our own cluster within their endpoints' bounds: only depth is held, to the widest a config allows. */
const DECODE_LIMITS: DecodeLimits = { maxElements: Number.MAX_SAFE_INTEGER, maxDepth: 1001 };
/** How long the start waits for one entry's events at most. */
const LOAD_TIMEOUT_MS = 5000;
/** A failing append is logged at most this often (a NATS outage fails every one). */
const ERROR_LOG_INTERVAL_MS = 10_000;

/** What a history link needs of its node. */
export interface HistoryHost extends StartPatience {
  readonly nc: NatsConnection;
  readonly cluster: string;
  readonly counters: ClusterCounters;
  /** Bounds of the appends waiting for their acknowledgement (config `max_history_appends`, `max_history_append_bytes`). */
  readonly historyAppends: { readonly count: number; readonly bytes: number };
  /** Copies JetStream keeps of each bucket and stream (config `replicas`). */
  readonly replicas: number;
}

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** An entry's token in its stream's name and subject: its (match, uri) may hold characters neither allows. */
export function entryToken(e: HistoryEntryConfig): string {
  return createHash('sha256').update(`${e.match} ${e.uri}`).digest('hex').slice(0, 16);
}

/** An event as an entry's stream keeps it, in CBOR (binary values and 64-bit integers as they were). */
export function encodeHistoryEvent(topic: string, publication: number, timestamp: string, d: PublicationData, lists: Dict | null): Uint8Array {
  return cborSerializer.encode([topic, publication, timestamp, d.args ?? null, d.kwargs ?? null, d.payload ?? null, d.details, lists]) as Uint8Array;
}

/** Throws when the bytes are not one encodeHistoryEvent wrote. */
export function decodeHistoryEvent(bytes: Uint8Array): StoredEvent {
  const v = cborSerializer.decode(bytes, DECODE_LIMITS);
  if (!Array.isArray(v) || v.length !== 8) throw new Error('not a history event');
  const [topic, publication, timestamp, args, kwargs, payload, details, lists] = v as unknown[];
  if (typeof topic !== 'string' || typeof publication !== 'number' || typeof timestamp !== 'string') throw new Error('malformed history event');
  const data: PublicationData = { details: isDict(details) ? details : {} };
  if (Array.isArray(args)) data.args = args;
  if (isDict(kwargs)) data.kwargs = kwargs;
  if (typeof payload === 'string' || payload instanceof Uint8Array) data.payload = payload;
  return { publication, topic, timestamp, data, filter: isDict(lists) ? compileReceiverFilter(lists) : null, size: bytes.byteLength };
}

interface Stream { readonly name: string; readonly subject: string }

export class HistoryLink {
  private js: JetStreamClient | undefined;
  private readonly streams = new Map<HistoryEntryConfig, Stream>();
  /** Appends sent and not yet acknowledged (or failed), and their bytes. */
  private inFlight = 0;
  private inFlightBytes = 0;
  private lastErrorLog = -Infinity;

  constructor(private readonly host: HistoryHost, private readonly realmName: string, realmToken: string, private readonly history: EventHistory) {
    for (const e of history.entries) {
      const t = entryToken(e);
      this.streams.set(e, { name: `${host.cluster}_history_${realmToken}_${t}`, subject: `${host.cluster}.r.${realmToken}.h.${t}` });
    }
  }

  /**
   * Makes (or adjusts) each entry's stream, then fills the rings from them.
   * `mark`: the history's mark taken before the node started listening to
   * the other nodes' publications (what arrived since stays after the
   * stream's events).
   */
  async start(mark: number[]): Promise<void> {
    const { nc } = this.host;
    const jsm = await patiently(this.host, 'JetStream', () => jetstreamManager(nc));
    this.js = jetstream(nc);
    const loaded: StoredEvent[][] = [];
    for (const [entry, s] of this.streams) {
      await patiently(this.host, `stream ${s.name}`, () => this.ensure(jsm, entry, s));
      loaded.push(await patiently(this.host, `events of ${s.name}`, () => this.load(jsm, entry, s)));
    }
    this.history.merge(loaded, mark);
  }

  /** The stream keeps the entry's `limit` events, NATS trimming the oldest; a limit changed in the config changes the stream. */
  private async ensure(jsm: JetStreamManager, entry: HistoryEntryConfig, s: Stream): Promise<void> {
    let info;
    // Missing: made here. Not answered in time: not known to be missing (tried again, start-patience.ts).
    try { info = await jsm.streams.info(s.name); } catch (e) { if (isJetStreamTimeout(e)) throw e; info = null; }
    if (info === null) {
      await jsm.streams.add({
        name: s.name, subjects: [s.subject], retention: RetentionPolicy.Limits, storage: StorageType.File,
        max_msgs: entry.limit, discard: DiscardPolicy.Old, num_replicas: this.host.replicas,
        description: `clawgate event history: realm ${this.realmName.slice(0, 100)}, ${entry.match} ${entry.uri.slice(0, 200)}`,
      });
    } else if (info.config.max_msgs !== entry.limit) {
      await jsm.streams.update(s.name, { ...info.config, max_msgs: entry.limit });
    }
  }

  /** The entry's events in the stream, oldest first (an ordered consumer from the first). */
  private async load(jsm: JetStreamManager, entry: HistoryEntryConfig, s: Stream): Promise<StoredEvent[]> {
    const js = this.js!;
    const count = (await jsm.streams.info(s.name)).state.messages;
    if (count === 0) return [];
    const consumer = await js.consumers.get(s.name);
    const out: StoredEvent[] = [];
    const iter = await consumer.fetch({ max_messages: Math.min(count, entry.limit), expires: LOAD_TIMEOUT_MS });
    for await (const m of iter) {
      try { out.push(decodeHistoryEvent(m.data)); } catch { this.host.counters.malformed++; }
      if (m.info.pending === 0) break;
    }
    return out.slice(-entry.limit);
  }

  /**
   * A publication accepted on this node (after its local fan-out): appended
   * to the stream of every entry that keeps it. Not awaited: a failure is
   * counted (store_failure) and logged, the node's own rings have it.
   */
  published(topic: string, publication: number, data: PublicationData, lists: Dict | null): void {
    const js = this.js;
    if (js === undefined) return;
    const entries = this.history.entriesFor(topic);
    if (entries.length === 0) return;
    const bytes = encodeHistoryEvent(topic, publication, new Date().toISOString(), data, lists);
    for (const e of entries) {
      const s = this.streams.get(e);
      if (s === undefined) continue;
      // Appends in flight are bounded (count and bytes): while NATS is slow or away, each one waits
      // for its acknowledgement (up to JetStream's timeout) holding its bytes, and publishers keep
      // publishing. Past the bound an append is dropped and counted; the rings have the event.
      const bound = this.host.historyAppends;
      if (this.inFlight >= bound.count || this.inFlightBytes + bytes.length > bound.bytes) {
        this.failed(new Error(`${this.inFlight} appends (${this.inFlightBytes} bytes) already wait for JetStream`));
        continue;
      }
      this.inFlight++;
      this.inFlightBytes += bytes.length;
      js.publish(s.subject, bytes)
        .catch((err: unknown) => this.failed(err))
        .finally(() => { this.inFlight--; this.inFlightBytes -= bytes.length; });
    }
  }

  private failed(err: unknown): void {
    this.host.counters.storeFailures++;
    const now = Date.now();
    if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLog = now;
    this.host.log.warn({ err: (err as Error).message, realm: this.realmName, note: 'logged at most once in 10 s' }, 'event history: a publication was not written to the cluster\'s history stream');
  }
}
