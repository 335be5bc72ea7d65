// A real cluster for tests: Debian's nats-server with JetStream on a free
// loopback port and a temporary store directory, and router nodes on it,
// in this process (Router) or as child processes of the CLI (for kill -9).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { groupMembers } from '@clawgate/runtime/proc';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Router } from '../../src/router.js';
import { fromCrossbar } from '../../src/config/crossbar-config.js';
import { silentLogger } from '../../src/logger.js';
import { freePort, killGroupOnExit, sleep, testConfig } from '../helpers.js';

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
export const haveNats = existsSync(NATS_SERVER);
// CI installs nats-server and sets this: there its absence is a failure, never a silent skip.
if (!haveNats && process.env.CLAWGATE_REQUIRE_NATS === '1') throw new Error(`CLAWGATE_REQUIRE_NATS=1 but there is no nats-server at ${NATS_SERVER} (apt-get install nats-server, or set NATS_SERVER)`);

export interface Nats {
  url: string;
  port: number;
  /** Stops the server (SIGTERM; SIGKILL after 3 s). */
  stop(): Promise<void>;
  /** Starts it again on the same port and store (a NATS restart). */
  restart(): Promise<void>;
}

async function listening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server not listening on ${port} within ${ms} ms`);
    await sleep(25);
  }
}

function exited(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { p.kill('SIGKILL'); }, ms);
    p.once('exit', () => { clearTimeout(timer); resolve(); });
  });
}

/** A nats-server with JetStream on a free loopback port and a temporary store, removed at stop. */
export async function startNats(): Promise<Nats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-nats-'));
  let proc: ChildProcess;
  const launch = async (): Promise<void> => {
    proc = spawn(NATS_SERVER, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await listening(port, 10_000);
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async stop() {
      proc.kill('SIGTERM');
      await exited(proc, 3000);
    },
    async restart() {
      proc.kill('SIGTERM');
      await exited(proc, 3000);
      await launch();
    },
    // The directory goes with the last stop (cleanup()).
    ...{ cleanup: () => rmSync(dir, { recursive: true, force: true }) },
  } as Nats;
}

/** One server of a NATS cluster. */
export interface NatsClusterServer { name: string; url: string; kill(): Promise<void> }

/**
 * Three nats-servers with JetStream clustered (routes between them on loopback ports, a store
 * each), ready once JetStream has a meta leader. stop() kills what is left and removes the stores.
 */
export async function startNatsCluster(count = 3): Promise<{ servers: NatsClusterServer[]; urls: string[]; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const routes = await Promise.all(Array.from({ length: count }, () => freePort()));
  const procs: ChildProcess[] = [];
  const servers: NatsClusterServer[] = [];
  for (let i = 0; i < count; i++) {
    const name = `s${i + 1}`;
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${ports[i]}`,
      `jetstream { store_dir: "${join(dir, name)}" }`,
      `cluster { name: clawgate-test, listen: 127.0.0.1:${routes[i]}, routes: [${routes.filter((_, j) => j !== i).map((r) => `nats-route://127.0.0.1:${r}`).join(', ')}] }`,
    ].join('\n'));
    const proc = spawn(NATS_SERVER, ['-c', file], { stdio: 'ignore', detached: true });
    killGroupOnExit(proc);
    procs.push(proc);
    servers.push({ name, url: `nats://127.0.0.1:${ports[i]}`, kill: async () => { proc.kill('SIGKILL'); await exited(proc, 3000); } });
  }
  for (const p of ports) await listening(p!, 10_000);
  // JetStream answers once the servers have elected its meta leader.
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: servers.map((s) => s.url) });
  try {
    await until(async () => (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo(), 30_000, 'the NATS cluster\'s JetStream');
  } finally { await nc.close(); }
  return {
    servers,
    urls: servers.map((s) => s.url),
    async stop() {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map((p) => exited(p, 3000)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stops `nats` and removes its store. */
export async function stopNats(nats: Nats): Promise<void> {
  await nats.stop();
  (nats as Nats & { cleanup(): void }).cleanup();
}

/** testConfig()'s router (realm1, anonymous may do everything), as node `node` of a cluster on `natsUrl`. */
export interface NodeOptions {
  realms?: unknown[];
  cluster?: string;
  transportExtras?: Record<string, unknown>;
  /** Several NATS servers (a NATS cluster) instead of `natsUrl` alone. */
  natsServers?: string[];
  /** The cluster section's `replicas`. */
  replicas?: number;
  /** The cluster section's `marker_age`, seconds. */
  markerAge?: number;
  /** More environment for a node process (spawnNode only). */
  env?: Record<string, string>;
}

export function nodeConfig(node: string, natsUrl: string, opts: NodeOptions = {}): unknown {
  const config = testConfig({ ...(opts.realms === undefined ? {} : { realms: opts.realms }), ...(opts.transportExtras === undefined ? {} : { transportExtras: opts.transportExtras }) }) as { workers: Record<string, unknown>[] };
  config.workers[0]!.cluster = {
    node, ...(opts.cluster !== undefined ? { name: opts.cluster } : {}), nats: { servers: opts.natsServers ?? [natsUrl] },
    ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
    ...(opts.markerAge !== undefined ? { marker_age: opts.markerAge } : {}),
  };
  return config;
}

export interface Node {
  name: string;
  router: Router;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** Router node `name` in this process. */
export async function startNode(name: string, natsUrl: string, opts: NodeOptions = {}): Promise<Node> {
  const { config } = fromCrossbar(nodeConfig(name, natsUrl, opts));
  const router = new Router(config, { log: silentLogger() });
  await router.start();
  const port = Object.values(router.ports())[0]!;
  return { name, router, port, url: `ws://127.0.0.1:${port}/ws`, stop: () => router.stop(200) };
}

/** `count` nodes n1, n2, ... in this process, each seeing all the others before it resolves. */
export async function startNodes(count: number, natsUrl: string, opts: NodeOptions = {}): Promise<Node[]> {
  const nodes: Node[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await startNode(`n${i}`, natsUrl, opts));
  await allSeeEachOther(nodes.map((n) => () => n.router.cluster!.state().nodes.length));
  return nodes;
}

async function allSeeEachOther(sizes: (() => number)[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!sizes.every((s) => s() === sizes.length)) {
    if (Date.now() > deadline) throw new Error('cluster nodes did not see each other within 10 s');
    await sleep(20);
  }
}

export interface NodeProcess {
  name: string;
  proc: ChildProcess;
  port: number;
  url: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Sends `signal` to the node's processes (the launcher and the router it runs). */
  kill(signal: NodeJS.Signals): void;
}

const BIN = fileURLToPath(new URL('../../bin/clawgate-router.js', import.meta.url));

/**
 * Router node `name` as a child process of the CLI
 * (`clawgate-router --config FILE --node NAME --nats URL`), for kill -9.
 * Resolves once it logged `router started` (its port read from that line).
 */
export async function spawnNode(name: string, natsUrl: string, opts: NodeOptions = {}): Promise<NodeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-node-'));
  const file = join(dir, 'config.json');
  const config = testConfig({ ...(opts.realms === undefined ? {} : { realms: opts.realms }), ...(opts.transportExtras === undefined ? {} : { transportExtras: opts.transportExtras }) }) as { workers: Record<string, unknown>[] };
  if (opts.cluster !== undefined) config.workers[0]!.cluster = { name: opts.cluster };
  writeFileSync(file, JSON.stringify(config));
  // A process group of its own: the CLI's launcher runs the router in a child process, and kill() must reach both.
  const proc = spawn(process.execPath, [BIN, '--config', file, '--node', name, '--nats', natsUrl, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...opts.env } });
  killGroupOnExit(proc);
  const exitedP = new Promise<void>((r) => proc.once('exit', () => { rmSync(dir, { recursive: true, force: true }); r(); }));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`node ${name} did not start within 20 s: ${err}`)), 20_000);
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const onData = (d: Buffer): void => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"router started"')) continue;
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolve(Object.values((JSON.parse(line) as { ports: Record<string, number> }).ports)[0]!);
        return;
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`node ${name} exited with ${code}: ${err}`)); });
  });
  // Keep reading so the child never blocks on a full pipe.
  proc.stdout!.resume();
  proc.stderr!.resume();
  const kill = (signal: NodeJS.Signals): void => { try { process.kill(-proc.pid!, signal); } catch { /* gone */ } };
  return { name, proc, port, url: `ws://127.0.0.1:${port}/ws`, exited: exitedP, kill };
}

