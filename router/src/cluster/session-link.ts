// One realm's sessions across the cluster (docs/cluster.md, "Sessions"):
// every node writes an entry per session of its own to the realm's
// `sessions` key-value bucket (its details and its testaments) and watches
// the bucket, so every node knows every session of the realm. That answers
// wamp.session.count/list/get for the cluster, tells a node where a session
// it is asked to kill lives, and lets the other nodes speak for the sessions
// of a node that died: when it is seen gone, each node fires
// wamp.session.on_leave for each of its sessions and publishes their
// testaments, to its own subscribers (every node does so for its own, so
// each subscriber gets each once).
import type { Subscription } from '@nats-io/transport-node';
import type { KvEntry } from '@nats-io/kv';
import type { Dict } from '../messages/types.js';
import type { Peer } from '../routing/peer.js';
import type { Member, Realm } from '../realm/realm.js';
import type { Testament } from '../meta/testaments.js';
import type { ClusterSessions, RemoteSession } from '../meta/meta-api.js';
import { cborSerializer } from '../serializers/cbor.js';
import { realmToken } from './realm-link.js';
import { WatchedBucket, type BucketHost } from './watched-bucket.js';
import { NODE_TIMEOUT_MS } from './membership.js';
import { NODE_SLOTS } from '../ids.js';
import type { OtherNodesCounts } from '../limits/admission.js';

/** What a session link needs of its node. */
export interface SessionHost extends BucketHost {
  readonly cluster: string;
  readonly node: string;
  readonly instance: string;
  readonly connected: boolean;
  instanceOf(node: string): string | undefined;
}

/** A session's entry in the bucket. */
interface Entry {
  node: string;
  instance: string;
  details: Dict;
  destroyed: Testament[];
  detached: Testament[];
  /** An in-process session of its node: not counted by max_sessions and reserved_sessions (as on one node). */
  inProcess: boolean;
  /** The client's address, as max_sessions_per_address counts it (undefined: in-process, or a trusted proxy's own). */
  address: string | undefined;
}

interface Held { entry: Entry; revision: number }

const decodeLimits = { maxElements: Number.MAX_SAFE_INTEGER, maxDepth: 1001 };

function encodeEntry(e: Entry): Uint8Array {
  // The address came last (7th): a node of an earlier version reads the first six and ignores it.
  return cborSerializer.encode([e.node, e.instance, e.details, e.destroyed, e.detached, e.inProcess, e.address ?? null]) as Uint8Array;
}

function decodeEntry(bytes: Uint8Array): Entry {
  const v = cborSerializer.decode(bytes, decodeLimits);
  if (!Array.isArray(v) || v.length < 5) throw new Error('not a session entry');
  const [node, instance, details, destroyed, detached, inProcess, address] = v as unknown[];
  if (typeof node !== 'string' || typeof instance !== 'string' || typeof details !== 'object' || details === null
    || !Array.isArray(destroyed) || !Array.isArray(detached)) throw new Error('malformed session entry');
  return { node, instance, details: details as Dict, destroyed: destroyed as Testament[], detached: detached as Testament[], inProcess: inProcess === true, address: typeof address === 'string' ? address : undefined };
}

/**
 * One run of another node's sessions as admission counts them, kept as the
 * watcher delivers its entries, so a HELLO counts the cluster without a
 * round trip (docs/cluster.md, "Session limits").
 */
interface Tally {
  /** Sessions that max_sessions counts (not in-process ones). */
  sessions: number;
  /** All sessions per authid (max_sessions_per_authid counts in-process ones too, as on one node). */
  authids: Map<string, number>;
  /** Counted sessions per role (reserved_sessions). */
  roles: Map<string, number>;
  /** Counted sessions per client address (max_sessions_per_address). */
  addresses: Map<string, number>;
}

function tallied(t: Tally, e: Entry, by: 1 | -1): void {
  bump(t.authids, String(e.details.authid), by);
  if (e.inProcess) return;
  t.sessions += by;
  bump(t.roles, String(e.details.authrole), by);
  if (e.address !== undefined) bump(t.addresses, e.address, by);
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n <= 0) counts.delete(key); else counts.set(key, n);
}

/** A kill request to a session's node: [ids, reason, message]. */
type KillRequest = [number[], string, string | null];

