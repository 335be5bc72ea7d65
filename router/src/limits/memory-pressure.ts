// Memory pressure: when the V8 heap passes a high watermark (a fraction of
// V8's heap limit), the router refuses new work (new sessions, SUBSCRIBE,
// REGISTER, retained publications) with clawgate.error.overloaded rather than
// run out of heap and die with every session in it; below the low watermark
// it takes new work again (hysteresis, so it does not flap around one
// value). Every other bound is there to keep the heap far below the mark;
// this is the net under them, for what their product still allows (10,000
// sessions each within its own limits can hold more than one heap).
//
// The heap is read on a timer (v8.getHeapStatistics(), a few µs), never per
// message. The reading includes garbage not yet collected, so a heap can
// look fuller than it is for a moment; refusing new work for a moment then
// is the cheap side of that error.
import v8 from 'node:v8';
import type { MemoryLimits } from './limits-config.js';

/** The next state given the heap's used fraction: enter above high, leave below low. Pure. */
export function nextOverloaded(overloaded: boolean, usedFraction: number, limits: Pick<MemoryLimits, 'heapHighWatermark' | 'heapLowWatermark'>): boolean {
  return overloaded ? usedFraction >= limits.heapLowWatermark : usedFraction >= limits.heapHighWatermark;
}

export interface HeapReading {
  used: number;
  limit: number;
}

export function readHeap(): HeapReading {
  const h = v8.getHeapStatistics();
  return { used: h.used_heap_size, limit: h.heap_size_limit };
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
    private readonly read: () => HeapReading = readHeap,
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
    const heap = this.read();
    this.last = heap;
    const next = nextOverloaded(this.overloaded, heap.used / heap.limit, this.limits);
    if (next === this.overloaded) return;
    this.overloaded = next;
    if (next) this.episodes++;
    this.onChange(next, heap);
  }
}
