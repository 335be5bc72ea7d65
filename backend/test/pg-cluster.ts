// A throwaway PostgreSQL cluster for the tests: initdb into a temp folder,
// the server on a free loopback port (and its socket in that folder), one
// cluster per test process (file), started on first use; a fresh database
// per test. Durability is off (fsync, synchronous_commit): the data is
// thrown away, and the tests measure behaviour, not disks.
//
// PostgreSQL refuses to run as root: as root the binaries run as the
// `postgres` user (Debian's package creates it), with the folder given to it.
// The binaries are found on PATH or in Debian's /usr/lib/postgresql/<v>/bin;
// without them `pgUnavailable()` says why and the PostgreSQL runs are skipped
// (only then: a cluster that cannot start fails the tests).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { freePort } from '@clawgate/runtime/free-port';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const SUPERUSER = 'clawgate';

function findBin(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', name))) return join(base, v, 'bin', name);
  return undefined;
}

interface Runner { uid?: number; gid?: number }

/** Who runs the server: ourselves, or (as root) the postgres user Debian's package creates. */
function runner(): Runner {
  if (process.getuid?.() !== 0) return {};
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
  } catch {
    // Installed, but not as Debian's package does it: a failure to report, not a reason to skip.
    throw new Error('PostgreSQL is installed but we run as root and there is no `postgres` user to run it as (it refuses root)');
  }
}

/**
 * Undefined when PostgreSQL is installed here, else why the PostgreSQL runs
 * are skipped. Only missing binaries skip: anything else that keeps a cluster
 * from starting fails the tests.
 */
export function pgUnavailable(): string | undefined {
  if (!findBin('initdb') || !findBin('postgres')) return 'PostgreSQL is not installed (no initdb/postgres on PATH or in /usr/lib/postgresql/*/bin): apt-get install postgresql';
  return undefined;
}


export class PgCluster {
  private next = 0;
  private constructor(readonly dir: string, readonly port: number, private readonly server: ChildProcess, private readonly exited: Promise<void>) {}

  /** The URL of the server's `postgres` database or of `db`. */
  url(db = 'postgres'): string { return `postgres://${SUPERUSER}@127.0.0.1:${this.port}/${db}`; }

  /** A new, empty database; returns its URL. */
  async createDatabase(prefix = 't'): Promise<string> {
    const name = `${prefix}_${process.pid}_${++this.next}`;
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    try { await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`); } finally { await c.end(); }
    return this.url(name);
  }

  /** Stops the server (fast shutdown, then kill) and removes the folder. */
  async stop(): Promise<void> {
    if (this.server.exitCode === null && this.server.signalCode === null) {
      this.server.kill('SIGINT');
      const timer = setTimeout(() => this.server.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  static async start(): Promise<PgCluster> {
    const why = pgUnavailable();
    if (why) throw new Error(why);
    const run = runner();
    const dir = mkdtempSync(join(tmpdir(), 'clawgate-pg-'));
    if (run.uid !== undefined) chownSync(dir, run.uid, run.gid!);
    const data = join(dir, 'data');
    execFileSync(findBin('initdb')!, ['-D', data, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'], { ...run, stdio: 'pipe', cwd: dir });
    const port = await freePort();
    const server = spawn(findBin('postgres')!, [
      '-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1',
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=300', '-c', 'shared_buffers=32MB', '-c', 'log_min_messages=fatal',
    ], { ...run, stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
    let log = '';
    server.stderr!.on('data', (d: Buffer) => { if (log.length < 20_000) log += d.toString(); });
    const exited = new Promise<void>((r) => server.once('exit', () => r()));
    // If this process goes down without stopping it, the server goes too.
    const kill = () => { try { server.kill('SIGKILL'); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); };
    process.once('exit', kill);
    // tap ends a file that runs too long with a signal, which skips 'exit': the server goes then too.
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => { kill(); process.exit(1); });
    const cluster = new PgCluster(dir, port, server, exited);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = new pg.Client({ connectionString: cluster.url() });
      try { await c.connect(); await c.end(); break; } catch (e) {
        await c.end().catch(() => undefined);
        if (server.exitCode !== null || Date.now() > deadline) { kill(); throw new Error(`PostgreSQL did not start: ${(e as Error).message}\n${log}`); }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return cluster;
  }
}

let shared: Promise<PgCluster> | undefined;

/** This process's cluster (started on first use; stopped with `stopSharedCluster`, or when the process exits). */
export function sharedCluster(): Promise<PgCluster> {
  shared ??= PgCluster.start();
  return shared;
}

export async function stopSharedCluster(): Promise<void> {
  const s = shared;
  shared = undefined;
  if (s) await (await s).stop();
}
