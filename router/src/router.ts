// The router: realms, listeners, the HTTP app, and the lifecycle that ties
// them together. Embeddable (`new Router(config).start()`) and used by the CLI.
import express, { type Express } from 'express';
import { Realm, TRUSTED_ROLE, type RealmConfig } from './realm/realm.js';
import { Session, type SessionHost } from './session/session.js';
import { Listener, type ListenerConfig, type SessionFactory } from './transport/listener.js';
import type { Transport } from './transport/transport.js';
import { LocalTransport } from './transport/local-transport.js';
import { LocalSession } from './local-session.js';
import { createLogger, type Logger } from './logger.js';
import { WampErrors } from './errors.js';
import type { AuthPolicy } from './auth/auth-policy.js';
import { DEFAULT_MEMORY_LIMITS, type EndpointLimits, type MemoryLimits } from './limits/limits-config.js';
import { MemoryPressure } from './limits/memory-pressure.js';
import { LimitCounters } from './limits/limit-counters.js';
import { RouterMetrics, type SessionCount } from './metrics/router-metrics.js';
import { exposition, routerRegistry } from './metrics/exposition.js';
import type { Registry } from 'prom-client';
import { HttpPaths } from './http/http-paths.js';
import { WebResources, type WebResourceConfig } from './http/web-resources.js';
import type { HttpPathConfig } from './http/http-config.js';
import type { ClusterConfig } from './cluster/cluster-config.js';
import type { ClusterNode } from './cluster/cluster-node.js';
import { clusterMetrics } from './cluster/cluster-metrics.js';
import { nodeRandomId, randomId } from './ids.js';

export interface RouterConfig {
  realms: RealmConfig[];
  listeners: ListenerConfig[];
  /** HTTP bridge, info and metrics paths on web listeners (docs/router.md#http-bridge). */
  http?: HttpPathConfig[];
  /** Serve `/metrics` to loopback clients on every web listener (default true; fromCrossbar sets false when the config has `type: metrics` paths). */
  defaultMetrics?: boolean;
  /** Static files, JSON values, redirects and node info pages on web listeners (docs/router.md#web-resources). */
  web?: WebResourceConfig[];
  /** Heap watermarks for refusing new work (default DEFAULT_MEMORY_LIMITS; null: never refuse for memory). */
  memory?: MemoryLimits | null;
  /** This router is a node of a cluster over NATS (docs/cluster.md); a single router without it. */
  cluster?: ClusterConfig;
}

export interface RouterOptions {
  log?: Logger;
}

export class Router implements SessionHost, SessionFactory {
  readonly log: Logger;
  readonly app: Express;
  private readonly realms = new Map<string, Realm>();
  private readonly listeners: Listener[] = [];
  private readonly sessions = new Set<Session>();
  private started = false;
  /** What the limits refused or dropped (docs/security.md, "Limits"). */
  readonly limitCounters = new LimitCounters();
  /** Counters and histograms for `/metrics`; `metrics.snapshot()` for in-process readers. */
  readonly metrics: RouterMetrics;
  private readonly metricsRegistry: Registry;
  private readonly httpPaths: HttpPaths;
  private stopping = false;
  /** The heap watermark (limits/memory-pressure.ts); undefined when switched off. */
  readonly memory: MemoryPressure | undefined;
  /**
   * This router as a cluster node (config `cluster`), from start() on; undefined on a single router.
   * Made at start, with the NATS client imported then: a router without `cluster` never loads it.
   */
  get cluster(): ClusterNode | undefined { return this.clusterNode; }
  private clusterNode: ClusterNode | undefined;

  constructor(readonly config: RouterConfig, options: RouterOptions = {}) {
    this.log = options.log ?? createLogger();
    const memory = config.memory === undefined ? DEFAULT_MEMORY_LIMITS : config.memory;
    if (memory !== null) {
      this.memory = new MemoryPressure(memory, (overloaded, heap) => {
        const fields = { heap_used: heap.used, heap_limit: heap.limit, high_watermark: memory.heapHighWatermark, low_watermark: memory.heapLowWatermark };
        if (overloaded) this.log.warn(fields, 'heap over its high watermark: refusing new sessions, subscriptions, registrations and retained events');
        else this.log.warn(fields, 'heap below its low watermark again: accepting new work');
      });
    }
    for (const r of config.realms) this.addRealm(r);
    this.app = express();
    this.app.disable('x-powered-by');
    this.metrics = new RouterMetrics({
      sessions: () => this.sessionsByRealmRole(),
      connections: () => this.sessions.size,
      limits: () => this.limitCounters.snapshot(),
      overloaded: () => this.overloaded,
    });
    this.metricsRegistry = routerRegistry(this.metrics);
    this.app.get('/health', (_req, res) => {
      const ready = this.ready;
      res.status(ready ? 200 : 503).json({
        status: ready ? 'ok' : this.stopping ? 'stopping' : 'starting', realms: [...this.realms.keys()], sessions: this.sessions.size,
        ...(this.cluster === undefined ? {} : { cluster: this.cluster.state() }),
      });
    });
    this.httpPaths = new HttpPaths(this, config.http ?? [], config.defaultMetrics ?? true);
    this.app.use(this.httpPaths.middleware);
    this.app.use(new WebResources({ ports: () => this.ports(), nodeInfo: () => ({ realms: this.realms.size, sessions: this.sessions.size }) }, config.web ?? []).middleware);
    for (const l of config.listeners) this.listeners.push(new Listener(l, this, this.app, this.log));
  }

