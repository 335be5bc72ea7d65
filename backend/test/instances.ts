// Backend instances as real CLI processes (bin/clawgate-backend.js from
// source), each with its own HTTP listener for /health, all on one
// PostgreSQL database and one router: what the fail-over and chaos tests
// kill with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import { freePort } from '@clawgate/runtime/free-port';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendConfigInput } from '../src/config.js';
import type { BackendHealth } from '../src/http/health-route.js';
import { backendConfig, eventually, type TestDatabase } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/clawgate-backend.js', import.meta.url));

export { freePort };

/** Every instance process still running: killed when this process ends, however it ends. */
const live = new Set<ChildProcess>();
const killAll = () => { for (const c of live) { try { c.kill('SIGKILL'); } catch { /* gone */ } } };
process.once('exit', killAll);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => { killAll(); process.exit(1); });

export class Instance {
  child: ChildProcess | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  stderr = '';
  starts = 0;

  /** The /health port of the current (or last) process: a new one at each start. */
  port = 0;

  private constructor(readonly name: string, private readonly config: BackendConfigInput, readonly configFile: string) {}

  static async create(name: string, dir: string, routerUrl: string, db: TestDatabase, extra: Partial<BackendConfigInput> = {}): Promise<Instance> {
    return new Instance(name, backendConfig(routerUrl, db, { logLevel: 'warn', ...extra }), join(dir, `${name}.json`));
  }

  get running(): boolean { return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null; }

  /**
   * Starts the process; with CLAWGATE_TEST_LOGS=<dir> its log lines go to <dir>/<name>.log.
   * Each start takes a fresh free port: a killed instance's old port can be taken by another
   * test file's process before the restart (seen as EADDRINUSE under CI's concurrency).
   */
  async start(): Promise<void> {
    this.port = await freePort();
    writeFileSync(this.configFile, JSON.stringify({ ...this.config, http: { ...this.config.http, port: this.port } }));
    this.starts++;
    const logs = process.env.CLAWGATE_TEST_LOGS;
    const out = logs ? openSync(join(logs, `${this.name}.log`), 'a') : 'ignore';
    const child = spawn(process.execPath, ['--conditions=@clawgate/source', BIN, '--config', this.configFile, ...(logs ? ['--log-level', 'info'] : [])], { stdio: ['ignore', out, 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => { if (this.stderr.length < 50_000) this.stderr += d.toString(); });
    live.add(child);
    this.exited = new Promise((r) => child.on('exit', (code, signal) => { live.delete(child); r({ code, signal }); }));
    this.child = child;
  }

  /** GET /health, or undefined while it does not answer. */
  async health(): Promise<BackendHealth | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}/health`, { signal: AbortSignal.timeout(2000) });
      return await res.json() as BackendHealth;
    } catch { return undefined; }
  }

  /** Started and attached (its /health says ok). */
  async up(timeoutMs = 60_000): Promise<BackendHealth> {
    return eventually(async () => { const h = await this.health(); return h?.status === 'ok' ? h : undefined; }, timeoutMs, `${this.name} up (${this.stderr.slice(-500)})`);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.exited;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}
