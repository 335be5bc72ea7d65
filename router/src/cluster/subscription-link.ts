// The subscription meta events across the cluster (docs/cluster.md,
// "Subscription meta events"): subscriptions stay on their subscriber's node,
// but wamp.subscription.on_create/on_subscribe/on_unsubscribe/on_delete are
// the cluster's. Every node writes one entry per subscriber of its own to the
// realm's `subscriptions` key-value bucket (off the session's path) and
// watches the bucket; every node applies the entries in the bucket's one
// order and emits the events to its own meta subscribers. So on_create comes
// when the first subscriber in the cluster makes a subscription and on_delete
// when the last one in the cluster goes, the same on every node, with the
// cluster-wide subscription id (ids.ts sharedId), as registrations do
// (cluster/call-link.ts). The broker's own events for this node's
// subscriptions are not published: they become the entries.
import type { KV, KvEntry } from '@nats-io/kv';
import type { Dict } from '../messages/types.js';
import type { Realm } from '../realm/realm.js';
import { realmToken } from './realm-link.js';
import { WatchedBucket, type BucketHost } from './watched-bucket.js';

export interface SubscriptionHost extends BucketHost {
  readonly cluster: string;
  readonly node: string;
  readonly instance: string;
  readonly connected: boolean;
  instanceOf(node: string): string | undefined;
}

/** A subscriber's entry: its node's run and the subscription as on_create describes it. */
interface Entry { node: string; instance: string; sub: Dict }

interface Held extends Entry { revision: number }

/** One subscription as this node's view of the cluster has it: its description and its subscribers (`node.session`). */
interface Viewed { sub: Dict; members: Map<string, { node: string; session: number }> }

const KEY = /^s(\d+)\.([A-Za-z0-9_-]+)\.(\d+)$/;

export class SubscriptionLink {
  private bucket: WatchedBucket | undefined;
  private readonly bucketName: string;
  /** The bucket as the watcher delivered it. */
  private readonly table = new Map<string, Held>();
  /** The subscriptions of the cluster with their subscribers, as applied here (what the events were emitted for). */
  private readonly view = new Map<number, Viewed>();
  /** This node's subscribers' entries (written again when a node comes back or NATS does). */
  private readonly mine = new Map<string, Entry>();
  /** This node's subscriptions as its broker's on_create described them, by id. */
  private readonly described = new Map<number, Dict>();
  private stopped = false;

  constructor(private readonly host: SubscriptionHost, private readonly realm: Realm) {
    this.bucketName = `${host.cluster}_subscriptions_${realmToken(realm.name)}`;
  }

  async start(): Promise<void> {
    this.bucket = await WatchedBucket.open(this.host, this.bucketName, (e) => this.changed(e), { what: 'subscription entry', realm: this.realm.name });
  }

  private get kv(): KV | undefined { return this.bucket?.kv; }

  /** Waits for this node's writes (its sessions left before the node says bye). */
  async stop(): Promise<void> {
    await this.bucket?.stop();
    this.stopped = true;
  }

  // ---- this node's subscribers ---------------------------------------------------

  /** A subscription meta event of this node's broker (realm.metaEvent): it becomes a write to the bucket. */
  local(topic: string, args: unknown[]): void {
    const [session, second] = args as [number, unknown];
    switch (topic) {
      case 'wamp.subscription.on_create': {
        const sub = second as Dict;
        this.described.set(sub.id as number, sub);
        return;
      }
      case 'wamp.subscription.on_subscribe': {
        const sub = this.described.get(second as number);
        if (sub === undefined) return;
        const key = `s${second as number}.${this.host.node}.${session}`;
        const entry: Entry = { node: this.host.node, instance: this.host.instance, sub };
        this.mine.set(key, entry);
        this.write(key, entry);
        return;
      }
      case 'wamp.subscription.on_unsubscribe': {
        const key = `s${second as number}.${this.host.node}.${session}`;
        if (this.mine.delete(key)) this.write(key, undefined);
        return;
      }
      case 'wamp.subscription.on_delete':
        this.described.delete(second as number);
        return;
    }
  }

  /** An unsubscribe's delete goes after its subscribe's put. */
  private write(key: string, entry: Entry | undefined): void {
    if (!this.stopped) this.bucket?.write(key, entry === undefined ? undefined : JSON.stringify(entry));
  }

  // ---- the table ---------------------------------------------------------------------

