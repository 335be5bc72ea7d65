// Processes as Linux's /proc shows them: what the system's data-folder lock
// and the test suites (process groups gone, CPU time used, descendants) read.
// Each returns undefined (or nothing) where there is no /proc.
import { readFileSync, readdirSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat after the command name, so that index 0 is
 * the state (field 3 of proc(5)): index 1 the parent, 2 the process group,
 * 11 and 12 user and system time in clock ticks, 19 the start time. The
 * name is in parentheses and may hold spaces and parentheses itself.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** A zombie (killed, not yet reaped by its parent) or dead: not running, though its pid is still taken. */
export function isZombie(fields: readonly string[]): boolean {
  return fields[0] === 'Z' || fields[0] === 'X';
}

/** The pids /proc lists. */
export function pids(): number[] {
  try {
    return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
  } catch {
    return [];
  }
}

/** The running (not zombie) members of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  return pids().filter((pid) => {
    const f = procStat(pid);
    return f !== undefined && Number(f[2]) === pgid && !isZombie(f);
  });
}

/** CPU time (user + system) process `pid` has used, in ms (clock ticks of 10 ms); NaN when it is gone. */
export function cpuMs(pid: number): number {
  const f = procStat(pid);
  return f === undefined ? Number.NaN : (Number(f[11]) + Number(f[12])) * 10;
}