  addRealm(config: RealmConfig): Realm {
    if (this.realms.has(config.name)) throw new Error(`realm "${config.name}" already exists`);
    const realm = new Realm(config, this.log, this.limitCounters);
    // A realm added to a started cluster node would miss the cluster's retained events: realms of a cluster are
    // configured (and joined to the cluster when it is made, at start).
    if (this.config.cluster !== undefined && (this.started || this.clusterNode !== undefined)) {
      throw new Error(`realm "${config.name}" can't be added to a running cluster node: configure it on every node`);
    }
    if (this.started) realm.open();
    this.realms.set(config.name, realm);
    return realm;
  }

  realm(name: string): Realm | undefined {
    return this.realms.get(name);
  }

  /** A new session's id (HandshakeHost): a cluster node's carry its slot, so they are unique in the cluster. */
  sessionId(): number {
    const slot = this.cluster?.slot ?? -1;
    return slot < 0 ? randomId() : nodeRandomId(slot);
  }

  findRealm(name: string): Realm | undefined {
    return this.realms.get(name);
  }

  /** Ports actually bound, by listener id (useful with port 0). */
  ports(): Record<string, number> {
    return Object.fromEntries(this.listeners.map((l) => [l.config.id, l.port]));
  }

  /** Started, not stopping, and every listener listening. */
  get ready(): boolean {
    return this.started && this.listeners.every((l) => l.listening);
  }

  /** The Prometheus text exposition of this router's metrics (and the process's). */
  metricsText(): Promise<string> {
    return exposition(this.metricsRegistry);
  }

  private sessionsByRealmRole(): SessionCount[] {
    const out: SessionCount[] = [];
    for (const realm of this.realms.values()) {
      const byRole = new Map<string, number>();
      for (const s of realm.sessions.values()) byRole.set(s.authrole, (byRole.get(s.authrole) ?? 0) + 1);
      for (const [role, count] of byRole) out.push({ realm: realm.name, role, count });
    }
    return out;
  }

  async start(): Promise<this> {
    try {
      if (this.config.cluster !== undefined && this.clusterNode === undefined) await this.makeClusterNode(this.config.cluster);
      // Realms first: a history file that can't be opened stops the start before anyone connects.
      for (const r of this.realms.values()) r.open();
      // The cluster before the listeners: no client is served before the node has the cluster's retained events.
      await this.cluster?.start();
      for (const l of this.listeners) await l.start();
    } catch (e) {
      await Promise.all(this.listeners.map((l) => l.stop()));
      await this.cluster?.stop();
      for (const r of this.realms.values()) r.close();
      throw e;
    }
    this.started = true;
    this.stopping = false;
    this.memory?.start();
    return this;
  }

  /** The cluster node, its realms and its metrics; its module (and with it the NATS client) is imported only now. */
  private async makeClusterNode(config: ClusterConfig): Promise<void> {
    const { ClusterNode } = await import('./cluster/cluster-node.js');
    const node = new ClusterNode(config, this.log);
    for (const realm of this.realms.values()) node.addRealm(realm);
    for (const m of clusterMetrics(node)) this.metricsRegistry.registerMetric(m);
    this.clusterNode = node;
  }

  /** True while the heap is over its high watermark: new work is refused (SessionHost). */
  get overloaded(): boolean {
    return this.memory?.overloaded ?? false;
  }

  /** GOODBYE (wamp.close.system_shutdown) to every session, then close listeners, then the realms' history files (their last events written). */
  async stop(graceMs = 1000): Promise<void> {
    this.started = false;
    this.stopping = true;
    this.memory?.stop();
    this.httpPaths.close();
    const open = [...this.sessions];
    for (const s of open) s.goodbye(WampErrors.systemShutdown, 'router is shutting down', graceMs);
    const deadline = Date.now() + graceMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(this.listeners.map((l) => l.stop()));
    // After the sessions left: their testaments have gone to the other nodes.
    await this.cluster?.stop();
    for (const r of this.realms.values()) r.close();
  }

  openSession(transport: Transport, auth: AuthPolicy, endpoint?: EndpointLimits): Session {
    const session = new Session(transport, this, auth, endpoint);
    this.sessions.add(session);
    return session;
  }

  sessionClosed(session: Session): void {
    this.sessions.delete(session);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * An in-process session on `realm`. Its role defaults to `trusted`
   * (everything allowed) unless the realm's config defines that role.
   */
  async localSession(realm: string, opts: { authid?: string; authrole?: string } = {}): Promise<LocalSession> {
    const authrole = opts.authrole ?? TRUSTED_ROLE;
    const ls = LocalSession.open((deliver, closed) => {
      const transport = new LocalTransport(deliver, closed);
      return this.openSession(transport, { anonymous: { type: 'static', role: authrole, authid: opts.authid } });
    }, realm);
    await ls.ready();
    return ls;
  }
}
