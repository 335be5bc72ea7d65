// One running system per data folder. Two launchers on the same folder would
// silently share one SQLite database (two queue services writing the same
// queues), one set of secrets and keys: the second must refuse to start and
// name the first.
//
// `<data>/clawgate.lock` holds the owner's pid, the start time of that pid on
// this host (Linux: /proc/<pid>/stat, so a recycled pid is not mistaken for
// the owner), the host name and the command line. A lock whose process is
// gone (kill -9, a power cut) is stale and taken over; a lock of a living
// process refuses the start with a message that says how to check. The file
// appears atomically with its whole content (written aside, then hard-linked
// into place), so a reader never sees it half written.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { isZombie, procStat } from '@clawgate/runtime/proc';

export const LOCK_FILE = 'clawgate.lock';

export interface LockOwner {
  pid: number;
  /** /proc/<pid>/stat's start time (clock ticks since boot), where there is a /proc. */
  startTime?: number | undefined;
  host: string;
  startedAt: string;
  command: string;
}

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(readonly file: string, readonly owner: LockOwner | undefined, message: string) { super(message); }
}

export interface DataDirLock {
  readonly file: string;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): void;
}

/** Field 22 of /proc/<pid>/stat, or undefined without a /proc (or without that process). */
export function processStartTime(pid: number): number | undefined {
  const v = Number(procStat(pid)?.[19]);
  return Number.isFinite(v) ? v : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
  // A killed process is a zombie until its parent reaps it: dead all the same.
  const fields = procStat(pid);
  return fields === undefined || !isZombie(fields); // no /proc: kill(0) is all we know
}

/** Why the lock's owner is gone, or undefined while it may still run. Pure except for the two probes. */
export function staleReason(owner: LockOwner, probe = { host: hostname(), alive, startTime: processStartTime }): string | undefined {
  if (owner.host !== probe.host) return undefined; // another machine's process (a shared folder): we cannot tell
  if (!probe.alive(owner.pid)) return `process ${owner.pid} is gone`;
  if (owner.startTime !== undefined) {
    const now = probe.startTime(owner.pid);
    if (now !== undefined && now !== owner.startTime) return `pid ${owner.pid} now belongs to another process`;
  }
  return undefined;
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return undefined;
    return { pid: v.pid, startTime: v.startTime, host: v.host, startedAt: String(v.startedAt ?? '?'), command: String(v.command ?? '?') };
  } catch {
    return undefined;
  }
}

function lockedMessage(dir: string, file: string, owner: LockOwner | undefined): string {
  if (owner === undefined) {
    return `the data folder ${dir} is locked by ${file}, which cannot be read. If no other clawgate uses this folder, delete that file and start again.`;
  }
  const where = owner.host === hostname() ? `process ${owner.pid}` : `process ${owner.pid} on host ${owner.host}`;
  return `the data folder ${dir} is in use by another running ClawGate: ${where} (started ${owner.startedAt}: ${owner.command}). `
    + 'Stop it first, or give this one its own folder (--data <dir>). '
    + `If you are sure that process is not a ClawGate any more (\`ps -p ${owner.pid} -o pid,lstart,args\` on ${owner.host}), delete ${file}.`;
}

/**
 * Takes `<dir>/clawgate.lock` for this process, taking over a stale one;
 * throws DataDirLockedError when another living process holds it.
 */
export function lockDataDir(dir: string, now: () => Date = () => new Date()): DataDirLock {
  const file = join(dir, LOCK_FILE);
  const me: LockOwner = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    host: hostname(),
    startedAt: now().toISOString(),
    command: [process.argv0, ...process.argv.slice(1)].join(' ').slice(0, 300),
  };
  const mine = `${JSON.stringify(me)}\n`;
  const aside = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(aside, mine, { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(aside, file); // fails with EEXIST while a lock is there
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = readOwner(file);
      if (owner?.pid === process.pid && owner.host === me.host) {
        throw new DataDirLockedError(file, owner, `the data folder ${dir} is already used by a system in this process`);
      }
      const stale = owner !== undefined ? staleReason(owner) : undefined;
      if (stale === undefined || attempt >= 3) throw new DataDirLockedError(file, owner, lockedMessage(dir, file, owner));
      // Move the stale lock aside and check that it is the one we judged: two
      // launchers starting at once may both find it stale; the loser of the
      // race has moved the winner's fresh lock and puts it back.
      const moved = `${file}.stale.${process.pid}`;
      try {
        renameSync(file, moved);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const was = readOwner(moved);
      if (was !== undefined && (was.pid !== owner!.pid || was.startedAt !== owner!.startedAt)) {
        try { linkSync(moved, file); } catch { /* someone else is in place already: they decide */ }
      }
      unlinkSync(moved);
    }
  } finally {
    unlinkSync(aside);
  }
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      const owner = readOwner(file);
      if (owner?.pid === process.pid && owner.startedAt === me.startedAt) {
        try { unlinkSync(file); } catch { /* already gone */ }
      }
    },
  };
}