export class SessionLink implements ClusterSessions {
  private bucket: WatchedBucket | undefined;
  private sub: Subscription | undefined;
  private readonly bucketName: string;
  private readonly killPrefix: string;
  /** Every session entry the watcher delivered, this node's own included, by session id. */
  private readonly table = new Map<number, Held>();
  /** This node's sessions' entries (written again when a node comes back: it may have deleted them). */
  private readonly mine = new Map<number, Entry>();
  /** The other nodes' sessions counted per node run (`node/instance`); only live runs are summed. */
  private readonly tallies = new Map<string, Tally>();
  private stopped = false;

  constructor(private readonly host: SessionHost, private readonly realm: Realm) {
    const token = realmToken(realm.name);
    this.bucketName = `${host.cluster}_sessions_${token}`;
    this.killPrefix = `${host.cluster}.r.${token}.kill`;
  }

  async start(): Promise<void> {
    this.bucket = await WatchedBucket.open(this.host, this.bucketName, (e) => this.changed(e), { what: 'session entry', realm: this.realm.name });
    this.sub = this.host.nc.subscribe(`${this.killPrefix}.${this.host.node}`, { callback: (err, msg) => { if (err === null) this.killRequested(msg.data); } });
  }

  /** Waits for this node's writes (the sessions left before: their entries are deleted before the node says bye). */
  async stop(): Promise<void> {
    await this.bucket?.stop();
    this.stopped = true;
    this.sub?.unsubscribe();
  }

  // ---- this node's sessions ----------------------------------------------------

  joined(session: Member): void {
    const entry: Entry = { node: this.host.node, instance: this.host.instance, details: session.details(), destroyed: [], detached: [], inProcess: session.isLocal, address: session.address };
    this.mine.set(session.id, entry);
    this.write(session.id, entry);
  }

  testamentsChanged(session: Peer, destroyed: Testament[], detached: Testament[]): void {
    const entry = this.mine.get(session.id);
    if (entry === undefined) return;
    entry.destroyed = destroyed;
    entry.detached = detached;
    this.write(session.id, entry);
  }

  left(session: Peer): void {
    if (!this.mine.delete(session.id)) return;
    this.write(session.id, undefined);
  }

  /** A leave's delete goes after its join's put. */
  private write(id: number, entry: Entry | undefined): void {
    if (!this.stopped) this.bucket?.write(`s${id}`, entry === undefined ? undefined : encodeEntry(entry));
  }

  // ---- the table -----------------------------------------------------------------

  private changed(e: KvEntry): void {
    const m = /^s(\d+)$/.exec(e.key);
    if (m === null) return;
    const id = Number(m[1]);
    const before = this.table.get(id);
    if (e.operation !== 'PUT') {
      if (before !== undefined) this.count(before.entry, -1);
      this.table.delete(id);
      // One of this node's live sessions: another node took this one for gone (a stall, a delay in NATS). Written again.
      const mine = this.mine.get(id);
      if (mine !== undefined && this.host.connected && !this.host.fenced) this.write(id, mine);
      return;
    }
    let entry: Entry;
    try { entry = decodeEntry(e.value); } catch { this.host.counters.malformed++; return; }
    if (before !== undefined) this.count(before.entry, -1);
    this.table.set(id, { entry, revision: e.revision });
    this.count(entry, 1);
  }

  /** Another node's entry counted in (1) or out (-1) of its run's tally; this node's own sessions the realm counts itself. */
  private count(entry: Entry, by: 1 | -1): void {
    if (entry.node === this.host.node) return;
    const k = `${entry.node}/${entry.instance}`;
    let t = this.tallies.get(k);
    if (t === undefined) {
      if (by < 0) return;
      t = { sessions: 0, authids: new Map(), roles: new Map(), addresses: new Map() };
      this.tallies.set(k, t);
    }
    tallied(t, entry, by);
    if (t.sessions === 0 && t.authids.size === 0) this.tallies.delete(k);
  }

  /**
   * The sessions of the other nodes' live runs, for a HELLO's admission: sums
   * over one tally per node, no NATS round trip. A run this node no longer
   * sees (lost, cut off) counts nothing from that moment on.
   */
  othersCounts(): OtherNodesCounts {
    const live: Tally[] = [];
    let sessions = 0;
    for (const [k, t] of this.tallies) {
      const slash = k.indexOf('/');
      if (this.host.instanceOf(k.slice(0, slash)) !== k.slice(slash + 1)) continue;
      live.push(t);
      sessions += t.sessions;
    }
    const sum = (of: (t: Tally) => Map<string, number>, key: string): number => {
      let n = 0;
      for (const t of live) n += of(t).get(key) ?? 0;
      return n;
    };
    return { sessions, authid: (a) => sum((t) => t.authids, a), role: (r) => sum((t) => t.roles, r), address: (a) => sum((t) => t.addresses, a) };
  }

