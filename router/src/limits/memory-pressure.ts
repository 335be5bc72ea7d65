// Memory pressure: when the V8 heap passes a high watermark (a fraction of
// V8's heap limit), the router refuses new work (new sessions, SUBSCRIBE,
// REGISTER, retained publications) with clawgate.error.overloaded rather than
// run out of heap and die with every session in it; below the low watermark
// it takes new work again (hysteresis, so it does not flap around one
// value). Every other bound is there to keep the heap far below the mark;
// this is the net under them, for what their product still allows (10,000
// sessions each within its own limits can hold more than one heap).
//
// What runs out is the old generation: V8 ends the process when the objects
// that survived its young generation pass the old generation's limit
// (--max-old-space-size). V8's `heap_size_limit` adds the young generation's
// capacity to that, which objects only pass through: 48 MB on Node 20, 192 MB
// on Node 24 (three semi-spaces of 64 MB, whatever the old limit). With a
// small old limit that made the watermark unreachable on Node 24: at 128 MB
// the limit read 320 MB, and the heap died at 40% of it. So when the process
// was started with --max-old-space-size, the reading is the old generation's
// use against that limit; without it, V8 sized both generations from the
// machine's memory, the young one a few percent of the total, and the reading
// is the whole heap against heap_size_limit.
//
// The heap is read on a timer (v8.getHeapStatistics(), a few µs), never per
// message. That reading includes garbage not yet collected, so whenever it
// is at or above the high watermark (or the router is overloaded) the
// router runs a full collection and reads again before it decides: without
// that, a heap full of garbage would refuse work it could take, and, worse,
// an overloaded router would stay so, since V8 collects the old generation
// only under allocation and a router that refuses work hardly allocates
// (measured: still "full" 60 s after the attacker had left). The collection
// costs tens of ms on a heap of a few hundred MB, at most once per check
// interval and only while the heap is that full.
import v8 from 'node:v8';
import vm from 'node:vm';
import type { MemoryLimits } from './limits-config.js';

/** The next state given the heap's used fraction: enter above high, leave below low. Pure. */
export function nextOverloaded(overloaded: boolean, usedFraction: number, limits: Pick<MemoryLimits, 'heapHighWatermark' | 'heapLowWatermark'>): boolean {
  return overloaded ? usedFraction >= limits.heapLowWatermark : usedFraction >= limits.heapHighWatermark;
}

export interface HeapReading {
  used: number;
  limit: number;
}

/**
 * The old generation's limit in bytes that the process was started with
 * (`--max-old-space-size=MB` on the command line or in NODE_OPTIONS; the
 * command line wins, as in Node), or undefined. Pure.
 */
export function oldSpaceLimit(execArgv: readonly string[], nodeOptions: string | undefined): number | undefined {
  const args = [...(nodeOptions?.trim().split(/\s+/) ?? []), ...execArgv];
  let mb: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const m = /^--max[-_]old[-_]space[-_]size(?:=(.*))?$/.exec(args[i]!);
    if (m === null) continue;
    const value = m[1] ?? args[i + 1];
    if (value !== undefined && /^\d+$/.test(value) && Number(value) > 0) mb = Number(value);
  }
  return mb === undefined ? undefined : mb * 1024 * 1024;
}

const OLD_SPACE_LIMIT = oldSpaceLimit(process.execArgv, process.env.NODE_OPTIONS);

/** The heap's use and limit (above: the old generation's when its limit is known). */
export function readHeap(oldLimit: number | undefined = OLD_SPACE_LIMIT): HeapReading {
  const h = v8.getHeapStatistics();
  if (oldLimit === undefined) return { used: h.used_heap_size, limit: h.heap_size_limit };
  let young = 0;
  for (const space of v8.getHeapSpaceStatistics()) if (space.space_name.startsWith('new_')) young += space.space_used_size;
  return { used: h.used_heap_size - young, limit: Math.min(oldLimit, h.heap_size_limit) };
}

let gcFunction: (() => void) | null | undefined;

/**
 * V8's full collection, made reachable without starting node with
 * --expose-gc: the flag set at run time exposes `gc` to contexts created
 * after it (not to the application's own global). Null if that fails.
 */
export function fullCollection(): (() => void) | null {
  if (gcFunction === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const fn: unknown = vm.runInNewContext('gc');
      gcFunction = typeof fn === 'function' ? (fn as () => void) : null;
    } catch {
      gcFunction = null;
    }
  }
  return gcFunction;
}

/** The heap after a full collection when it looks full, else the cheap reading. */
export function readHeapCollecting(high: number, overloaded: boolean): HeapReading {
  const first = readHeap();
  if (!overloaded && first.used / first.limit < high) return first;
  const gc = fullCollection();
  if (gc === null) return first;
  gc();
  return readHeap();
}

export class MemoryPressure {
  overloaded = false;
  /** The last reading (for metrics). */
  last: HeapReading = { used: 0, limit: 1 };
  /** Times the router entered the overloaded state. */
  episodes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly limits: MemoryLimits,
    private readonly onChange: (overloaded: boolean, heap: HeapReading) => void,
    private readonly read: (overloaded: boolean) => HeapReading = (overloaded) => readHeapCollecting(limits.heapHighWatermark, overloaded),
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.check();
    this.timer = setInterval(() => this.check(), this.limits.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  check(): void {
    const heap = this.read(this.overloaded);
    this.last = heap;
    const next = nextOverloaded(this.overloaded, heap.used / heap.limit, this.limits);
    if (next === this.overloaded) return;
    this.overloaded = next;
    if (next) this.episodes++;
    this.onChange(next, heap);
  }
}
