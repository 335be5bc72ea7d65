// The whole claw system in one process: one router on one port (WebSocket at
// /ws, RawSocket and HTTP on the same port, realm `claw`), the backend on
// SQLite in the data directory with POST /api/session on the router's own
// express app, N simulated claw nodes logging in with cryptosign, and the
// player page and operator dashboard on the same origin.
//
// Every part talks to the router over a real loopback WebSocket, exactly as
// it would when deployed separately (docs/operations.md); the only thing
// this file adds is wiring and a shutdown order. The claw nodes run on worker
// threads of their own (node-thread.ts says why and how many), so nothing
// that stalls the router's event loop can delay their safety timers. The data folder is
// locked while the system runs (data-lock.ts).
import { dirname, join } from 'node:path';
import { Router, createLogger as routerLogger, deriveCraKey, fromCrossbar } from '@clawgate/router';
import { loadClawRouterConfig, startBackend, createLogger as backendLogger, type Backend, type BackendConfigInput } from '@clawgate/backend';
import type { ClawNodeConfigInput } from '@clawgate/claw-node';
import { REALM } from '@clawgate/protocol';
import { webClient } from '@clawgate/web-client';
import { ensureDataDir, loadOrCreateSecrets, machineKey } from './secrets.js';
import { ensureWebBundle } from './web-bundle.js';
import { mergeDeep, Overrides, type OverridesInput } from './overrides.js';
import { startNodeThreads, type ClawNodeThread } from './node-thread.js';
import { lockDataDir } from './data-lock.js';
import { startVideo, videoMissing, type VideoSetup } from './video/video-setup.js';

export interface SystemOptions {
  /** Simulated machines claw-1 … claw-N. */
  machines: number;
  /** 0 picks a free port. */
  port: number;
  host: string;
  /** SQLite database, development secrets and machine keys live here. */
  dataDir: string;
  /** Router config for the claw realm (default: config/claw-router.yaml of this checkout). */
  routerConfig?: string | undefined;
  /** Settings merged into the generated backend and claw node configs (tests: short timings). */
  overrides?: OverridesInput | undefined;
  logLevel: string;
  /** Video stream URL per machine for the page's video slot (real cabinets). */
  videoUrls?: Record<string, string> | undefined;
  /** Live video through Janus with a synthetic camera per machine (`--video` without a URL). */
  video?: boolean | undefined;
  /** Each node's thread appends its GPIO line changes here (gpio-trace.ts). */
  gpioTrace?: string | undefined;
  /** A claw node's thread ended by itself (default: a line on stderr). */
  onNodeFailure?: ((machine: string, message: string) => void) | undefined;
}

export interface RunningSystem {
  /** The player page, e.g. http://127.0.0.1:8080/ (the dashboard is at `${url}operator`). */
  url: string;
  wsUrl: string;
  port: number;
  realm: string;
  machines: string[];
  operator: { authid: string; secret: string };
  secretsCreated: boolean;
  router: Router;
  backend: Backend;
  /** The claw nodes, on worker threads of their own (node-thread.ts). */
  nodes: ClawNodeThread[];
  /** Live video: Janus's process (undefined without --video, or when janus/ffmpeg are missing). */
  video: { janusPid(): number | undefined; janusRestarts(): number; url: string } | undefined;
  /** Why --video was asked for and is off (janus or ffmpeg missing). */
  videoOff: string | undefined;
  /** Claw nodes release and leave, the backend closes the database, the router says GOODBYE. Idempotent. */
  stop(): Promise<void>;
}

export const OPERATOR_AUTHID = 'operator';
const BACKEND_AUTHID = 'backend';
// The salts and iterations of config/claw-router.yaml's wampcra users.
const BACKEND_SALT = 'clawgate-backend';
const OPERATOR_SALT = 'clawgate-operator';
const CRA_ITERATIONS = 1000;
const CRA_KEYLEN = 32;

/** The address clients on this host use to reach a listener bound to `host`. */
export function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const overrides = Overrides.parse(options.overrides ?? {});
  ensureDataDir(options.dataDir);
  const lock = lockDataDir(options.dataDir);
  // A process that ends without stop() (an uncaught error, the 15 s shutdown
  // deadline) leaves no lock behind; one killed outright leaves a stale one,
  // which the next start recognises.
  const releaseOnExit = (): void => lock.release();
  process.once('exit', releaseOnExit);
  const unlock = (): void => { lock.release(); process.off('exit', releaseOnExit); };
  try {
    return await startLocked(options, overrides, unlock);
  } catch (e) {
    unlock();
    throw e;
  }
}

