// The claw system on a router cluster, as an operator deploys it
// (docs/operations.md "Running a cluster"): router nodes started by the CLI
// (`clawgate-router --config FILE --node nK --nats URL`) with the claw
// realm's config (config/claw-router.yaml, the claw nodes' keys and the
// secrets filled in as system/src/system.ts does), the backend
// (`clawgate-backend --config FILE`) and claw nodes (`clawgate-claw --config
// FILE`, simulated machine) as processes of their own. nats-server and the
// TCP balancer come from the router's cluster test harness.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveCraKey } from '@clawgate/router';
import { loadClawRouterConfig } from '@clawgate/backend';
import { ROOT, sleep } from './helpers.js';
import { loadOrCreateSecrets, machineKey } from '../src/secrets.js';
import { freePort, killGroupOnExit } from '../../router/test/helpers.js';

export { startNats, stopNats, haveNats, type Nats } from '../../router/test/cluster/harness.js';
export { startBalancer, type Balancer } from '../../router/test/cluster/balancer.js';

const BIN = {
  router: join(ROOT, 'router', 'bin', 'clawgate-router.js'),
  backend: join(ROOT, 'backend', 'bin', 'clawgate-backend.js'),
  claw: join(ROOT, 'claw-node', 'bin', 'clawgate-claw.js'),
};

/** A child process of ours, in a process group of its own (kill() reaches a launcher and its child). */
export interface Proc {
  name: string;
  proc: ChildProcess;
  /** stdout and stderr so far (the last 2 MiB). */
  output(): string;
  /** Bytes of output so far: a mark for "printed after this point". */
  mark(): number;
  /** Output printed since `mark`. */
  since(mark: number): string;
  exited: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

const KEEP = 2 * 1024 * 1024;

export function spawnProc(name: string, args: string[], env: Record<string, string> = {}): Proc {
  const proc = spawn(process.execPath, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  killGroupOnExit(proc);
  let text = '';
  let dropped = 0;
  const add = (d: Buffer): void => {
    text += d.toString();
    if (text.length > KEEP) { dropped += text.length - KEEP; text = text.slice(-KEEP); }
  };
  proc.stdout!.on('data', add);
  proc.stderr!.on('data', add);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    name, proc, exited,
    output: () => text,
    mark: () => dropped + text.length,
    since: (mark) => text.slice(Math.max(0, mark - dropped)),
    kill: (signal) => { try { process.kill(-proc.pid!, signal); } catch { /* gone */ } },
  };
}

/** Waits until `p` printed a line matching `re` after `mark`; fails early when it exits. */
export async function printed(p: Proc, re: RegExp, ms: number, mark = 0): Promise<string> {
  let gone = false;
  void p.exited.then(() => { gone = true; });
  const deadline = Date.now() + ms;
  for (;;) {
    const line = p.since(mark).split('\n').find((l) => re.test(l));
    if (line !== undefined) return line;
    if (gone) throw new Error(`${p.name} exited before printing ${re}:\n${p.output().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`${p.name} did not print ${re} within ${ms} ms:\n${p.output().slice(-4000)}`);
    await sleep(25);
  }
}

export interface ClawCluster {
  nodes: (Proc & { node: string; port: number; wsUrl: string })[];
  backend: Proc & { httpUrl: string; httpPort: number };
  secrets: ReturnType<typeof loadOrCreateSecrets>;
  dataDir: string;
  /** Stops everything still running (SIGTERM, SIGKILL after 8 s). */
  stop(): Promise<void>;
}

export interface ClawClusterOptions {
  dataDir: string;
  natsUrl: string;
  nodes: number;
  machines: string[];
  /** The backend connects to this node (0-based). */
  backendNode: number;
  /** Merged into the backend's config (short timings). */
  backend?: Record<string, unknown>;
  logLevel?: string;
}

async function stopAll(procs: Proc[]): Promise<void> {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(8000)]);
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

/**
 * Router nodes n1..nN (the claw realm, one config file for all) and the
 * backend on node `backendNode` with its own HTTP port for POST /api/session.
 * Resolves once every node sees the others and the backend is connected.
 */
export async function startClawCluster(o: ClawClusterOptions): Promise<ClawCluster> {
  const secrets = loadOrCreateSecrets(o.dataDir);
  const claws = Object.fromEntries(o.machines.map((m) => [m, [machineKey(o.dataDir, m).key.publicKey]]));
  const routerFile = join(o.dataDir, 'router.json');
  writeFileSync(routerFile, JSON.stringify(loadClawRouterConfig({ port: 0, host: '127.0.0.1', claws })));
  // As system.ts: the secrets reach the router through the environment (the config names the variables).
  const env = {
    CLAWGATE_TICKET_SECRET: secrets.ticketSecret,
    CLAWGATE_BACKEND_CRA_KEY: deriveCraKey(secrets.backendSecret, 'clawgate-backend', 1000, 32),
    CLAWGATE_OPERATOR_CRA_KEY: deriveCraKey(secrets.operatorSecret, 'clawgate-operator', 1000, 32),
  };
  const procs: Proc[] = [];
  const stop = (): Promise<void> => stopAll(procs);
  try {
    // All at once (each claims its name and slot by compare-and-swap): the start is most of this fixture's time.
    const nodes: ClawCluster['nodes'] = await Promise.all(Array.from({ length: o.nodes }, async (_, k) => {
      const i = k + 1;
      const p = spawnProc(`router n${i}`, [BIN.router, '--config', routerFile, '--node', `n${i}`, '--nats', o.natsUrl, '--log-level', 'info'], env);
      procs.push(p);
      const line = await printed(p, /"router started"/, 45_000);
      const port = Object.values((JSON.parse(line) as { ports: Record<string, number> }).ports)[0]!;
      return Object.assign(p, { node: `n${i}`, port, wsUrl: `ws://127.0.0.1:${port}/ws` });
    }));
    await allSee(nodes.map((n) => n.port));

