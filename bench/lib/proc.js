// Per-process CPU and memory from /proc (Linux). CPU is utime+stime in clock
// ticks (USER_HZ, 100 on every Linux we care about), so the resolution is
// 10 ms: fine for multi-second windows.
import { readFileSync } from 'node:fs';

const HZ = 100;

/** CPU seconds (user+system) consumed so far by pid, or NaN if unreadable. */
export function cpuSeconds(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // after "pid (comm) ": state=f[0], ... utime=f[11], stime=f[12]
    return (Number(f[11]) + Number(f[12])) / HZ;
  } catch {
    return NaN;
  }
}

/** Resident set size in KiB (VmRSS), or NaN. */
export function rssKiB(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Whole-machine CPU ticks: { total, idle, steal } (idle includes iowait). */
export function hostTicks() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, idle: f[3] + f[4], steal: f[7] };
  } catch {
    return { total: NaN, idle: NaN, steal: NaN };
  }
}

/**
 * The CPUs this process may run on (`Cpus_allowed_list`, e.g. "0-1" or "0"), which the processes
 * it starts inherit: `taskset -c 0 node bench/cluster.js` runs the whole topology on one CPU.
 */
export function cpusAllowed() {
  try {
    const m = /Cpus_allowed_list:\s+(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? m[1] : '?';
  } catch {
    return '?';
  }
}