  /** Sessions of other live nodes (entries of a node's run we do not see are not counted). */
  remote(): RemoteSession[] {
    const out: RemoteSession[] = [];
    for (const [id, h] of this.table) {
      const r = this.remoteOf(id, h);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  get(id: number): RemoteSession | undefined {
    const h = this.table.get(id);
    return h === undefined ? undefined : this.remoteOf(id, h);
  }

  private remoteOf(id: number, h: Held): RemoteSession | undefined {
    const { node, instance, details } = h.entry;
    if (node === this.host.node || this.host.instanceOf(node) !== instance) return undefined;
    return { id, node, authid: String(details.authid), authrole: String(details.authrole), details };
  }

  /** Tells each session's node to end it (GOODBYE with `reason`). */
  kill(sessions: RemoteSession[], reason: string, message: string | undefined): void {
    const byNode = new Map<string, number[]>();
    for (const s of sessions) { const l = byNode.get(s.node) ?? []; l.push(s.id); byNode.set(s.node, l); }
    if (this.host.nc.isClosed()) return;
    for (const [node, ids] of byNode) {
      const req: KillRequest = [ids, reason, message ?? null];
      this.host.nc.publish(`${this.killPrefix}.${node}`, cborSerializer.encode(req) as Uint8Array);
    }
  }

  private killRequested(bytes: Uint8Array): void {
    let req: KillRequest;
    try {
      req = cborSerializer.decode(bytes, decodeLimits) as KillRequest;
      if (!Array.isArray(req) || !Array.isArray(req[0]) || typeof req[1] !== 'string') throw new Error('malformed');
    } catch { this.host.counters.malformed++; return; }
    const [ids, reason, message] = req;
    for (const id of ids) {
      const s = this.realm.sessions.get(id as number);
      if (s !== undefined) s.goodbye(reason, typeof message === 'string' ? message : undefined);
    }
  }

  // ---- membership ------------------------------------------------------------------

  /**
   * A node is gone. Killed or cut off (`clean` false): its sessions' on_leave
   * and testaments go to this node's subscribers now, and their entries are
   * deleted a little later (compare-and-swap on the revision seen, by every
   * node that saw it go). A clean stop (bye): its sessions left before and said so
   * themselves; only their entries are forgotten. `heardAt`: when the node
   * was last heard (ms), where its retained testaments are stamped
   * (RealmLink.lostStamp estimates it when not given).
   */
  nodeLeft(node: string, instance: string, clean: boolean, heardAt?: number): void {
    const kv = this.bucket?.kv;
    const lost: [number, number][] = [];
    for (const [id, h] of [...this.table]) {
      const { entry } = h;
      if (entry.node !== node || entry.instance !== instance) continue;
      this.table.delete(id);
      this.count(entry, -1);
      if (!clean) {
        const broker = this.realm.broker;
        try {
          // Retained where the node died, not now: a later retained event (the session back on another node) stays the last.
          const stamp = broker.cluster?.lostStamp(id % NODE_SLOTS, heardAt) ?? 0;
          // One step apart, in the order they fire: a later testament on the same topic replaces an earlier one, as on one node.
          let step = 0;
          for (const t of [...entry.detached, ...entry.destroyed]) broker.publishInternal(t.topic, t.data, t.options, true, stamp === 0 ? 0 : stamp + step++);
          broker.publishInternal('wamp.session.on_leave', { args: [id, entry.details.authid, entry.details.authrole], details: {} }, undefined, true);
        } catch (e) {
          this.host.log.error({ err: e, realm: this.realm.name }, 'internal error while publishing a lost session\'s on_leave');
        }
        this.host.counters.lostSessions++;
      }
      lost.push([id, h.revision]);
    }
    // Deleted later, not now: a node that sees the loss a moment after this one must still find the entries (each
    // node fires on_leave for its own subscribers). By then every node has seen the loss (they all time a node out
    // after NODE_TIMEOUT_MS of silence, checked every 250 ms). Compare-and-swap: an entry written again meanwhile stays.
    if (lost.length === 0 || kv === undefined) return;
    const timer = setTimeout(() => {
      if (this.stopped || !this.host.connected) return;
      for (const [id, revision] of lost) void kv.delete(`s${id}`, { previousSeq: revision }).catch(() => undefined);
    }, NODE_TIMEOUT_MS);
    timer.unref();
  }

  /** A node (re)appeared, or NATS is back: this node's entries are written again (another node may have deleted them meanwhile). */
  resync(): void {
    for (const [id, entry] of this.mine) this.write(id, entry);
  }
}
