// One realm's share of the cluster: its publications to and from the other
// nodes, and its retained events (docs/cluster.md, "PubSub").
//
// Every node publishes each publication accepted on it once, on the realm's
// event subject; NATS hands it to every other node (the connection has
// no-echo), which delivers it to its own subscribers. One subject per realm
// and one NATS connection per node: NATS keeps a publisher's messages in
// order per subject, so the events of one publisher reach every subscriber,
// on any node, in the order published, across topics too.
//
// Retained events are in every node's broker (the cluster's view, so the
// retained bounds count the whole cluster) and in a JetStream key-value
// bucket per realm, where a node that starts reads them and where they
// outlive the node that published them. Each carries a stamp (a hybrid
// clock, ms × 1024 + the node's slot): every node and the bucket keep the
// event with the greatest stamp, so they agree on the last one.
import { createHash } from 'node:crypto';
import type { Subscription } from '@nats-io/transport-node';
import { KvWatchInclude, type KvEntry } from '@nats-io/kv';
import type { Dict } from '../messages/types.js';
import type { PublicationData } from '../routing/publication.js';
import type { BrokerClusterLink } from '../broker/cluster-link.js';
import { compileReceiverFilter } from '../broker/receiver-filter.js';
import type { Realm } from '../realm/realm.js';
import { NODE_SLOTS } from '../ids.js';
import { HEARTBEAT_MS, NODE_TIMEOUT_MS } from './membership.js';
import { Kind, decodeMessage, decodeRetained, encodeEvent, encodeRetained, encodeSyncMarker, encodeSyncRequest } from './wire.js';
import { HistoryLink } from './history-link.js';
import { WatchedBucket, type BucketHost } from './watched-bucket.js';
import { patiently } from './start-patience.js';
import { isConflict } from './kv-claim.js';

/** Room for the topic, details and framing beside a publication's own bytes in a node message. */
export const ENVELOPE_ROOM = 8 * 1024;
/** How long a get_retained SUBSCRIBE waits for the other nodes' sync markers at most (a node that doesn't answer is likely dying). */
export const SYNC_TIMEOUT_MS = 1000;

/** What a realm link needs of its node. */
export interface LinkHost extends BucketHost {
  readonly cluster: string;
  readonly node: string;
  readonly slot: number;
  /** NATS is connected now (a node cut off does not write what it publishes for the others it lost). */
  readonly connected: boolean;
  /** Bounds of the event-history appends in flight (cluster/history-link.ts). */
  readonly historyAppends: { readonly count: number; readonly bytes: number };
  /** The other live nodes. */
  others(): string[];
}

interface PendingSync { waiting: Set<string>; done: () => void; timer: NodeJS.Timeout }

/** A realm's subject and bucket token: the realm name may hold characters neither allows. */
export function realmToken(realm: string): string {
  return createHash('sha256').update(realm).digest('hex').slice(0, 16);
}

/** A topic's key in the retained bucket: base64url is all characters keys allow, in one token. */
function retainedKey(topic: string): string {
  return Buffer.from(topic, 'utf8').toString('base64url');
}

export class RealmLink implements BrokerClusterLink {
  /** Set at start, from the NATS server's max_payload. */
  maxPublicationSize = 0;
  private readonly eventSubject: string;
  private readonly syncSubject: string;
  private subs: Subscription[] = [];
  private bucket: WatchedBucket | undefined;
  private lastStamp = 0;
  /** The greatest retained stamp seen from each node, by slot (a stamp's low bits): where a lost node's testaments go (lostStamp). */
  private readonly lastOf = new Map<number, number>();
  private syncSeq = 0;
  private readonly syncs = new Map<number, PendingSync>();
  /** Retained events waiting for their bucket write, per topic: one write per topic at a time, the latest wins. */
  private readonly toStore = new Map<string, Uint8Array & { stamp?: number }>();
  private readonly storing = new Set<string>();

  /** The realm's event history in the cluster's streams, when it keeps one (history-link.ts). */
  private readonly history: HistoryLink | null;

  get slot(): number { return this.host.slot; }

  constructor(private readonly host: LinkHost, private readonly realm: Realm) {
    const token = realmToken(realm.name);
    this.eventSubject = `${host.cluster}.r.${token}.ev`;
    this.syncSubject = `${host.cluster}.r.${token}.sync`;
    this.bucketName = `${host.cluster}_retained_${token}`;
    const history = realm.broker.history;
    this.history = history === null || history.entries.length === 0 ? null : new HistoryLink(host, realm.name, token, history);
  }

  private readonly bucketName: string;

