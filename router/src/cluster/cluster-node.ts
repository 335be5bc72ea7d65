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
import { START_PATIENCE_MS } from './start-patience.js';
import type { WatchedBucket } from './watched-bucket.js';

/** How long the start waits for NATS before failing (the CLI then exits 1). */
const CONNECT_TIMEOUT_MS = 5000;
/** A reconcile that failed (NATS or JetStream not back yet) is tried again this often, this many times. */
const RECONCILE_RETRY_MS = 1000;
const RECONCILE_TRIES = 10;

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
        // Away for half a table's marker age or more: markers this node's watchers have yet to deliver may be swept.
        const stale = [...this.tables].filter((t) => away >= t.markerAgeMs / 2);
        if (stale.length === 0) this.resync();
        else void this.reconcile(stale).finally(() => this.resync());
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
    this.log.warn({ node: this.config.node, stalled_ms: ms }, 'this cluster node was stalled: the others may have taken it for gone; its entries are written again');
    this.resync();
    const again = setTimeout(() => { if (this.natsState !== 'closed') this.resync(); }, NODE_TIMEOUT_MS + 500);
    again.unref();
  }

  /** The others may have deleted this node's entries while they did not see it: written again (and skipped ones applied). */
  private resync(): void {
    for (const c of this.calls) c.resync();
    for (const l of this.sessions) l.resync();
    for (const l of this.subscriptions) l.resync();
  }

  /** Reads `tables` again (WatchedBucket.reconcile), each tried again while NATS or JetStream is not quite back. */
  private async reconcile(tables: WatchedBucket[]): Promise<void> {
    for (const t of tables) {
      for (let attempt = 1; ; attempt++) {
        try {
          const gone = await t.reconcile();
          if (gone > 0) this.log.info({ node: this.config.node, table: t.name, gone }, 'cluster table read again after the NATS outage: entries found gone meanwhile');
          break;
        } catch (e) {
          if (attempt >= RECONCILE_TRIES || this.natsState === 'closed') {
            this.log.warn({ node: this.config.node, table: t.name, err: (e as Error).message }, 'cluster table not read again after the NATS outage: entries that ended meanwhile may linger here');
            break;
          }
          await new Promise((r) => setTimeout(r, RECONCILE_RETRY_MS));
        }
      }
    }
  }

  /**
   * Clears old delete markers from every table. One node is enough (each
   * sweep is idempotent, and a partition's second sweeper does no harm):
   * the first live node by name.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.connected || this.state().nodes[0] !== this.config.node) return;
    this.sweeping = true;
    try {
      for (const t of [...this.tables]) {
        try {
          await t.sweep();
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
    clearInterval(this.sweeper);
    for (const l of this.links) l.stop();
    for (const c of this.calls) c.stop();
    for (const m of this.metas) m.stop();
    // The sessions' entries deleted before the bye, so that no node takes them for a lost node's.
    for (const s of this.sessions) await s.stop();
    for (const s of this.subscriptions) await s.stop();
    for (const p of this.persistents) await p.stop();
    await this.membership?.stop().catch(() => undefined);
    const nc = this.connection;
    if (nc !== undefined && !nc.isClosed()) await nc.drain().catch(() => nc.close());
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
