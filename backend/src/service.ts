// The backend as one embeddable unit: SQLite, the coordinator, the router
// link, the guest sweeper, and the POST /api/session router (mount it on the
// router's express app for one origin, and/or serve it on an own port from
// config `http`; both share one GuestGate, so a client's limits are the same
// whichever way it comes in).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type Request, type Router } from 'express';
import { TrustedProxies, clientAddress } from '@clawgate/router';
import { WampLink } from '@clawgate/runtime';
import { parseConfig, type BackendConfig, type BackendConfigInput } from './config.js';
import { openDatabase, type Db } from './db/database.js';
import { Repository } from './db/repository.js';
import { GuestGate } from './guests/guest-gate.js';
import { GuestSweeper } from './guests/sweeper.js';
import { sessionRouter } from './http/session-route.js';
import { createLogger, type Logger } from './logger.js';
import { Coordinator } from './turns/coordinator.js';
import { bindSession } from './wamp/bindings.js';

export interface Backend {
  config: BackendConfig;
  /** Express router with POST /api/session; mount it at the root: `app.use(backend.sessionRouter)`. */
  sessionRouter: Router;
  /** Port of the own HTTP listener (config `http`), if any. */
  httpPort: number | undefined;
  /** Resolves once the backend is connected and its procedures are registered (again after each reconnect). */
  ready(): Promise<void>;
  readonly connected: boolean;
  coordinator: Coordinator;
  db: Db;
  /** Guest admission (rate limits per client) and the sweep of unused guest rows. */
  guests: { gate: GuestGate; sweeper: GuestSweeper };
  /** Leaves the router, closes the HTTP listener and the database. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
}

export async function startBackend(input: BackendConfig | BackendConfigInput, options: StartOptions = {}): Promise<Backend> {
  const config = isResolved(input) ? input : parseConfig(input);
  const log = options.log ?? createLogger(config.logLevel);
  const db = openDatabase(config.database.path);
  const repo = new Repository(db);
  const coordinator = new Coordinator(repo, config, log);
  const gate = new GuestGate(config.guests);
  const routes = sessionRouter({ tickets: config.tickets, repo, log, gate });
  const sweeper = new GuestSweeper(repo, config.guests, { ready: () => coordinator.attached, present: (a) => coordinator.isPresent(a) }, log);

  let readyWaiters: (() => void)[] = [];
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
      if (String((err as { error?: string })?.error ?? '').startsWith('claw.error.')) return;
      log.warn({ err: String((err as Error)?.message ?? err), text }, 'autobahn user error');
    },
    onOpen: async (session) => {
      await bindSession(session, coordinator, config, log);
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
    server = await listen(config.http, sessionRouter({ tickets: config.tickets, repo, log, gate, clientOf: clientOfOwnListener(new TrustedProxies(config.http.trustedProxies)) }));
    log.info({ port: (server.address() as AddressInfo).port }, 'HTTP listening');
  }
  link.start();
  sweeper.start();
  log.info({ database: config.database.path, router: config.router.url }, 'backend started');

  let stopped: Promise<void> | undefined;
  return {
    config,
    sessionRouter: routes,
    httpPort: server ? (server.address() as AddressInfo).port : undefined,
    ready: () => (isReady ? Promise.resolve() : new Promise((r) => { readyWaiters.push(r); })),
    get connected() { return isReady; },
    coordinator,
    db,
    guests: { gate, sweeper },
    stop() {
      stopped ??= (async () => {
        await sweeper.stop();
        coordinator.stop();
        await link.stop();
        if (server) { const closed = new Promise<void>((r) => server!.close(() => r())); server.closeAllConnections(); await closed; }
        db.close();
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
    && typeof (c as BackendConfig).router?.reconnect?.growth === 'number';
}