  /** Listens for the other nodes, then reads the retained events the cluster keeps (before any client is served). */
  async start(): Promise<void> {
    const { nc } = this.host;
    this.maxPublicationSize = Math.max(0, (nc.info?.max_payload ?? 1024 * 1024) - ENVELOPE_ROOM);
    // What the other nodes publish from here on stays after the history read from the cluster's streams.
    const historyMark = this.realm.broker.history?.mark() ?? [];
    this.subs.push(nc.subscribe(this.eventSubject, { callback: (err, msg) => { if (err === null) this.received(msg.data); } }));
    this.subs.push(nc.subscribe(this.syncSubject, { callback: (err, msg) => { if (err === null) this.syncRequested(msg.data); } }));
    const bytes = this.realm.limits.maxRetainedBytes;
    // Updates from now on, then what is there: both merge by stamp, so their order does not matter.
    const bucket = this.bucket = await WatchedBucket.open(this.host, this.bucketName, (e) => this.stored(e), {
      what: 'retained event', realm: this.realm.name,
      create: bytes === null ? {} : { max_bytes: bytes * 2 + 1024 * 1024 },
      watch: { include: KvWatchInclude.UpdatesOnly },
    });
    const all = await patiently(this.host, `keys of ${this.bucketName}`, async () => {
      const keys: string[] = [];
      for await (const k of await bucket.kv.keys()) keys.push(k);
      return keys;
    });
    for (const k of all) {
      const e = await patiently(this.host, `retained event ${k}`, () => bucket.kv.get(k));
      if (e !== null) this.stored(e);
    }
    await this.history?.start(historyMark);
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    void this.bucket?.stop();
    for (const p of this.syncs.values()) { clearTimeout(p.timer); p.done(); }
    this.syncs.clear();
  }

  // ---- outbound -----------------------------------------------------------

  published(topic: string, publication: number, data: PublicationData, lists: Dict | null, retainStamp: number): void {
    const { nc, counters } = this.host;
    const bytes = encodeEvent(topic, publication, retainStamp, data, lists);
    if (bytes.length > this.maxPublicationSize + ENVELOPE_ROOM) {
      // Only the router's own publications (testaments, meta events) are not measured before: they stay on this node.
      counters.tooLarge++;
      this.host.log.warn({ realm: this.realm.name, topic: topic.slice(0, 100), bytes: bytes.length }, 'publication too large for the cluster: delivered on this node only');
      return;
    }
    if (retainStamp !== 0) this.store(topic, encodeRetained(topic, publication, retainStamp, data, lists), retainStamp);
    if (nc.isClosed()) return;
    try {
      nc.publish(this.eventSubject, bytes);
      counters.sent++;
    } catch (e) {
      counters.sendFailures++;
      this.host.log.warn({ err: (e as Error).message, realm: this.realm.name }, 'publication not sent to the other cluster nodes');
    }
    this.history?.published(topic, publication, data, lists);
  }

  retainStamp(): number {
    const now = Date.now() * NODE_SLOTS + this.host.slot;
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + NODE_SLOTS;
    return this.lastStamp;
  }

  /** A stamp seen from another node: ours are made greater, so a later publication here is later everywhere. */
  private saw(stamp: number): void {
    if (stamp > this.lastStamp) this.lastStamp = stamp - (stamp % NODE_SLOTS) + this.host.slot;
    const slot = stamp % NODE_SLOTS;
    if (stamp > (this.lastOf.get(slot) ?? 0)) this.lastOf.set(slot, stamp);
  }

  /**
   * A lost node's testament is stamped where the node died, not when it is
   * seen gone (up to NODE_TIMEOUT_MS + a sweep later): after everything it
   * published (NATS delivers a node's messages in order, so all of them are
   * here by now) and no later than its last heartbeat was heard (`heardAt`,
   * ms; without it, the earliest that can have been: NODE_TIMEOUT_MS and a
   * sweep ago, HEARTBEAT_MS bounding the sweep). A session that moved to
   * another node after the death and retained on the same topic keeps its
   * event as the last.
   */
  lostStamp(slot: number, heardAt = Date.now() - NODE_TIMEOUT_MS - HEARTBEAT_MS): number {
    return Math.max(heardAt * NODE_SLOTS + slot, (this.lastOf.get(slot) ?? 0) + 1);
  }

  retainLost(topic: string, publication: number, data: PublicationData, lists: Dict | null, stamp: number): void {
    this.saw(stamp);
    // Every node that saw the loss writes it; the store keeps the greatest stamp, so all converge on one event.
    if (this.host.connected) this.store(topic, encodeRetained(topic, publication, stamp, data, lists), stamp);
  }

