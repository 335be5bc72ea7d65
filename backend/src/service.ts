// The backend as one embeddable unit: the store (SQLite or PostgreSQL), the
// coordinator, the router link, the guest sweeper, and the router to mount
// (POST /api/session and GET /api/backend/health) on the router's express
// app for one origin, and/or served on an own port from config `http` (with
// GET /health); both share one GuestGate, so a client's limits are the same
// whichever way it comes in.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type Request, type Router } from 'express';
import { TrustedProxies, clientAddress } from '@clawgate/router';
import { WampLink } from '@clawgate/runtime';
import { parseConfig, type BackendConfig, type BackendConfigInput } from './config.js';
import { bindSession } from './bindings.js';
import { ChangeListener } from './db/postgres.js';
import { Repository } from './db/repository.js';
import { openStore, type Store } from './db/store.js';
import { GuestGate } from './guests/guest-gate.js';
import { GuestSweeper } from './guests/sweeper.js';
import { HEALTH_PATH, MOUNTED_HEALTH_PATH, healthRouter, type BackendHealth } from './http/health-route.js';
import { sessionRouter } from './http/session-route.js';
import { createLogger, type Logger } from './logger.js';
import { CHANGES_CHANNEL } from './turns/changes.js';
import { Coordinator } from './turns/coordinator.js';
import { bindVideo } from './video/bind-video.js';
import { JanusClient } from './video/janus-client.js';
import { VideoService } from './video/video-service.js';

