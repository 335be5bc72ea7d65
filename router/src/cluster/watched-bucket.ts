// A cluster table in a JetStream key-value bucket, as the realm links keep
// theirs (sessions, subscriptions, registrations, persistent subscriptions,
// retained events): the bucket made if missing with the cluster's replicas,
// a watcher that hands every entry to the link, and this node's writes one
// after another per key, so a key's delete never overtakes the put before it.
//
// A delete leaves a marker in the bucket (one message per key: history 1),
// and keys name sessions, which are never seen again: the markers would pile
// up for ever, in JetStream's store and in what every node reads at its
// start. sweep() clears those older than the table's marker age, and
// reconcile() is how a node that may have missed some (cut off from NATS for
// a long time) gets its table right again.
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvEntry, type KvOptions, type KvWatchOptions } from '@nats-io/kv';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { ClusterCounters } from './cluster-counters.js';
import type { Logger } from '../logger.js';
import { patiently, type StartPatience } from './start-patience.js';

/** What a bucket needs of its node. */
export interface BucketHost extends StartPatience {
  readonly nc: NatsConnection;
  /** Copies JetStream keeps (config `replicas`). */
  readonly replicas: number;
  readonly counters: ClusterCounters;
  readonly log: Logger;
  /** NATS is connected now (failed writes are tried again only then). */
  readonly connected: boolean;
  /**
   * Another live run of this node's name was heard (two processes under one name: a stalled run and
   * its restart): this run no longer writes back what the others delete, or the two would do so for ever.
   */
  readonly fenced: boolean;
  /** How long delete markers stay (config `marker_age`), unless a table asks for longer. */
  readonly markerAgeMs: number;
  /** The node's tables: each bucket joins when opened and leaves when stopped (the node sweeps them, cluster-node.ts). */
  readonly tables: Set<WatchedBucket>;
}

export interface BucketOptions {
  /** For the log line of a failed write: "<what> not written to the cluster table". */
  what: string;
  realm: string;
  /** More of the bucket's config (its `history` is 1, its `replicas` the node's). */
  create?: Partial<KvOptions>;
  /** The watcher's (by default every entry there is, then every change). */
  watch?: KvWatchOptions;
  /** Delete markers stay at least this long (default: the host's `markerAgeMs`, and never less). */
  markerAgeMs?: number;
}

/** Markers cleared per sweep at most (the next sweep goes on), and purge requests in flight at once. */
export const SWEEP_MAX = 10_000;
const PURGES_IN_FLIGHT = 16;
/** A sweep's read of a table ends after this long without an entry, or this long in all (current()). */
const READ_IDLE_MS = 2000;
const READ_MAX_MS = 60_000;

/** A write of a key: what it writes, and how many times it failed before. */
interface Slot { value: string | Uint8Array | undefined; attempt: number }

/** A failed table write is tried again after this long, doubling up to the max. */
const WRITE_RETRY_MS = 1000;
const WRITE_RETRY_MAX_MS = 30_000;

/** An entry deleted while this node did not see it: what reconcile() hands to the link. */
function deletion(bucket: string, key: string): KvEntry {
  return {
    bucket, key, value: new Uint8Array(0), created: new Date(), revision: 0, delta: 0, operation: 'DEL', length: 0,
    json: () => { throw new Error(`${key} is deleted`); },
    string: () => '',
  } as unknown as KvEntry;
}

/**
 * Purges each marker's key up to the marker itself (`seq`: every message of
 * that subject before it), a few requests at a time, until `stop()` or a
 * batch of which none went through (JetStream not answering: `error`). A
 * value written to the key after the marker stays. `purged`: how many
 * messages went.
 */
