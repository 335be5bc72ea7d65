// A cluster table in a JetStream key-value bucket, as the realm links keep
// theirs (sessions, subscriptions, registrations, persistent subscriptions,
// retained events): the bucket made if missing with the cluster's replicas,
// a watcher that hands every entry to the link, and this node's writes one
// after another per key, so a key's delete never overtakes the put before it.
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvEntry, type KvOptions, type KvWatchOptions } from '@nats-io/kv';
import type { ClusterCounters } from './cluster-counters.js';
import { patiently, type StartPatience } from './start-patience.js';

/** What a bucket needs of its node. */
export interface BucketHost extends StartPatience {
  readonly nc: NatsConnection;
  /** Copies JetStream keeps (config `replicas`). */
  readonly replicas: number;
  readonly counters: ClusterCounters;
}

export interface BucketOptions {
  /** For the log line of a failed write: "<what> not written to the cluster table". */
  what: string;
  realm: string;
  /** More of the bucket's config (its `history` is 1, its `replicas` the node's). */
  create?: Partial<KvOptions>;
  /** The watcher's (by default every entry there is, then every change). */
  watch?: KvWatchOptions;
}

export class WatchedBucket {
  /** Writes per key in flight, each after the one before. */
  private readonly chains = new Map<string, Promise<void>>();
  private stopped = false;

  private constructor(
    readonly kv: KV,
    private readonly watcher: { stop(): void },
    private readonly host: BucketHost,
    private readonly o: BucketOptions,
  ) {}

  /** Opens bucket `name` and starts handing its entries to `onEntry`, in the order the bucket has them. */
  static async open(host: BucketHost, name: string, onEntry: (e: KvEntry) => void, o: BucketOptions): Promise<WatchedBucket> {
    // Both tried again while they time out at a node's start (start-patience.ts).
    const kv = await patiently(host, `bucket ${name}`, () => new Kvm(host.nc).create(name, { history: 1, replicas: host.replicas, ...o.create }));
    const w = await patiently(host, `watch of ${name}`, () => kv.watch(o.watch));
    void (async () => { for await (const e of w) onEntry(e); })();
    return new WatchedBucket(kv, w, host, o);
  }

  /** Puts `value` at `key`, or deletes it (undefined), after this node's earlier writes of that key; a failure is counted and logged. */
  write(key: string, value: string | Uint8Array | undefined): void {
    if (this.stopped) return;
    const next = (this.chains.get(key) ?? Promise.resolve()).then(async () => {
      try {
        if (value === undefined) await this.kv.delete(key); else await this.kv.put(key, value);
      } catch (e) {
        this.host.counters.storeFailures++;
        this.host.log.warn({ err: (e as Error).message, realm: this.o.realm, key }, `${this.o.what} not written to the cluster table`);
      }
    });
    this.chains.set(key, next);
    void next.then(() => { if (this.chains.get(key) === next) this.chains.delete(key); });
  }

  /** Waits for the writes made so far (a node's last sessions' deletes go out before it says bye), then stops watching. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
    this.stopped = true;
    this.watcher.stop();
  }
}