/** No process of group `pgid` runs any more (zombies count as gone: an orphaned child may wait for a PID 1 that does not reap it). */
export function processGroupGone(pgid: number): boolean {
  return groupMembers(pgid).length === 0;
}

/** Polls the async `fn` (each try bounded to 2 s) until it resolves truthy; fails after `timeoutMs`. */
export async function until(fn: () => Promise<unknown>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.race([fn().catch(() => false), sleep(2000).then(() => false)]);
    if (v) return;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * A TCP proxy to NATS that can be cut (every connection dropped, new ones
 * refused) and restored on the same port, or hold what its clients send
 * (their connections stay up and NATS's answers still reach them: a delay
 * in one direction, as a congested link makes) and release it.
 */
export interface NatsProxy { url: string; cut(): Promise<void>; restore(): Promise<void>; hold(): void; release(): void; stop(): Promise<void> }

export async function cuttableProxy(to: number): Promise<NatsProxy> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  let held = false;
  let server: net.Server | undefined;
  const listen = (): Promise<void> => new Promise((resolve, reject) => {
    server = net.createServer((c) => {
      const up = net.connect(to, '127.0.0.1');
      const pair: [net.Socket, net.Socket] = [c, up];
      pairs.add(pair);
      for (const s of pair) { sockets.add(s); s.on('close', () => { sockets.delete(s); pairs.delete(pair); }); s.on('error', () => { c.destroy(); up.destroy(); }); }
      if (!held) c.pipe(up);
      up.pipe(c);
      c.on('close', () => up.destroy()); up.on('close', () => c.destroy());
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const close = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const k of sockets) k.destroy();
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    url: `nats://127.0.0.1:${port}`, cut: close, restore: listen, stop: close,
    hold: () => { held = true; for (const [c, up] of pairs) { c.unpipe(up); c.pause(); } },
    release: () => { held = false; for (const [c, up] of pairs) c.pipe(up); },
  };
}

/**
 * Nodes n1 and n2 of cluster `opts.cluster` in this process, `proxied` of
 * them reaching NATS through a cuttableProxy (to cut it off or hold up its
 * writes); resolves once they see each other. stop(): both nodes, then the
 * proxy (released first).
 */
export async function proxiedPair(nats: Nats, proxied: 'n1' | 'n2', opts: NodeOptions = {}): Promise<{ proxy: NatsProxy; n1: Node; n2: Node; stop(): Promise<void> }> {
  const proxy = await cuttableProxy(nats.port);
  const n1 = await startNode('n1', proxied === 'n1' ? proxy.url : nats.url, opts);
  const n2 = await startNode('n2', proxied === 'n2' ? proxy.url : nats.url, opts);
  await allSeeEachOther([() => n1.router.cluster!.state().nodes.length, () => n2.router.cluster!.state().nodes.length]);
  return { proxy, n1, n2, stop: async () => { proxy.release(); await n2.stop(); await n1.stop(); await proxy.stop(); } };
}