export async function purgeMarkers(jsm: JetStreamManager, bucket: string, markers: readonly { key: string; revision: number }[], stop = (): boolean => false): Promise<{ purged: number; error?: unknown }> {
  let purged = 0;
  for (let i = 0; i < markers.length && !stop(); i += PURGES_IN_FLIGHT) {
    const done = await Promise.allSettled(markers.slice(i, i + PURGES_IN_FLIGHT).map((m) =>
      // KV's stream and subjects (ADR-8): KV_<bucket>, $KV.<bucket>.<key>.
      jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${m.key}`, seq: m.revision + 1 })));
    let error: unknown;
    for (const r of done) if (r.status === 'fulfilled') purged += r.value.purged; else error ??= r.reason;
    if (done.every((r) => r.status === 'rejected')) return { purged, error };
  }
  return { purged };
}

export class WatchedBucket {
  /** Writes per key in flight, each after the one before. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Per key, the write queued behind the one in flight, not started yet (its value may still change). */
  private readonly waiting = new Map<string, Slot>();
  /** Per key, its last write, until it went through (or was given up): a failed one is tried again while it is the last. */
  private readonly latest = new Map<string, Slot>();
  /** Keys whose last entry handed to the link is a value, with that entry's revision. */
  private readonly live = new Map<string, number>();
  private jsm: JetStreamManager | undefined;
  private stopped = false;
  readonly markerAgeMs: number;

  private constructor(
    readonly kv: KV,
    readonly name: string,
    private readonly onEntry: (e: KvEntry) => void,
    private readonly host: BucketHost,
    private readonly o: BucketOptions,
  ) {
    this.markerAgeMs = Math.max(host.markerAgeMs, o.markerAgeMs ?? 0);
  }

  private watcher: { stop(): void } | undefined;
  /** The watch of a sweep's read in progress (current()). */
  private reading: { stop(): void } | undefined;

  /** Opens bucket `name` and starts handing its entries to `onEntry`, in the order the bucket has them. */
  static async open(host: BucketHost, name: string, onEntry: (e: KvEntry) => void, o: BucketOptions): Promise<WatchedBucket> {
    // Both tried again while they time out at a node's start (start-patience.ts).
    const kv = await patiently(host, `bucket ${name}`, () => new Kvm(host.nc).create(name, { history: 1, replicas: host.replicas, ...o.create }));
    const b = new WatchedBucket(kv, name, onEntry, host, o);
    const w = b.watcher = await patiently(host, `watch of ${name}`, () => kv.watch(o.watch));
    void (async () => { for await (const e of w) b.deliver(e); })();
    host.tables.add(b);
    return b;
  }

  private deliver(e: KvEntry): void {
    if (e.operation === 'PUT') this.live.set(e.key, e.revision); else this.live.delete(e.key);
    this.onEntry(e);
  }

  /**
   * Puts `value` at `key`, or deletes it (undefined), after this node's
   * earlier writes of that key. A write still waiting its turn takes the
   * newer value instead of queueing another, so a burst of rewrites costs a
   * key two writes at most. A failure is counted and logged, and the write
   * tried again (1 s, doubling to 30 s) while it is the key's last and NATS
   * is connected (after an outage the links write everything again anyway).
   */
  write(key: string, value: string | Uint8Array | undefined, attempt = 0): void {
    if (this.stopped) return;
    const waiting = this.waiting.get(key);
    if (waiting !== undefined) { waiting.value = value; waiting.attempt = attempt; return; }
    const slot = { value, attempt };
    this.waiting.set(key, slot);
    this.latest.set(key, slot);
    const next = (this.chains.get(key) ?? Promise.resolve()).then(async () => {
      this.waiting.delete(key);
      const { value } = slot;
      try {
        if (value === undefined) await this.kv.delete(key); else await this.kv.put(key, value);
        if (this.latest.get(key) === slot) this.latest.delete(key);
      } catch (e) {
        this.host.counters.storeFailures++;
        this.host.log.warn({ err: (e as Error).message, realm: this.o.realm, key }, `${this.o.what} not written to the cluster table`);
        if (this.latest.get(key) !== slot) return;
        if (this.stopped || !this.host.connected) { this.latest.delete(key); return; }
        const retry = setTimeout(() => { if (this.latest.get(key) === slot) this.write(key, slot.value, slot.attempt + 1); }, Math.min(WRITE_RETRY_MAX_MS, WRITE_RETRY_MS * 2 ** slot.attempt));
        retry.unref();
      }
    });
    this.chains.set(key, next);
    void next.then(() => { if (this.chains.get(key) === next) this.chains.delete(key); });
  }

  /**
   * Hands `fn` every key's last entry (headers only) as the bucket has it: a
   * watch read up to the entry at the stream's last sequence when it began,
   * or until nothing came for READ_IDLE_MS (that entry may have been
   * replaced meanwhile; a key written and deleted over and over can keep a
   * read that waits for "nothing pending" going for ever), READ_MAX_MS at
   * most. So it may miss an entry or two: fine for a sweep, whose next run
   * gets them.
   */
  private async current(fn: (e: KvEntry) => void): Promise<void> {
    const { state } = (await this.kv.status()).streamInfo;
    if (state.messages === 0) return;
    const upTo = state.last_seq;
    if (this.stopped) return;
    const w = this.reading = await this.kv.watch({ key: '>', headers_only: true });
    await new Promise<void>((resolve) => {
      let idle: NodeJS.Timeout | undefined;
      const finish = (): void => { clearTimeout(idle); clearTimeout(cap); w.stop(); if (this.reading === w) this.reading = undefined; resolve(); };
      const arm = (): void => { clearTimeout(idle); idle = setTimeout(finish, READ_IDLE_MS); idle.unref(); };
      const cap = setTimeout(finish, READ_MAX_MS);
      cap.unref();
      arm();
      void (async () => {
        for await (const e of w) {
          fn(e);
          if (e.revision >= upTo) break;
          arm();
        }
        finish();
      })().catch(finish);
    });
  }

  /**
   * Clears the delete markers older than the table's marker age: each one's
   * subject is purged up to the marker's own sequence, so a key written
   * again meanwhile keeps its new value (a purge by key alone could take
   * it). Idempotent: any node may sweep, twice over. Resolves with how many
   * markers went.
   */
  async sweep(now = Date.now()): Promise<number> {
    if (this.stopped) return 0;
    const cutoff = now - this.markerAgeMs;
    const old: KvEntry[] = [];
    await this.current((e) => { if (e.operation !== 'PUT' && e.created.getTime() < cutoff && old.length < SWEEP_MAX) old.push(e); });
    if (old.length === 0) return 0;
    this.jsm ??= await jetstreamManager(this.host.nc);
    const { purged, error } = await purgeMarkers(this.jsm, this.name, old, () => this.stopped);
    this.host.counters.markersCleared += purged;
    if (purged === 0 && error !== undefined) throw error;
    return purged;
  }

  /**
   * Reads the table as it is and hands the link a deletion for every key it
   * holds a value of that is not there at all: after a long NATS outage the
   * watcher carries on where it was, but the markers it would have delivered
   * may have been swept meanwhile. A key with its marker still there is
   * left to the watcher, and so is a key written after the read began.
   * (The links take a second deletion of a key as a no-op.) Resolves with
   * how many.
   */
  async reconcile(): Promise<number> {
    if (this.stopped) return 0;
    this.jsm ??= await jetstreamManager(this.host.nc);
    // The subjects that hold a message (a value or a marker), and the last sequence, in one answer (paged).
    const { state } = await this.jsm.streams.info(`KV_${this.name}`, { subjects_filter: '>' });
    const upTo = state.last_seq;
    const prefix = `$KV.${this.name}.`;
    const there = new Set(Object.keys(state.subjects ?? {}).map((s) => s.slice(prefix.length)));
    let gone = 0;
    for (const [key, revision] of [...this.live]) {
      if (revision > upTo || there.has(key)) continue;
      // Asked one by one before it goes: a long list comes in pages, which a busy table can shift.
      if (await this.kv.get(key) !== null || this.live.get(key) !== revision) continue;
      this.live.delete(key);
      gone++;
      this.onEntry(deletion(this.name, key));
    }
    this.host.counters.entriesReconciled += gone;
    return gone;
  }

  /** Waits for the writes made so far (a node's last sessions' deletes go out before it says bye), then stops watching. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
    this.stopped = true;
    this.host.tables.delete(this);
    this.watcher?.stop();
    // A sweep's read in progress too: its consumer would outlive the node, its client's timers keeping the process up.
    this.reading?.stop();
  }
}
