// A manual clock for tests: time moves only when advance() is called, and due
// timers run in time order (timers scheduled while advancing run too when
// they fall due inside the advanced span).
import type { Clock, TimerHandle } from './clock.js';

interface Pending { id: number; at: number; seq: number; fn: () => void }

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, Pending>();
  private nextId = 1;

  constructor(start = 1_700_000_000_000) { this.t = start; }

  now(): number { return this.t; }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), seq: this.seq++, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.timers.delete(handle.id);
  }

  /** Number of timers still pending. */
  get pending(): number { return this.timers.size; }

  private nextDue(until: number): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.timers.values()) {
      if (p.at > until) continue;
      if (best === undefined || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    return best;
  }

  /**
   * Moves time forward by ms, running due timers in order. Between timers it
   * lets promise callbacks run, so code that awaits a pulse continues at the
   * simulated instant it was resolved.
   */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      await flushMicrotasks();
      const p = this.nextDue(until);
      if (p === undefined) break;
      this.timers.delete(p.id);
      this.t = p.at;
      p.fn();
    }
    this.t = until;
    await flushMicrotasks();
  }
}

/** Lets every queued promise callback (and those they queue) run. */
export async function flushMicrotasks(): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
}
