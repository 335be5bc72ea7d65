// Runs one guest worker: starts the program, logs its output, restarts it by
// its policy with growing delays (a program that dies at once must not spin
// the CPU), and stops it when the node stops: SIGTERM, then SIGKILL after
// stop_timeout. Crossbar starts a guest once and leaves it dead when it
// exits; here `restart` says (default on-failure: a non-zero exit or a
// signal), since a node that runs the arcade's components must keep them up.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { backoffDelay, type Backoff } from '@clawgate/runtime/backoff';
import type { Logger } from '../logger.js';
import { guestEnv, type GuestConfig, type GuestOutput } from './guest-config.js';

/** Restart delays: 1 s doubling to 30 s; reset once a run lasted longer than the longest delay. */
export const GUEST_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** A guest's output line longer than this is cut in the log. */
export const MAX_GUEST_LOG_LINE = 2000;

/** Whether a program that exited with `code`/`signal` is started again. */
export function shouldRestart(policy: GuestConfig['restart'], code: number | null, signal: NodeJS.Signals | null): boolean {
  if (policy === 'always') return true;
  if (policy === 'never') return false;
  return signal !== null || code !== 0;
}

export interface GuestWorkerOptions {
  backoff?: Backoff;
  env?: NodeJS.ProcessEnv;
}

export class GuestWorker {
  private child: ChildProcess | undefined;
  private stopping = false;
  private retry = 0;
  private timer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** How many times the program was started again after exiting. */
  restarts = 0;
  private readonly backoff: Backoff;
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly config: GuestConfig, private readonly log: Logger, opts: GuestWorkerOptions = {}) {
    this.backoff = opts.backoff ?? GUEST_BACKOFF;
    this.env = opts.env ?? process.env;
  }

  /** The running program's pid, if one runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  start(): void {
    if (this.stopping || this.child !== undefined) return;
    const c = this.config;
    const stdio = (o: GuestOutput) => (o === 'close' ? 'ignore' : 'pipe');
    const startedAt = Date.now();
    const child = spawn(c.executable, c.args, {
      cwd: c.workdir,
      env: guestEnv(c, this.env),
      stdio: [c.stdin === 'close' ? 'ignore' : 'pipe', stdio(c.stdout), stdio(c.stderr)],
    });
    this.child = child;
    const fields = { guest: c.id, pid: child.pid, executable: c.executable };
    this.log.info({ ...fields, args: c.args, workdir: c.workdir }, 'guest worker started');
    if (c.stdin !== 'close' && child.stdin) {
      child.stdin.on('error', () => { /* the program closed its stdin: nothing to do */ });
      child.stdin.write(`${c.stdin.json}\n`);
      if (c.stdin.close) child.stdin.end();
    }
    this.output(child.stdout, c.stdout, 'stdout');
    this.output(child.stderr, c.stderr, 'stderr');
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        // spawn failed (the program vanished since the config was read): treated as an exit.
        this.log.error({ ...fields, err: err.message }, 'guest worker could not be started');
        this.exitedWith(child, null, null, startedAt, 1);
        resolve();
      });
      child.on('exit', (code, signal) => {
        this.exitedWith(child, code, signal, startedAt);
        resolve();
      });
    });
  }

  private exitedWith(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, startedAt: number, forcedCode?: number): void {
    if (this.child !== child) return;
    this.child = undefined;
    const c = this.config;
    const exitCode = forcedCode ?? code;
    const again = !this.stopping && shouldRestart(c.restart, exitCode, signal);
    if (Date.now() - startedAt > this.backoff.maxMs) this.retry = 0;
    const delayMs = again ? backoffDelay(this.retry++, this.backoff) : undefined;
    const level = this.stopping || (exitCode === 0 && signal === null) ? 'info' : 'warn';
    this.log[level]({ guest: c.id, code: exitCode, signal, restartInMs: delayMs }, this.stopping ? 'guest worker stopped' : 'guest worker exited');
    if (delayMs !== undefined) {
      this.timer = setTimeout(() => { this.timer = undefined; this.restarts++; this.start(); }, delayMs);
    }
  }

  private output(stream: Readable | null, mode: GuestOutput, name: 'stdout' | 'stderr'): void {
    if (stream === null) return;
    if (mode === 'drop') { stream.resume(); return; }
    // One log record per line, cut at MAX_GUEST_LOG_LINE; readline buffers a partial line only.
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const text = line.length > MAX_GUEST_LOG_LINE ? `${line.slice(0, MAX_GUEST_LOG_LINE)}… (${line.length} characters)` : line;
      this.log.info({ guest: this.config.id, stream: name }, text);
    });
  }

  /** Stops the program (SIGTERM, SIGKILL after stop_timeout) and any pending restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const kill = setTimeout(() => {
      this.log.warn({ guest: this.config.id, pid: child.pid, stopTimeoutMs: this.config.stopTimeoutMs }, 'guest worker did not stop after SIGTERM: SIGKILL');
      child.kill('SIGKILL');
    }, this.config.stopTimeoutMs);
    await this.exited;
    clearTimeout(kill);
  }
}

/** Every guest worker of a config: started together after the router, stopped together before it. */
export class GuestWorkers {
  readonly workers: GuestWorker[];

  constructor(configs: readonly GuestConfig[], log: Logger, opts: GuestWorkerOptions = {}) {
    this.workers = configs.map((c) => new GuestWorker(c, log, opts));
  }

  start(): void {
    for (const w of this.workers) w.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