  private changed(e: KvEntry): void {
    let held: Held | undefined;
    if (e.operation === 'PUT') {
      try {
        const v = e.json<Entry>();
        if (typeof v.node !== 'string' || typeof v.instance !== 'string' || typeof v.sub !== 'object' || v.sub === null) throw new Error('malformed');
        held = { ...v, revision: e.revision };
      } catch { this.host.counters.malformed++; }
    }
    if (held === undefined) this.table.delete(e.key); else this.table.set(e.key, held);
    // One of this node's live subscribers deleted: another node took this one for gone (a stall, a delay in NATS).
    // Written again, and this node's view (its meta subscribers) left as it is: the subscriber never left.
    const mine = held === undefined ? this.mine.get(e.key) : undefined;
    if (mine !== undefined && this.host.connected && !this.host.fenced) { this.write(e.key, mine); return; }
    try { this.apply(e.key, held); } catch (err) { this.host.log.error({ err, realm: this.realm.name }, 'internal error while applying a cluster subscription'); }
  }

  /** An entry, or its removal, made effective in this node's view, with the meta events it means. */
  private apply(key: string, held: Held | undefined): void {
    const m = KEY.exec(key);
    if (m === null) return;
    const id = Number(m[1]);
    const member = `${m[2]}.${m[3]}`;
    const session = Number(m[3]);
    if (held === undefined) { this.remove(id, member, session); return; }
    if (held.node === this.host.node && held.instance !== this.host.instance) {
      // An entry of an earlier run of this node (killed, restarted under its name before anyone cleaned up): dead.
      if (this.kv !== undefined && this.host.connected && !this.stopped) void this.kv.delete(key, { previousSeq: held.revision }).catch(() => undefined);
      return;
    }
    // Only the entries of the runs we see live: a node we don't see yet is applied at resync.
    if (held.node !== this.host.node && this.host.instanceOf(held.node) !== held.instance) return;
    let v = this.view.get(id);
    if (v?.members.has(member) === true) return;
    if (v === undefined) {
      v = { sub: held.sub, members: new Map() };
      this.view.set(id, v);
      this.emit('wamp.subscription.on_create', [session, held.sub]);
    }
    v.members.set(member, { node: held.node, session });
    this.emit('wamp.subscription.on_subscribe', [session, id]);
  }

  private remove(id: number, member: string, session: number): void {
    const v = this.view.get(id);
    if (v === undefined || !v.members.delete(member)) return;
    this.emit('wamp.subscription.on_unsubscribe', [session, id]);
    if (v.members.size === 0) {
      this.view.delete(id);
      this.emit('wamp.subscription.on_delete', [session, id]);
    }
  }

  /** To this node's meta subscribers only: every node emits the same events to its own. */
  private emit(topic: string, args: unknown[]): void {
    this.realm.broker.publishInternal(topic, { args, details: {} }, undefined, true);
  }

  // ---- membership ----------------------------------------------------------------------

  /**
   * A node is gone: its subscribers are taken out of this node's view
   * (on_unsubscribe, and on_delete for a subscription it was the last to
   * hold), and that run's entries are deleted from the bucket (every node
   * that saw it go does so, compare-and-swap on the revision seen).
   */
  nodeLeft(node: string, instance: string): void {
    for (const [id, v] of [...this.view]) {
      for (const [member, s] of [...v.members]) if (s.node === node) this.remove(id, member, s.session);
    }
    const kv = this.kv;
    if (kv === undefined || this.stopped || !this.host.connected) return;
    for (const [key, held] of this.table) {
      if (held.node === node && held.instance === instance) void kv.delete(key, { previousSeq: held.revision }).catch(() => undefined);
    }
  }

  /**
   * A node (re)appeared, or NATS is back: this node's entries are written
   * again (another node may have deleted them), entries of this node that
   * outlived their subscriber (a delete lost in the outage) or an old run of
   * it are deleted, and entries skipped while their node was not seen are
   * applied now.
   */
  resync(): void {
    const kv = this.kv;
    if (kv === undefined || this.stopped) return;
    for (const [key, entry] of this.mine) this.write(key, entry);
    for (const [key, held] of this.table) {
      if (held.node === this.host.node && !this.mine.has(key)) void kv.delete(key, { previousSeq: held.revision }).catch(() => undefined);
      else this.apply(key, held);
    }
  }
}