export interface Backend {
  config: BackendConfig;
  /** Express router with POST /api/session and GET /api/backend/health; mount it at the root: `app.use(backend.sessionRouter)`. */
  sessionRouter: Router;
  /** Port of the own HTTP listener (config `http`), if any. */
  httpPort: number | undefined;
  /** Resolves once the backend is connected and its procedures are registered (again after each reconnect). */
  ready(): Promise<void>;
  readonly connected: boolean;
  coordinator: Coordinator;
  /** The store: `store.db` (Kysely), `store.dialect`, and for SQLite the better-sqlite3 handle `store.sqlite`. */
  store: Store;
  /** What GET /health says: attached or not, the store, the machines this instance owns. */
  health(): BackendHealth;
  /** Guest admission (rate limits per client) and the sweep of unused guest rows. */
  guests: { gate: GuestGate; sweeper: GuestSweeper };
  /** The video service, with a `video` section (docs/backend.md "Live video"). */
  video: VideoService | undefined;
  /** Leaves the router (its machines' leases given up first), closes the HTTP listener and the store. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
}

export async function startBackend(input: BackendConfig | BackendConfigInput, options: StartOptions = {}): Promise<Backend> {
  const config = isResolved(input) ? input : parseConfig(input);
  const log = options.log ?? createLogger(config.logLevel);
  const store = await openStore(config.database, log);
  const repo = new Repository(store.db, store.dialect);
  const coordinator = new Coordinator(repo, config, log, { exclusive: store.exclusive, leaseRepo: new Repository(store.leases, store.dialect) });
  // Other instances' changes reach a machine's owner by NOTIFY (PostgreSQL); a single SQLite backend owns everything.
  const listener = store.pg
    ? new ChangeListener(store.pg, CHANGES_CHANNEL, (p) => coordinator.changeNotified(p), () => coordinator.resync(), log)
    : undefined;
  try { await listener?.start(); } catch (e) { await store.close(); throw e; }
  const gate = new GuestGate(config.guests);
  let stopping = false;
  const health = (): BackendHealth => {
    const h = coordinator.health();
    return { status: stopping ? 'stopping' : h.attached ? 'ok' : 'starting', instance: h.instance, store: store.dialect, owns: h.owns };
  };
  const routes = express.Router();
  routes.use(sessionRouter({ tickets: config.tickets, repo, log, gate }));
  routes.use(healthRouter(health, MOUNTED_HEALTH_PATH));
  const sweeper = new GuestSweeper(repo, config.guests, { ready: () => coordinator.attached, present: (a) => coordinator.isPresent(a) }, log);

  const janus = config.video && new JanusClient({
    url: config.video.janus.url,
    apiSecret: config.video.janus.apiSecret,
    requestTimeoutMs: config.video.janus.requestTimeoutMs,
    keepaliveMs: config.video.janus.keepaliveSeconds * 1000,
    backoff: { initialMs: 250, maxMs: 5000 },
    log: (level, msg, extra) => log[level](extra ?? {}, `video: ${msg}`),
  });
  const video = janus && new VideoService(config.video!, janus, log);

  let readyWaiters: (() => void)[] = [];
  // This process's recent sessions: a procedure one of them still holds is ours to take back (bindings.ts).
  const ownSessions = new Set<number>();
  let isReady = false;
  const { router } = config;
  const link = new WampLink({
    url: router.url,
    realm: router.realm,
    auth: router.auth,
    backoff: { initialMs: router.reconnect.initialDelaySeconds * 1000, maxMs: router.reconnect.maxDelaySeconds * 1000, factor: router.reconnect.growth, jitter: 0.1 },
    maxMessageBytes: router.maxMessageBytes,
    maxMessageBytesKey: 'router.maxMessageBytes',
    name: 'backend',
    log: (level, msg, extra) => log[level](extra ?? {}, msg),
    // Errors our procedures raise on purpose (claw.error.*) are answers, not incidents.
    onUserError: (err, text) => {
      const uri = String((err as { error?: string })?.error ?? '');
      if (uri.startsWith('claw.error.') || uri.startsWith('claw.video.error.')) return;
      log.warn({ err: String((err as Error)?.message ?? err), text }, 'autobahn user error');
    },
    onOpen: async (session) => {
      const earlier = new Set(ownSessions);
      ownSessions.add(session.id as number);
      // Bounded: a session the router has not dropped within a few reconnects is long gone.
      while (ownSessions.size > 8) ownSessions.delete(ownSessions.values().next().value!);
      await bindSession(session, coordinator, config, log, store.exclusive ? 'single' : 'roundrobin', earlier);
      // The queue service works on without video: a refused registration (another backend has the
      // video service) is logged, not a reason to drop the session.
      if (video) await bindVideo(session, video, log, earlier).catch((e: unknown) => log.error({ err: String((e as { error?: string }).error ?? (e as Error).message) }, 'video service not available on this backend'));
      isReady = true;
      for (const w of readyWaiters.splice(0)) w();
    },
    onClose: (reason, message) => {
      isReady = false;
      coordinator.detach();
      if (stopped === undefined) log.warn({ reason, message }, 'router connection lost; reconnecting');
    },
  });

  let server: http.Server | undefined;
  if (config.http) {
    const own = express.Router();
    own.use(sessionRouter({ tickets: config.tickets, repo, log, gate, clientOf: clientOfOwnListener(new TrustedProxies(config.http.trustedProxies)) }));
    own.use(healthRouter(health, HEALTH_PATH));
    try {
      server = await listen(config.http, own);
    } catch (e) {
      await listener?.stop();
      await store.close();
      throw e;
    }
    log.info({ port: (server.address() as AddressInfo).port }, 'HTTP listening');
  }
  link.start();
  janus?.start();
  sweeper.start();
  log.info({ database: store.describe, store: store.dialect, instance: coordinator.leases.instance, router: config.router.url }, 'backend started');

  let stopped: Promise<void> | undefined;
  return {
    config,
    sessionRouter: routes,
    httpPort: server ? (server.address() as AddressInfo).port : undefined,
    ready: () => (isReady ? Promise.resolve() : new Promise((r) => { readyWaiters.push(r); })),
    get connected() { return isReady; },
    coordinator,
    store,
    health,
    guests: { gate, sweeper },
    video,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        await sweeper.stop();
        // Leases first: another instance takes the machines over while this one says goodbye.
        await coordinator.stop();
        video?.close();
        await janus?.stop();
        await link.stop();
        if (server) { const closed = new Promise<void>((r) => server!.close(() => r())); server.closeAllConnections(); await closed; }
        await listener?.stop();
        await store.close();
        readyWaiters = [];
        log.info('backend stopped');
      })();
      return stopped;
    },
  };
}

/**
 * The own HTTP listener, bounded: the whole request (headers and body) within
 * requestTimeoutMs (then 408 and close), headers within headersTimeoutMs, an
 * idle connection closed after idleTimeoutMs, at most maxConnections open
 * (further ones are closed at once). Node checks the request timeouts every
 * connectionsCheckingInterval, so that interval is a fraction of them.
 */
async function listen(o: NonNullable<BackendConfig['http']>, routes: Router): Promise<http.Server> {
  const app = express();
  app.disable('x-powered-by');
  // req.secure (the cookie's Secure flag in `auto`) believes X-Forwarded-Proto only from the trusted proxies.
  const trusted = new TrustedProxies(o.trustedProxies);
  app.set('trust proxy', (address: string) => trusted.trusts(address));
  app.use(routes);
  const server = http.createServer({
    requestTimeout: o.requestTimeoutMs,
    headersTimeout: Math.min(o.headersTimeoutMs, o.requestTimeoutMs),
    keepAliveTimeout: o.idleTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(o.headersTimeoutMs, o.requestTimeoutMs) / 4))),
  }, app);
  server.maxConnections = o.maxConnections;
  server.setTimeout(o.idleTimeoutMs); // no 'timeout' listener: an idle socket is destroyed
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(o.port, o.host, () => resolve()); });
  return server;
}

/** The client of a request on the backend's own listener (the forwarded client behind its trusted proxies). */
function clientOfOwnListener(trusted: TrustedProxies): (req: Request) => string | undefined {
  return (req) => {
    const s = req.socket as Socket & { encrypted?: boolean };
    return clientAddress({ address: s.remoteAddress, port: s.remotePort, encrypted: s.encrypted === true }, req.headers, trusted).address;
  };
}

function isResolved(c: BackendConfig | BackendConfigInput): c is BackendConfig {
  return typeof (c as BackendConfig).tickets?.secret === 'string' && typeof (c as BackendConfig).defaults?.graceSeconds === 'number'
    && typeof (c as BackendConfig).router?.reconnect?.growth === 'number' && typeof (c as BackendConfig).database?.kind === 'string';
}
