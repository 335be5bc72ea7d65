// This router as a node of a cluster (docs/cluster.md): its NATS
// connection, its membership, and a RealmLink per realm. The Router makes one
// when its config has a `cluster` section and starts it before its listeners,
// so no client is served before the node knows the cluster's retained events.
import { connect, credsAuthenticator, type NatsConnection, type ConnectionOptions } from '@nats-io/transport-node';
import type { Realm } from '../realm/realm.js';
import type { Logger } from '../logger.js';
import type { ClusterConfig } from './cluster-config.js';
import { Membership, NODE_TIMEOUT_MS } from './membership.js';
import { RealmLink } from './realm-link.js';
import { CallLink, type CallHost } from './call-link.js';
import { ClusterCounters } from './cluster-counters.js';
import { SessionLink } from './session-link.js';
import { MetaLink } from './meta-link.js';
import { SubscriptionLink } from './subscription-link.js';
import { PersistentLink } from './persistent-link.js';
import { START_PATIENCE_MS, patiently } from './start-patience.js';
import { SWEEP_MAX, type WatchedBucket } from './watched-bucket.js';
import { within } from './within.js';

/** How long the start waits for NATS before failing (the CLI then exits 1). */
const CONNECT_TIMEOUT_MS = 5000;
/** How long a reconcile after an outage or a stall keeps trying JetStream requests that time out. */
const RECONCILE_PATIENCE_MS = 15_000;
/** A stalled node rewrites its entries at most this often (stalled()). */
const STALL_REWRITE_GAP_MS = 10_000;
/** A sweep goes on past SWEEP_MAX markers per table for this long at most (the next sweep goes on). */
const SWEEP_BUDGET_MS = 60_000;

/** How long each step of a node's stop waits at most. */
const STOP_STEP_MS = 5000;

/** `p`, or undefined once STOP_STEP_MS have passed. */
const atMost = <T>(p: Promise<T> | undefined): Promise<T | undefined> => within(p, STOP_STEP_MS);

/** How often the tables are swept: a third of the marker age (markers live from one to 1⅓ ages), within [250 ms, 5 min]. */
export function sweepEvery(markerAgeMs: number): number {
  return Math.min(5 * 60_000, Math.max(250, Math.round(markerAgeMs / 3)));
}

export interface ClusterState {
  node: string;
  slot: number;
  nats: 'connected' | 'reconnecting' | 'closed';
  /** Live nodes, this one included, by name. */
  nodes: string[];
}

export class ClusterNode implements CallHost {
  readonly counters = new ClusterCounters();
  private connection: NatsConnection | undefined;
  private membership: Membership | undefined;
  private readonly links: RealmLink[] = [];
  private readonly calls: CallLink[] = [];
  private readonly sessions: SessionLink[] = [];
  private readonly metas: MetaLink[] = [];
  private readonly subscriptions: SubscriptionLink[] = [];
  private readonly persistents: PersistentLink[] = [];
  private natsState: ClusterState['nats'] = 'closed';
  /** While starting: until when JetStream requests that time out are tried again (start-patience.ts). */
  startDeadline = 0;
  /** The realms' tables (watched-bucket.ts): swept of old delete markers, reconciled after a long outage. */
  readonly tables = new Set<WatchedBucket>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  /** Set once the start is done: sweeps and reconciles wait for it (a table still loading takes neither). */
  private started = false;
  /** The second write of a stalled node's entries (stalled()), and when the last stall's writes began. */
  private again: NodeJS.Timeout | undefined;
  private lastStallRewrite = 0;
  /** When the NATS connection was lost (undefined while connected). */
  private lostAt: number | undefined;

  constructor(readonly config: ClusterConfig, readonly log: Logger) {}

  get node(): string { return this.config.node; }
  get cluster(): string { return this.config.name; }
  get historyAppends(): { count: number; bytes: number } { return this.config.historyAppends; }
  get replicas(): number { return this.config.replicas; }
  get markerAgeMs(): number { return this.config.markerAgeMs; }
  get slot(): number { return this.membership?.slot ?? -1; }
  get instance(): string { return this.membership?.instance ?? ''; }
  instanceOf(node: string): string | undefined { return this.membership?.instanceOf(node); }
  get connected(): boolean { return this.natsState === 'connected'; }
  get fenced(): boolean { return this.membership?.namesake === true; }
  get nc(): NatsConnection {
    if (this.connection === undefined) throw new Error('the cluster node is not started');
    return this.connection;
  }

  others(): string[] {
    return this.membership?.others() ?? [];
  }