    const httpPort = await freePort();
    const backendFile = join(o.dataDir, 'backend.json');
    writeFileSync(backendFile, JSON.stringify({
      router: { url: nodes[o.backendNode]!.wsUrl, realm: 'claw', auth: { method: 'wampcra', authid: 'backend', secret: secrets.backendSecret }, reconnect: { initialDelaySeconds: 0.2, maxDelaySeconds: 1 } },
      database: { path: join(o.dataDir, 'clawgate.sqlite') },
      tickets: { secret: secrets.ticketSecret },
      http: { port: httpPort, host: '127.0.0.1' },
      logLevel: o.logLevel ?? 'info',
      ...o.backend,
    }));
    const b = spawnProc('backend', [BIN.backend, '--config', backendFile]);
    procs.push(b);
    const backend = Object.assign(b, { httpPort, httpUrl: `http://127.0.0.1:${httpPort}/` });
    await backendHealthy(backend, 30_000);
    return { nodes, backend, secrets, dataDir: o.dataDir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A claw node process for `machine` (simulated), connecting to `url`. */
export function spawnClaw(dataDir: string, machine: string, url: string, extra: Record<string, unknown> = {}): Proc {
  const file = join(dataDir, `claw-${machine}.json`);
  writeFileSync(file, JSON.stringify({
    router: { url, realm: 'claw', auth: 'cryptosign' },
    machine,
    key: machineKey(dataDir, machine).path,
    driver: 'simulated',
    logLevel: 'info',
    ...extra,
  }));
  return spawnProc(`claw node ${machine}`, [BIN.claw, '--config', file]);
}

/** The backend's own /health says ok (200): connected to its router, store open. */
export async function backendHealthy(b: ClawCluster['backend'], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${b.httpPort}/health`).then((r) => r.status === 200, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the backend's /health not ok within ${ms} ms:\n${b.output().slice(-4000)}`);
    await sleep(50);
  }
}

/** Every node's /health lists all the nodes. */
async function allSee(ports: number[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const sizes = await Promise.all(ports.map(async (p) => {
      const r = await fetch(`http://127.0.0.1:${p}/health`).then((x) => x.json() as Promise<{ cluster?: { nodes?: unknown[] } }>, () => undefined);
      return r?.cluster?.nodes?.length ?? 0;
    }));
    if (sizes.every((s) => s === ports.length)) return;
    if (Date.now() > deadline) throw new Error(`the router nodes did not see each other within 15 s: ${sizes.join(', ')}`);
    await sleep(50);
  }
}
