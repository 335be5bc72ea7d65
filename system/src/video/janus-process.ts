// Janus as a child of `npm start -- --video`: its config generated into a
// folder of the data directory, started, watched, and started again (same
// port, same secrets) with growing delays when it dies; stopped with SIGTERM,
// then SIGKILL. Finding Janus's folders and our free port is done here; what
// goes into the files is janus-config.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { janusConfigFiles } from './janus-config.js';
import { freePort } from '@clawgate/runtime/free-port';

export interface JanusProcessOptions {
  binary: string;
  /** Created and emptied; holds the generated config. */
  dir: string;
  /** ICE ports towards viewers. */
  rtpPortRange: string;
  iceEnforceList?: string | undefined;
  log: (msg: string) => void;
}

export interface JanusProcess {
  /** ws://127.0.0.1:<port> */
  readonly url: string;
  readonly apiSecret: string;
  readonly adminKey: string;
  /** The running process's id (changes on restart). */
  readonly pid: number | undefined;
  readonly restarts: number;
  /** No more restarts (the system is stopping: a Ctrl-C reaches Janus too, as one process group). */
  stopRestarting(): void;
  stop(): Promise<void>;
}

/** A program on PATH (or an absolute path), or undefined. */
export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Janus's plugin and transport folders, from the package's own janus.jcfg or the usual places. */
export function janusFolders(): { plugins: string; transports: string } | undefined {
  const candidates: { plugins: string; transports: string }[] = [];
  for (const cfg of ['/etc/janus/janus.jcfg', '/usr/local/etc/janus/janus.jcfg', '/opt/janus/etc/janus/janus.jcfg']) {
    if (!existsSync(cfg)) continue;
    const text = readFileSync(cfg, 'utf8');
    const p = /^\s*plugins_folder\s*=\s*"([^"]+)"/m.exec(text)?.[1];
    const t = /^\s*transports_folder\s*=\s*"([^"]+)"/m.exec(text)?.[1];
    if (p && t) candidates.push({ plugins: p, transports: t });
  }
  for (const lib of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib/arm-linux-gnueabihf', '/usr/lib', '/usr/local/lib', '/opt/janus/lib']) {
    candidates.push({ plugins: join(lib, 'janus', 'plugins'), transports: join(lib, 'janus', 'transports') });
  }
  return candidates.find((c) => existsSync(join(c.plugins, 'libjanus_streaming.so')) && existsSync(join(c.transports, 'libjanus_websockets.so')));
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startJanus(o: JanusProcessOptions): Promise<JanusProcess> {
  const folders = janusFolders();
  if (folders === undefined) throw new Error('Janus\'s streaming plugin and WebSocket transport were not found (apt-get install janus)');
  rmSync(o.dir, { recursive: true, force: true });
  const empty = join(o.dir, 'none');
  mkdirSync(empty, { recursive: true, mode: 0o700 });
  const wsPort = await freePort();
  const apiSecret = randomBytes(18).toString('base64url');
  const adminKey = randomBytes(18).toString('base64url');
  const files = janusConfigFiles({
    dir: o.dir, emptyDir: empty, pluginsFolder: folders.plugins, transportsFolder: folders.transports,
    plugins: readdirSync(folders.plugins), transports: readdirSync(folders.transports),
    wsPort, apiSecret, adminKey, rtpPortRange: o.rtpPortRange, iceEnforceList: o.iceEnforceList, debugLevel: 3,
  });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(o.dir, name), text, { mode: 0o600 });

  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let delay = 250;
  let retry: NodeJS.Timeout | undefined;
  let tail: string[] = [];
  const run = (): ChildProcess => {
    const c = spawn(o.binary, ['-F', o.dir, '-C', join(o.dir, 'janus.jcfg'), '-o'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => { tail = [...tail, ...d.toString().split('\n').filter((l) => l.trim() !== '')].slice(-8); };
    c.stdout!.on('data', keep);
    c.stderr!.on('data', keep);
    c.on('error', (e) => o.log(`janus: ${e.message}`));
    c.on('exit', (code, signal) => {
      if (child !== c) return;
      child = undefined;
      if (stopping) return;
      o.log(`janus exited (${signal ?? `code ${code}`}); starting it again in ${delay} ms${tail.length ? `; it said: ${tail.slice(-3).join(' | ')}` : ''}`);
      retry = setTimeout(() => {
        restarts++;
        child = run();
      }, delay);
      delay = Math.min(5000, delay * 2);
    });
    return c;
  };
  child = run();
  const deadline = Date.now() + 15_000;
  while (!(await accepting(wsPort))) {
    if (child === undefined && restarts === 0 && retry === undefined) break;
    if (Date.now() > deadline) break;
    await sleep(50);
  }
  if (!(await accepting(wsPort))) {
    stopping = true;
    clearTimeout(retry);
    child?.kill('SIGKILL');
    throw new Error(`janus did not open its API on 127.0.0.1:${wsPort}${tail.length ? `: ${tail.join(' | ')}` : ''}`);
  }
  // Running long enough resets the backoff.
  const steady = setInterval(() => { if (child !== undefined) delay = 250; }, 30_000);
  steady.unref();

  return {
    url: `ws://127.0.0.1:${wsPort}`,
    apiSecret, adminKey,
    get pid() { return child?.pid; },
    get restarts() { return restarts; },
    stopRestarting() { stopping = true; clearTimeout(retry); },
    async stop() {
      stopping = true;
      clearTimeout(retry);
      clearInterval(steady);
      const c = child;
      if (c === undefined || c.exitCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
