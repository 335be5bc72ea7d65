// One realm's persistent subscriptions across the cluster (docs/cluster.md,
// "Persistent subscriptions"): every node knows every persistent
// subscription, and while no live node's session holds one, every node
// keeps its events (each node receives every publication), so a session
// that comes back on any node gets what it missed from that node's copy.
//
// The table is a key-value bucket per realm, `<c>_persistent_<r>`: one key
// per (authid, name, node), written by that node only: the subscription's
// definition (persistent-store.ts PersistentRow), the node's run and the ids
// of its sessions holding it (none: it doesn't). A subscription is held
// while a live node's key names sessions; when the last such session leaves
// (or its node is gone) every node detaches its copy and keeps events;
// when it is held again on a node, that node replays its copy and the
// others drop theirs. Its end (ttl, the last UNSUBSCRIBE of the cluster,
// clawgate.persistent.drop) deletes every key of it, and every node ends it.
// (Deletes, not purges: with purges a node was seen, about one test run in
// five, to miss one and keep the subscription; with deletes, not in eight.)
import type { KvEntry } from '@nats-io/kv';
import { MATCH_POLICIES, type MatchPolicy } from '../messages/options.js';
import type { Realm } from '../realm/realm.js';
import type { PersistentClusterLink, PersistentSubscriptions } from '../broker/persistent-subscriptions.js';
import type { PersistentRow } from '../broker/persistent-store.js';
import { cborSerializer } from '../serializers/cbor.js';
import { realmToken } from './realm-link.js';
import { WatchedBucket, type BucketHost } from './watched-bucket.js';
import { patiently } from './start-patience.js';
import { NODE_TIMEOUT_MS } from './membership.js';

/** Membership sweeps every 250 ms: a lost node was last heard at most this much before NODE_TIMEOUT_MS ago. */
const SWEEP_MARGIN_MS = 250;
/** How long the start waits for the table at most. */
const LOAD_TIMEOUT_MS = 5000;

/** What a persistent link needs of its node. */
export interface PersistentHost extends BucketHost {
  readonly cluster: string;
  readonly node: string;
  readonly instance: string;
  instanceOf(node: string): string | undefined;
}

/** A node's part, as its key holds it. */
interface Part { readonly node: string; readonly instance: string; readonly row: PersistentRow; readonly sessions: readonly number[] }

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
const unb64 = (s: string): string => Buffer.from(s, 'base64url').toString('utf8');

/** Keys allow few characters: the authid and name in base64url, the node as it is (its characters are all allowed). */
function keyOf(authid: string, name: string, node: string): string {
  return `p.${b64(authid)}.${b64(name)}.${node}`;
}

function encodePart(instance: string, r: PersistentRow, sessions: readonly number[]): Uint8Array {
  return cborSerializer.encode([instance, r.authid, r.name, r.uri, r.match, r.filter, r.authrole, r.ttl, r.created, r.detachedAt, r.dropped, sessions]) as Uint8Array;
}

function decodePart(node: string, bytes: Uint8Array): Part {
  const v = cborSerializer.decode(bytes, { maxElements: 100_000, maxDepth: 4 });
  if (!Array.isArray(v) || v.length !== 12) throw new Error('not a persistent subscription entry');
  const [instance, authid, name, uri, match, filter, authrole, ttl, created, detachedAt, dropped, sessions] = v as unknown[];
  if (typeof instance !== 'string' || typeof authid !== 'string' || typeof name !== 'string' || typeof uri !== 'string'
    || !MATCH_POLICIES.includes(match as MatchPolicy) || (filter !== null && typeof filter !== 'string') || typeof authrole !== 'string'
    || typeof ttl !== 'number' || typeof created !== 'string' || (detachedAt !== null && typeof detachedAt !== 'number')
    || typeof dropped !== 'number' || !Array.isArray(sessions) || !sessions.every((s) => typeof s === 'number')) throw new Error('malformed persistent subscription entry');
  return { node, instance, row: { authid, name, uri, match: match as MatchPolicy, filter, authrole, ttl, created, detachedAt, dropped }, sessions: sessions as number[] };
}

export class PersistentLink implements PersistentClusterLink {
  private bucket: WatchedBucket | undefined;
  private readonly bucketName: string;
  /** The last part each key held (this node's own included): what ended() deletes, and what is applied again when a node is seen. */
  private readonly table = new Map<string, Part>();
  private stopped = false;
  private readonly persistent: PersistentSubscriptions;

  constructor(private readonly host: PersistentHost, private readonly realm: Realm) {
    this.bucketName = `${host.cluster}_persistent_${realmToken(realm.name)}`;
    this.persistent = realm.broker.persistent;
  }

