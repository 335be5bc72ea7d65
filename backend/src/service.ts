// The backend as one embeddable unit: SQLite, the coordinator, the router
// link, and the POST /api/session router (mount it on the router's express
// app for one origin, and/or serve it on an own port from config `http`).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Router } from 'express';
import { parseConfig, type BackendConfig, type BackendConfigInput } from './config.js';
import { openDatabase, type Db } from './db/database.js';
import { Repository } from './db/repository.js';
import { sessionRouter } from './http/session-route.js';
import { createLogger, type Logger } from './logger.js';
import { Coordinator } from './turns/coordinator.js';
import { bindSession } from './wamp/bindings.js';
import { RouterLink } from './wamp/connection.js';

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
  const routes = sessionRouter({ tickets: config.tickets, repo, log });

  let readyWaiters: (() => void)[] = [];
  let isReady = false;
  const link = new RouterLink(config, log, {
    onOpen: async (session) => {
      await bindSession(session, coordinator, config, log);
      isReady = true;
      for (const w of readyWaiters.splice(0)) w();
    },
    onClose: () => { isReady = false; coordinator.detach(); },
  });

  let server: http.Server | undefined;
  if (config.http) {
    const app = express();
    app.disable('x-powered-by');
    app.use(routes);
    server = http.createServer(app);
    await new Promise<void>((resolve, reject) => { server!.once('error', reject); server!.listen(config.http!.port, config.http!.host, () => resolve()); });
    log.info({ port: (server.address() as AddressInfo).port }, 'HTTP listening');
  }
  link.start();
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
    stop() {
      stopped ??= (async () => {
        coordinator.stop();
        await link.stop();
        if (server) await new Promise<void>((r) => server!.close(() => r()));
        db.close();
        readyWaiters = [];
        log.info('backend stopped');
      })();
      return stopped;
    },
  };
}

function isResolved(c: BackendConfig | BackendConfigInput): c is BackendConfig {
  return typeof (c as BackendConfig).tickets?.secret === 'string' && typeof (c as BackendConfig).defaults?.graceSeconds === 'number'
    && typeof (c as BackendConfig).router?.reconnect?.growth === 'number';
}