async function startLocked(options: SystemOptions, overrides: Overrides, unlock: () => void): Promise<RunningSystem> {
  const secrets = loadOrCreateSecrets(options.dataDir);
  const machines = Array.from({ length: options.machines }, (_, i) => `claw-${i + 1}`);
  const keys = Object.fromEntries(machines.map((m) => [m, machineKey(options.dataDir, m)]));

  // The page must match its sources in a development checkout; a packaged build is used as is.
  await ensureWebBundle((m) => process.stderr.write(`clawgate: ${m}\n`));

  const raw = loadClawRouterConfig({
    port: options.port,
    host: options.host,
    claws: Object.fromEntries(machines.map((m) => [m, [keys[m]!.key.publicKey]])),
    ...(options.routerConfig ? { file: options.routerConfig } : {}),
  });
  const env = {
    ...process.env,
    CLAWGATE_TICKET_SECRET: secrets.ticketSecret,
    CLAWGATE_BACKEND_CRA_KEY: deriveCraKey(secrets.backendSecret, BACKEND_SALT, CRA_ITERATIONS, CRA_KEYLEN),
    CLAWGATE_OPERATOR_CRA_KEY: deriveCraKey(secrets.operatorSecret, OPERATOR_SALT, CRA_ITERATIONS, CRA_KEYLEN),
  };
  const { config: routerConfig } = fromCrossbar(raw, { env, ...(options.routerConfig ? { baseDir: dirname(options.routerConfig) } : {}) });
  const router = new Router(routerConfig, { log: routerLogger(options.logLevel) });
  await router.start();

  const started: { nodes: ClawNodeThread[]; backend?: Backend; video?: VideoSetup } = { nodes: [] };
  const say = (m: string) => process.stderr.write(`clawgate: ${m}\n`);
  const stopAll = async (): Promise<void> => {
    // Machines first (their lines released, `offline` published), then the
    // queue service (its last transaction committed, SQLite closed), then
    // the router tells every browser still connected that it is going away;
    // the data folder is free for the next start only then.
    try {
      started.video?.stopping();
      await Promise.allSettled(started.nodes.map((n) => n.stop()));
      await started.backend?.stop();
      await started.video?.stop();
      await router.stop();
    } finally {
      unlock();
    }
  };

  try {
    const port = Object.values(router.ports())[0]!;
    const host = connectHost(options.host);
    const wsUrl = `ws://${host}:${port}/ws`;
    const url = `http://${host}:${port}/`;

    // Video: asked for by --video or the overrides' video.enabled; off (drawn view) without janus/ffmpeg.
    const wantVideo = options.video === true || overrides.video?.enabled === true;
    const videoOff = wantVideo ? videoMissing() : undefined;
    if (videoOff !== undefined) say(`video: ${videoOff} not installed (apt-get install janus ffmpeg); the machines are shown drawn, without live video`);
    if (wantVideo && videoOff === undefined) {
      started.video = await startVideo({ dataDir: options.dataDir, machines: machines.length, host: options.host, log: say });
    }
    const video = started.video;
    const backendVideo = video ? { video: mergeDeep(video.backend, overrides.video?.backend ?? {}) } : {};
    const clawVideo = video ? { camera: mergeDeep(video.camera, overrides.video?.camera ?? {}) } : {};

    const backendConfig: BackendConfigInput = mergeDeep({
      router: { url: wsUrl, realm: REALM, auth: { method: 'wampcra', authid: BACKEND_AUTHID, secret: secrets.backendSecret } },
      database: { path: join(options.dataDir, 'clawgate.sqlite') },
      tickets: { secret: secrets.ticketSecret },
      logLevel: options.logLevel,
      ...backendVideo,
    }, overrides.backend) as BackendConfigInput;
    const backend = await startBackend(backendConfig, { log: backendLogger(options.logLevel) });
    started.backend = backend;
    // Same origin as the page: the ticket cookie and the API need no CORS.
    router.app.use(backend.sessionRouter);
    router.app.use(webClient({ realm: REALM, wsPath: '/ws', videoUrls: options.videoUrls ?? {} }));

    const onFailure = options.onNodeFailure ?? ((m: string, message: string) => process.stderr.write(`clawgate: claw node ${m} failed: ${message}\n`));
    started.nodes.push(...await startNodeThreads(machines.map((m) => mergeDeep({
      router: { url: wsUrl, realm: REALM, auth: 'cryptosign' },
      machine: m,
      key: keys[m]!.path,
      driver: 'simulated',
      logLevel: options.logLevel,
      ...clawVideo,
    }, overrides.claw) as ClawNodeConfigInput), { gpioTrace: options.gpioTrace, onFailure }));
    await withTimeout(backend.ready(), 15_000, 'the backend did not connect to the router');
    // Print the URL only when every machine can be joined: a player who is
    // quicker than the claw nodes' login would otherwise get machine_offline.
    await allOnline(backend.coordinator.registry, machines, 30_000);

    let stopping: Promise<void> | undefined;
    return {
      url, wsUrl, port, realm: REALM, machines,
      operator: { authid: OPERATOR_AUTHID, secret: secrets.operatorSecret },
      secretsCreated: secrets.created,
      router, backend, nodes: started.nodes,
      video: video && { janusPid: () => video.janus.pid, janusRestarts: () => video.janus.restarts, url: video.janus.url },
      videoOff,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (e) {
    await stopAll().catch(() => undefined);
    throw e;
  }
}

async function allOnline(registry: { online(id: string): boolean }, machines: readonly string[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const missing = machines.filter((m) => !registry.online(m));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`claw nodes not online at the backend within ${ms / 1000} s: ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]);
}