  /** Reads the table (before the node serves), then tells the others the subscriptions this node's store brought back. */
  async start(): Promise<void> {
    // What this node's store brought back (before the table's subscriptions are made here too).
    const own = [...this.persistent.parts()];
    let ready!: () => void;
    const loaded = new Promise<void>((r) => { ready = r; });
    // Loaded at the last of the entries there were (delta 0), or at once when there were none.
    this.bucket = await WatchedBucket.open(this.host, this.bucketName, (e) => {
      this.entry(e);
      if ((e.delta ?? 0) === 0) ready();
    }, {
      what: 'persistent subscription', realm: this.realm.name,
      // Each ended (authid, name, node) leaves a marker, and names are the clients' choice: swept as the other
      // tables', but kept max_persistent_ttl at least. A node away longer may bring back, from its sqlite file,
      // a subscription that ended meanwhile, for at most its ttl.
      markerAgeMs: this.realm.limits.maxPersistentTtlSeconds * 1000,
    });
    // From the watch's start on (opening may have waited for JetStream, start-patience.ts).
    const timer = setTimeout(() => ready(), LOAD_TIMEOUT_MS);
    const bucket = this.bucket;
    if ((await patiently(this.host, `status of ${this.bucketName}`, () => bucket.kv.status())).values === 0) ready();
    await loaded;
    clearTimeout(timer);
    // What this node's store brought back joins the table. One that ended while this node was away is gone already:
    // its keys' deletes, this node's among them, were among what the watcher delivered (a delete ends it here).
    this.persistent.cluster = this;
    for (const { row, sessions } of own) if (this.persistent.has(row.authid, row.name)) this.changed(row, sessions);
  }

  async stop(): Promise<void> {
    await this.bucket?.stop();
    this.stopped = true;
  }

  // ---- this node's parts (PersistentClusterLink) ------------------------------

  changed(row: PersistentRow, sessions: readonly number[]): void {
    const key = keyOf(row.authid, row.name, this.host.node);
    this.table.set(key, { node: this.host.node, instance: this.host.instance, row, sessions });
    const value = encodePart(this.host.instance, row, sessions);
    this.write(key, value);
  }

  ended(authid: string, name: string): void {
    const prefix = `p.${b64(authid)}.${b64(name)}.`;
    const keys = new Set([keyOf(authid, name, this.host.node)]);
    for (const k of this.table.keys()) if (k.startsWith(prefix)) keys.add(k);
    for (const key of keys) {
      this.table.delete(key);
      this.write(key, undefined);
    }
  }

  private write(key: string, value: Uint8Array | string | undefined): void {
    if (!this.stopped) this.bucket?.write(key, value);
  }

  // ---- the other nodes' parts ----------------------------------------------------

  /** A key as the watcher delivers it (the table at start, then every change). */
  private entry(e: KvEntry): void {
    const at = e.key.lastIndexOf('.');
    const node = e.key.slice(at + 1);
    if (e.operation !== 'PUT') {
      const part = this.table.get(e.key);
      this.table.delete(e.key);
      // A delete is the end of the subscription (ended() on some node); this node ends its copy.
      {
        const [, a, n] = e.key.split('.');
        if (a !== undefined && n !== undefined) this.persistent.remoteEnded(part?.row.authid ?? unb64(a), part?.row.name ?? unb64(n));
      }
      return;
    }
    let part: Part;
    try { part = decodePart(node, e.value); } catch { this.host.counters.malformed++; return; }
    if (node === this.host.node && part.instance === this.host.instance) return; // this node's own write: applied already
    this.table.set(e.key, part);
    this.apply(part);
  }

  /** Another node's part: its sessions count only while that node's run is live (a previous run of this node's name is not). */
  private apply(part: Part): void {
    const live = part.node !== this.host.node && this.host.instanceOf(part.node) === part.instance;
    this.persistent.remoteChanged(part.node, part.row, live ? part.sessions : []);
  }

  /** A node is seen (again): its parts count from now (they may have been read before its heartbeats were heard). */
  nodeJoined(node: string): void {
    for (const [key, part] of this.table) {
      if (part.node === node) this.apply(part);
      // This node's own parts written again: a write may have failed while NATS was away.
      else if (part.node === this.host.node && part.instance === this.host.instance) this.write(key, encodePart(part.instance, part.row, part.sessions));
    }
  }

  /** A node is gone: what its sessions held is detached where no other node holds it. */
  nodeLeft(node: string, clean: boolean): void {
    // Killed or cut off: it was last heard about NODE_TIMEOUT_MS (and a sweep) ago, and what arrived here since may not
    // have reached its sessions. A clean stop let its sessions go first, and its keys said so (with the time): nothing to carry.
    this.persistent.nodeLeft(node, clean ? null : Date.now() - NODE_TIMEOUT_MS - SWEEP_MARGIN_MS);
  }
}