  /** The realm is spread over the cluster: its broker publishes to and receives from the other nodes once started. */
  addRealm(realm: Realm): void {
    const link = new RealmLink(this, realm);
    const calls = new CallLink(this, realm);
    const sessions = new SessionLink(this, realm);
    this.links.push(link);
    this.calls.push(calls);
    this.sessions.push(sessions);
    const meta = new MetaLink(this, realm);
    this.metas.push(meta);
    const subscriptions = new SubscriptionLink(this, realm);
    this.subscriptions.push(subscriptions);
    this.persistents.push(new PersistentLink(this, realm));
    realm.joinCluster(link, calls, sessions, meta, subscriptions);
  }

  async start(): Promise<void> {
    const { nats } = this.config;
    const options: ConnectionOptions = {
      servers: nats.servers,
      name: `clawgate-router ${this.config.node}`,
      // A node never wants its own publications back: the others deliver them, it already has.
      noEcho: true,
      timeout: CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 10_000,
      ...(nats.user !== undefined ? { user: nats.user, pass: nats.pass } : {}),
      ...(nats.token !== undefined ? { token: nats.token } : {}),
      ...(nats.creds !== undefined ? { authenticator: credsAuthenticator(new TextEncoder().encode(nats.creds)) } : {}),
    };
    let nc: NatsConnection;
    try {
      nc = await connect(options);
    } catch (e) {
      throw new Error(`cluster node "${this.config.node}": cannot connect to NATS at ${nats.servers.join(', ')}: ${(e as Error).message}`);
    }
    this.connection = nc;
    this.natsState = 'connected';
    void this.watchStatus(nc);
    try {
      const info = nc.info;
      if (info !== undefined && info.jetstream !== true) throw new Error('the NATS server has no JetStream (start nats-server with -js)');
      this.membership = new Membership(nc, this.config.name, this.config.node, this.config.replicas, this.log, (node, change, instance, clean, heardAt) => {
        this.log.info({ node, cluster: this.config.name, ...(change === 'left' ? { clean } : {}) }, change === 'joined' ? 'cluster node joined' : 'cluster node gone');
        if (change === 'left') {
          for (const l of this.links) l.nodeLeft(node);
          for (const c of this.calls) c.nodeLeft(node, instance);
          for (const s of this.sessions) s.nodeLeft(node, instance, clean, heardAt);
          for (const s of this.subscriptions) s.nodeLeft(node, instance);
          for (const p of this.persistents) p.nodeLeft(node, clean);
        } else {
          for (const c of this.calls) c.resync();
          for (const s of this.sessions) s.resync();
          for (const s of this.subscriptions) s.resync();
          for (const p of this.persistents) p.nodeJoined(node);
        }
      }, this);
      this.membership.stalled = (ms) => this.stalled(ms);
      this.startDeadline = Date.now() + START_PATIENCE_MS;
      await this.membership.start();
      for (const l of this.links) await l.start();
      for (const c of this.calls) await c.start();
      for (const s of this.sessions) await s.start();
      for (const s of this.subscriptions) await s.start();
      for (const m of this.metas) m.start();
      for (const p of this.persistents) await p.start();
      this.sweeper = setInterval(() => { void this.sweep(); }, sweepEvery(this.config.markerAgeMs));
      this.sweeper.unref();
      this.started = true;
    } catch (e) {
      this.startDeadline = 0;
      await this.stop();
      throw new Error(`cluster node "${this.config.node}": ${(e as Error).message}`);
    }
    this.startDeadline = 0;
    this.log.info({ node: this.config.node, cluster: this.config.name, slot: this.slot, nats: nc.getServer() }, 'cluster node started');
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.natsState = 'reconnecting';
        this.lostAt ??= Date.now();
        for (const c of this.calls) c.disconnected();
        this.log.warn({ node: this.config.node }, 'NATS connection lost: serving this node\'s sessions only until it is back');
      } else if (s.type === 'reconnect') {
        this.natsState = 'connected';
        const away = this.lostAt === undefined ? 0 : Date.now() - this.lostAt;
        this.lostAt = undefined;
        this.log.info({ node: this.config.node, away_ms: away }, 'NATS connection back');
        this.resync();
        void this.reconcile(away);
      }
    }
  }

  /**
   * This node was stalled long enough for the others to take it for gone:
   * they deleted its entries (sessions, subscribers, callees, `single`
   * claims) and will not say so, and it saw no one leave. They are written
   * again now, and once more after the time another node takes to see a
   * node gone (one that saw it late deletes at the revision it last saw).
   */
  private stalled(ms: number): void {
    if (this.fenced) return;
    const now = Date.now();
    // Stalls one after another (an overloaded node) rewrite everything once per STALL_REWRITE_GAP_MS at most: the
    // links write back any entry another node deletes anyway (repair), this only makes that sooner.
    if (now - this.lastStallRewrite < STALL_REWRITE_GAP_MS) return;
    this.lastStallRewrite = now;
    this.log.warn({ node: this.config.node, stalled_ms: ms }, 'this cluster node was stalled: the others may have taken it for gone; its entries are written again');
    this.resync();
    clearTimeout(this.again);
    this.again = setTimeout(() => { if (this.natsState !== 'closed') this.resync(); }, NODE_TIMEOUT_MS + 500);
    this.again.unref();
    void this.reconcile(ms);
  }

  /** The others may have deleted this node's entries while they did not see it: written again (and skipped ones applied). */
  private resync(): void {
    for (const c of this.calls) c.resync();
    for (const l of this.sessions) l.resync();
    for (const l of this.subscriptions) l.resync();
  }

  /**
   * After `away` ms without NATS (or stalled): the tables whose marker age
   * it reaches half of are read again, all at once (WatchedBucket.reconcile:
   * markers their watchers had yet to deliver may have been swept). An
   * entry of this node's own found gone is written again by its link.
   */
  private async reconcile(away: number): Promise<void> {
    if (!this.started) return;
    const stale = [...this.tables].filter((t) => away >= t.markerAgeMs / 2);
    const deadline = Date.now() + RECONCILE_PATIENCE_MS;
    await Promise.all(stale.map(async (t) => {
      try {
        const gone = await patiently(this, `reconcile of ${t.name}`, () => t.reconcile(), deadline);
        if (gone > 0) this.log.info({ node: this.config.node, table: t.name, gone }, 'cluster table read again after the NATS outage: entries found gone meanwhile');
      } catch (e) {
        this.log.warn({ node: this.config.node, table: t.name, err: (e as Error).message }, 'cluster table not read again after the NATS outage: entries that ended meanwhile may linger here');
      }
    }));
  }

  /**
   * Clears old delete markers from every table. One node is enough (each
   * sweep is idempotent, and a partition's second sweeper does no harm):
   * the first live node by name.
   */
  private async sweep(): Promise<void> {
    if (!this.started || this.sweeping || !this.connected || this.state().nodes[0] !== this.config.node) return;
    this.sweeping = true;
    const budget = Date.now() + SWEEP_BUDGET_MS;
    try {
      for (const t of [...this.tables]) {
        try {
          while (await t.sweep() >= SWEEP_MAX && Date.now() < budget && this.connected) { /* more of them: on */ }
        } catch (e) {
          this.log.warn({ node: this.config.node, table: t.name, err: (e as Error).message }, 'old delete markers not cleared from a cluster table (tried again at the next sweep)');
        }
      }
    } finally {
      this.sweeping = false;
    }
  }

  /** Leaves the cluster: bye to the others, claims given back, the NATS connection drained. After the sessions left (their testaments reach the other nodes). */
  async stop(): Promise<void> {
    this.started = false;
    clearInterval(this.sweeper);
    clearTimeout(this.again);
    for (const l of this.links) l.stop();
    for (const c of this.calls) c.stop();
    for (const m of this.metas) m.stop();
    // The sessions' entries deleted before the bye, so that no node takes them for a lost node's. Each step waits
    // STOP_STEP_MS at most: a stop must end (systemd's stop timeout), whatever JetStream or NATS answer.
    for (const s of this.sessions) await atMost(s.stop());
    for (const s of this.subscriptions) await atMost(s.stop());
    for (const p of this.persistents) await atMost(p.stop());
    await atMost(this.membership?.stop().catch(() => undefined));
    const nc = this.connection;
    if (nc !== undefined && !nc.isClosed()) {
      if (await atMost(nc.drain().then(() => true, () => false)) !== true) await nc.close().catch(() => undefined);
    }
    this.natsState = 'closed';
  }

  /** One round trip to the NATS server, in milliseconds (/metrics). */
  rtt(): Promise<number> {
    const nc = this.connection;
    if (nc === undefined || nc.isClosed() || this.natsState !== 'connected') return Promise.reject(new Error('not connected to NATS'));
    return nc.rtt();
  }

  state(): ClusterState {
    return { node: this.config.node, slot: this.slot, nats: this.natsState, nodes: [this.config.node, ...this.others()].sort() };
  }
}