  synced(): Promise<void> {
    const others = this.host.others();
    if (others.length === 0 || this.host.nc.isClosed()) return Promise.resolve();
    const id = ++this.syncSeq;
    return new Promise((resolve) => {
      const done = (): void => { const p = this.syncs.get(id); if (p !== undefined) { clearTimeout(p.timer); this.syncs.delete(id); } resolve(); };
      const timer = setTimeout(done, SYNC_TIMEOUT_MS);
      this.syncs.set(id, { waiting: new Set(others), done, timer });
      this.host.nc.publish(this.syncSubject, encodeSyncRequest(this.host.node, id));
    });
  }

  /** A node is gone: nobody waits for its sync marker any more. */
  nodeLeft(node: string): void {
    for (const p of [...this.syncs.values()]) {
      p.waiting.delete(node);
      if (p.waiting.size === 0) p.done();
    }
  }

  // ---- inbound ------------------------------------------------------------

  private received(bytes: Uint8Array): void {
    let m;
    try { m = decodeMessage(bytes); } catch (e) {
      this.host.counters.malformed++;
      this.host.log.warn({ err: (e as Error).message, realm: this.realm.name }, 'malformed message from a cluster node dropped');
      return;
    }
    if (m.kind === Kind.Event) {
      this.host.counters.received++;
      if (m.retainStamp !== 0) this.saw(m.retainStamp);
      try {
        this.realm.broker.remotePublication(m.topic, m.publication, m.data, m.lists, m.retainStamp);
      } catch (e) {
        this.host.log.error({ err: e, realm: this.realm.name }, 'internal error while delivering a publication from another cluster node');
      }
    } else if (m.kind === Kind.SyncMarker) {
      if (m.to !== this.host.node) return;
      const p = this.syncs.get(m.id);
      if (p === undefined) return;
      p.waiting.delete(m.from);
      if (p.waiting.size === 0) p.done();
    }
  }

  private syncRequested(bytes: Uint8Array): void {
    let m;
    try { m = decodeMessage(bytes); } catch { this.host.counters.malformed++; return; }
    if (m.kind !== Kind.SyncRequest || this.host.nc.isClosed()) return;
    // On the event subject, behind everything this node published before.
    this.host.nc.publish(this.eventSubject, encodeSyncMarker(m.from, m.id, this.host.node));
  }

  /** An entry of the retained bucket (read at start, or a write seen by the watcher). */
  private stored(e: KvEntry): void {
    if (e.operation !== 'PUT') return;
    let r;
    try { r = decodeRetained(e.value); } catch { this.host.counters.malformed++; return; }
    this.saw(r.stamp);
    this.realm.broker.mergeRetained(r.topic, r.publication, r.data, r.lists === null ? null : compileReceiverFilter(r.lists), r.stamp);
  }

  // ---- the retained bucket --------------------------------------------------

  /**
   * Writes a retained event to the bucket unless a later one is there:
   * compare-and-swap against the revision read, so that of two nodes
   * writing one topic at once the greater stamp stays. Writes of one topic
   * are one at a time here; the latest waiting replaces an older one.
   */
  private store(topic: string, value: Uint8Array, stamp: number): void {
    this.toStore.set(topic, Object.assign(value, { stamp }));
    if (!this.storing.has(topic)) void this.drain(topic);
  }

  private async drain(topic: string): Promise<void> {
    this.storing.add(topic);
    try {
      for (let v = this.toStore.get(topic); v !== undefined; v = this.toStore.get(topic)) {
        this.toStore.delete(topic);
        await this.write(topic, v, v.stamp!);
      }
    } finally {
      this.storing.delete(topic);
    }
  }

  private async write(topic: string, value: Uint8Array, stamp: number): Promise<void> {
    const kv = this.bucket?.kv;
    if (kv === undefined) return;
    const key = retainedKey(topic);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const held = await kv.get(key);
        if (held === null || held.operation !== 'PUT') { await kv.create(key, value); return; }
        let heldStamp = 0;
        try { heldStamp = decodeRetained(held.value).stamp; } catch { /* unreadable: replaced */ }
        if (heldStamp >= stamp) return;
        await kv.update(key, value, held.revision);
        return;
      } catch (e) {
        if (isConflict(e)) continue; // another node wrote it meanwhile: compare again
        this.host.counters.storeFailures++;
        this.host.log.warn({ err: (e as Error).message, realm: this.realm.name, topic: topic.slice(0, 100) }, 'retained event not written to the cluster store');
        return;
      }
    }
  }
}
