// Which router nodes are alive, and this node's place among them.
//
// Presence is heartbeats on core NATS: every node says "alive" on the
// cluster's heartbeat subject every HEARTBEAT_MS, and a node not heard for
// NODE_TIMEOUT_MS is gone (so within NODE_TIMEOUT_MS + SWEEP_MS < 3 s of its
// last heartbeat). A clean stop says "bye", and it is gone at once. JetStream
// key-value TTLs alone could not do this on nats-server 2.9: an entry that
// ages out is removed without a notice to watchers.
//
// The node's name and its id slot (ids.ts: the low bits of every session and
// publication id it makes) are claimed in the cluster's `nodes` bucket with
// compare-and-swap, and kept alive by refreshing them; the bucket's TTL frees
// the claims of a node that died. So two live nodes never share a name or a
// slot, and a node that was killed can start again once its claims aged out.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { NODE_SLOTS } from '../ids.js';
import type { Logger } from '../logger.js';
import { patiently, type StartPatience } from './start-patience.js';
import { claimKey, isConflict } from './kv-claim.js';

export const HEARTBEAT_MS = 500;
export const NODE_TIMEOUT_MS = 2000;
const SWEEP_MS = 250;
/**
 * A heartbeat this late after the one before means this node was stalled (a
 * long GC pause, CPU starvation, a frozen VM) long enough that the others
 * may have taken it for gone and deleted its entries, without it seeing
 * anyone leave: `stalled` is told.
 */
export const STALL_MS = NODE_TIMEOUT_MS - HEARTBEAT_MS;
/** How long a claim outlives its last refresh: a killed node's name and slot are free again after this. */
export const CLAIM_TTL_MS = 6000;
const REFRESH_MS = 1000;

export interface NodeInfo {
  readonly node: string;
  readonly instance: string;
  readonly slot: number;
  /** When it was last heard (ms since the epoch). */
  lastSeen: number;
  /** What its silence is timed from: lastSeen, moved on by the time this node itself was stalled (sweep()). */
  silentSince: number;
}

/**
 * `clean`: a node that left said bye (a clean stop), rather than going silent.
 * `heardAt`: when it was last heard (ms since the epoch, this node's clock): a
 * silent node died after that, and no later than its next heartbeat.
 */
export type MembershipChange = (node: string, change: 'joined' | 'left', instance: string, clean: boolean, heardAt: number) => void;

interface Heartbeat { node: string; instance: string; slot: number; bye?: boolean }

function isHeartbeat(v: unknown): v is Heartbeat {
  const h = v as Heartbeat;
  return typeof h === 'object' && h !== null && typeof h.node === 'string' && typeof h.instance === 'string' && typeof h.slot === 'number';
}

/** Where a node name starts looking for a free slot: spread, so that claims rarely collide. */
function firstSlot(node: string): number {
  let h = 2166136261;
  for (let i = 0; i < node.length; i++) h = Math.imul(h ^ node.charCodeAt(i), 16777619);
  return (h >>> 0) % NODE_SLOTS;
}

export class Membership {
  /** Other nodes heard from, by name. */
  private readonly nodes = new Map<string, NodeInfo>();
  private kv: KV | undefined;
  private sub: Subscription | undefined;
  private timers: NodeJS.Timeout[] = [];
  private claims: { key: string; value: string; revision: number }[] = [];
  slot = -1;
  /** Told when this node's own heartbeat came STALL_MS or more after the one before (how late, in ms). */
  stalled: ((ms: number) => void) | undefined;
  private lastBeat = 0;
  readonly instance = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

  constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
    readonly node: string,
    private readonly replicas: number,
    private readonly log: Logger,
    private readonly changed: MembershipChange,
    /** The node's start: its JetStream requests that time out are tried again until its deadline. */
    private readonly patience: StartPatience,
  ) {}

  private get subject(): string { return `${this.cluster}.hb`; }

  /** Claims the name and a slot, then starts heartbeats. Throws when the name is held by a live node. */
  async start(): Promise<void> {
    this.kv = await patiently(this.patience, `bucket ${this.cluster}_nodes`, () => new Kvm(this.nc).create(`${this.cluster}_nodes`, { ttl: CLAIM_TTL_MS, history: 1, replicas: this.replicas }));
    const value = JSON.stringify({ node: this.node, instance: this.instance });
    // Listening first: a claim held by a node whose heartbeats we hear is a live node's.
    this.sub = this.nc.subscribe(this.subject, { callback: (err, msg) => { if (err === null) this.heard(msg.data); } });
    await this.claimName(value);
    this.slot = await this.claimSlot(value);
    this.beat();
    this.timers.push(setInterval(() => {
      const since = Date.now() - this.lastBeat;
      this.beat();
      if (since >= STALL_MS) this.stalled?.(since);
    }, HEARTBEAT_MS));
    this.timers.push(setInterval(() => this.sweep(), SWEEP_MS));
    this.timers.push(setInterval(() => { void this.refresh(); }, REFRESH_MS));
    for (const t of this.timers) t.unref();
  }

  /**
   * A node killed a moment ago still holds its name until CLAIM_TTL_MS after
   * its last refresh: the claim is waited for, unless a node of that name is
   * heard (then it is alive, and the start fails at once).
   */
  private async claimName(value: string): Promise<void> {
    const key = `node.${this.node}`;
    const deadline = Date.now() + CLAIM_TTL_MS + 1000;
    for (;;) {
      const revision = await this.create(key, value);
      if (revision !== undefined) { this.claims.push({ key, value, revision }); return; }
      if (this.namesake || Date.now() > deadline) throw new Error(`cluster node name "${this.node}" is held by a live node of cluster "${this.cluster}" (each node needs a name of its own)`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Creates a claim key (kv-claim.ts), trying again while JetStream does not
   * answer in time: its revision, or undefined when another node holds it.
   */
  private async create(key: string, value: string): Promise<number | undefined> {
    const kv = this.kv!;
    return patiently(this.patience, `claim ${key}`, async () => (await claimKey(kv, key, value)).revision);
  }

  /** A heartbeat with this node's name from another instance was heard (ClusterNode.fenced). */
  namesake = false;

  private async claimSlot(value: string): Promise<number> {
    const first = firstSlot(this.node);
    for (let i = 0; i < NODE_SLOTS; i++) {
      const slot = (first + i) % NODE_SLOTS;
      const key = `slot.${slot}`;
      const revision = await this.create(key, value);
      if (revision !== undefined) { this.claims.push({ key, value, revision }); return slot; }
    }
    throw new Error(`cluster "${this.cluster}" has no free node slot (at most ${NODE_SLOTS} live nodes)`);
  }

  /** Keeps the claims alive; one lost to another node (after an outage longer than CLAIM_TTL_MS) is logged, and taken again when free. */
  private async refresh(): Promise<void> {
    for (const c of this.claims) {
      try {
        c.revision = await this.kv!.update(c.key, c.value, c.revision);
      } catch (e) {
        if (this.nc.isClosed()) return;
        if (!isConflict(e)) continue; // NATS unreachable: tried again in a second.
        try {
          c.revision = await this.kv!.create(c.key, c.value);
        } catch {
          this.log.error({ key: c.key }, 'cluster claim lost to another node (NATS was unreachable longer than the claim lives)');
        }
      }
    }
  }

  private beat(bye = false): void {
    if (this.nc.isClosed()) return;
    const h: Heartbeat = { node: this.node, instance: this.instance, slot: this.slot, ...(bye ? { bye } : {}) };
    this.nc.publish(this.subject, JSON.stringify(h));
    this.lastBeat = Date.now();
  }

  private heard(data: Uint8Array): void {
    let h: unknown;
    try { h = JSON.parse(new TextDecoder().decode(data)); } catch { return; }
    if (!isHeartbeat(h)) return;
    if (h.node === this.node) {
      if (h.instance !== this.instance && h.bye !== true) {
        if (this.slot >= 0) this.log.error({ node: this.node, other: h.instance }, 'another cluster node uses this node\'s name');
        this.namesake = true;
      }
      return;
    }
    const known = this.nodes.get(h.node);
    if (h.bye === true) {
      if (known !== undefined && known.instance === h.instance) this.gone(h.node, true);
      return;
    }
    if (known !== undefined && known.instance === h.instance) { known.lastSeen = known.silentSince = Date.now(); return; }
    // A new instance of a node we knew (killed and started again): the old one is gone first.
    if (known !== undefined) this.gone(h.node);
    const now = Date.now();
    this.nodes.set(h.node, { node: h.node, instance: h.instance, slot: h.slot, lastSeen: now, silentSince: now });
    this.changed(h.node, 'joined', h.instance, false, Date.now());
  }

  private lastSweep = 0;

  private sweep(): void {
    const now = Date.now();
    const last = this.lastSweep;
    this.lastSweep = now;
    if (last !== 0 && now - last >= STALL_MS) {
      // This node was stalled: the others' heartbeats may wait unread in its socket (after a stall Node runs the
      // timers before it reads), and it must not take them for gone for it. The stall is not counted in their
      // silence; only the stall: on a loop slow for long, a dead node is still found (a sweep interval at a time).
      const stall = now - last - SWEEP_MS;
      for (const n of this.nodes.values()) n.silentSince = Math.min(now, n.silentSince + stall);
    }
    const dead = now - NODE_TIMEOUT_MS;
    for (const n of [...this.nodes.values()]) if (n.silentSince < dead) this.gone(n.node);
  }

  private gone(node: string, clean = false): void {
    const n = this.nodes.get(node);
    if (n === undefined) return;
    this.nodes.delete(node);
    this.changed(node, 'left', n.instance, clean, n.lastSeen);
  }

  /** The run (instance) of live node `node`, or undefined when it is not seen. */
  instanceOf(node: string): string | undefined {
    return this.nodes.get(node)?.instance;
  }

  /** The other live nodes' names. */
  others(): string[] {
    return [...this.nodes.keys()];
  }

  /** Every live node, this one included. */
  get size(): number {
    return this.nodes.size + 1;
  }

  /** Says bye and gives the claims back, so the name and slot are free at once. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.nc.isClosed()) return;
    this.beat(true);
    this.sub?.unsubscribe();
    for (const c of this.claims) {
      try { await this.kv!.delete(c.key, { previousSeq: c.revision }); } catch { /* taken meanwhile, or NATS gone: its TTL frees it */ }
    }
    this.claims = [];
  }
}
