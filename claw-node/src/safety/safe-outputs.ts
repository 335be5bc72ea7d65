// The only writer of output lines. Whatever the turn logic, the network or a
// bug asks for, what reaches the lines obeys these rules:
// - opposite directions are never asserted together (a new direction
//   releases its opposite first, and a write that would violate this throws);
// - a direction not refreshed within the hold timeout is released (dead man);
// - coin and drop are fixed-length pulses with a minimum gap between two
//   pulses of the same line, timed here, never "held until told";
// - no direction moves while a drop pulse is pending or running;
// - releaseAll() de-asserts everything and cancels every timer and pending
//   pulse; disarm() does that and refuses writes until arm().
import { OUTPUTS, type Direction, type OutputName } from '@clawgate/protocol';
import type { Clock, TimerHandle } from '../clock.js';
import type { GpioDriver, Unwatch } from '../gpio/driver.js';
import { opposite, pulseStart, violatesInterlock, type PulseName } from './rules.js';

export interface SafetyTimings {
  holdTimeoutMs: number;
  coinPulseMs: number;
  coinGapMs: number;
  dropPulseMs: number;
  dropGapMs: number;
}

export type Levels = Record<OutputName, boolean>;

interface PulseState {
  lastEnd: number;
  timer?: TimerHandle;
  active: boolean;
  promise?: Promise<boolean>;
  resolve?: (completed: boolean) => void;
}

export class InterlockError extends Error {
  override readonly name = 'InterlockError';
}

export class SafeOutputs {
  private readonly levelsNow: Levels = Object.fromEntries(OUTPUTS.map((n) => [n, false])) as Levels;
  private readonly deadMan = new Map<Direction, TimerHandle>();
  private readonly pulses: Record<PulseName, PulseState> = {
    coin: { lastEnd: -Infinity, active: false },
    drop: { lastEnd: -Infinity, active: false },
  };
  private readonly listeners = new Set<(levels: Levels) => void>();
  private armedNow = false;
  /** Dead-man releases so far (a sign of a lost or slow player). */
  deadManReleases = 0;

  constructor(
    private readonly driver: GpioDriver,
    private readonly clock: Clock,
    private readonly timings: SafetyTimings,
    private readonly onError: (e: Error) => void = () => {},
  ) {}

  get armed(): boolean { return this.armedNow; }

  levels(): Levels { return { ...this.levelsNow }; }

  allReleased(): boolean { return OUTPUTS.every((n) => !this.levelsNow[n]); }

  onChange(listener: (levels: Levels) => void): Unwatch {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  arm(): void { this.armedNow = true; }

  /** Releases everything and refuses further writes until arm(). */
  disarm(): boolean {
    this.armedNow = false;
    return this.releaseAll();
  }

  /** Asserts a direction (releasing its opposite first) and (re)starts its dead-man timer. */
  hold(dir: Direction): boolean {
    if (!this.armedNow || this.dropBusy()) return false;
    const opp = opposite(dir);
    if (this.levelsNow[opp]) this.release(opp);
    this.write(dir, true);
    this.clock.clearTimeout(this.deadMan.get(dir));
    this.deadMan.set(dir, this.clock.setTimeout(() => {
      this.deadMan.delete(dir);
      this.deadManReleases++;
      this.guarded(() => this.write(dir, false));
    }, this.timings.holdTimeoutMs));
    return true;
  }

  release(dir: Direction): void {
    this.clock.clearTimeout(this.deadMan.get(dir));
    this.deadMan.delete(dir);
    this.write(dir, false);
  }

  releaseDirections(): void {
    for (const d of ['up', 'down', 'left', 'right'] as const) this.release(d);
  }

  /**
   * A fixed-length pulse. Resolves true when it completed, false when it was
   * cut short or never started (releaseAll, disarmed). Asking again while a
   * pulse of that line is pending or running returns the same promise.
   */
  pulse(name: PulseName): Promise<boolean> {
    const p = this.pulses[name];
    if (p.promise) return p.promise;
    if (!this.armedNow) return Promise.resolve(false);
    if (name === 'drop') this.releaseDirections();
    const length = name === 'coin' ? this.timings.coinPulseMs : this.timings.dropPulseMs;
    const gap = name === 'coin' ? this.timings.coinGapMs : this.timings.dropGapMs;
    p.promise = new Promise<boolean>((resolve) => { p.resolve = resolve; });
    const begin = () => {
      p.timer = undefined;
      try {
        this.write(name, true);
      } catch (e) {
        this.finishPulse(name, false);
        this.onError(e as Error);
        this.releaseAll();
        return;
      }
      p.active = true;
      p.timer = this.clock.setTimeout(() => {
        p.timer = undefined;
        this.guarded(() => this.write(name, false));
        this.finishPulse(name, true);
      }, length);
    };
    const now = this.clock.now();
    const start = pulseStart(now, p.lastEnd, gap);
    if (start <= now) begin();
    else p.timer = this.clock.setTimeout(begin, start - now);
    return p.promise;
  }

  /**
   * De-asserts every output and cancels dead-man timers and pulses. Tries
   * every line even when one fails; returns whether all are known released.
   */
  releaseAll(): boolean {
    for (const t of this.deadMan.values()) this.clock.clearTimeout(t);
    this.deadMan.clear();
    for (const name of ['coin', 'drop'] as const) {
      const p = this.pulses[name];
      if (p.timer) { this.clock.clearTimeout(p.timer); p.timer = undefined; }
      if (p.promise) this.finishPulse(name, false);
    }
    let driverOk = true;
    try { this.driver.releaseAll(); } catch (e) { driverOk = false; this.onError(e as Error); }
    for (const name of OUTPUTS) {
      if (this.levelsNow[name] || !driverOk) this.guarded(() => this.write(name, false));
    }
    return this.allReleased();
  }

  private dropBusy(): boolean {
    return this.pulses.drop.promise !== undefined;
  }

  private finishPulse(name: PulseName, completed: boolean): void {
    const p = this.pulses[name];
    if (p.active) p.lastEnd = this.clock.now();
    p.active = false;
    const resolve = p.resolve;
    p.promise = undefined;
    p.resolve = undefined;
    resolve?.(completed);
  }

  private guarded(fn: () => void): void {
    try { fn(); } catch (e) { this.onError(e as Error); }
  }

  private write(name: OutputName, asserted: boolean): void {
    if (violatesInterlock(this.levelsNow, name, asserted)) {
      throw new InterlockError(`refusing to assert "${name}" while its opposite is asserted`);
    }
    const before = this.levelsNow[name];
    try {
      this.driver.set(name, asserted);
      this.levelsNow[name] = asserted;
    } catch (e) {
      // The line's real level is unknown now: count it as asserted so the
      // node does not call itself released (or ready) until a release works.
      this.levelsNow[name] = true;
      this.emit();
      throw e;
    }
    if (before !== asserted) this.emit();
  }

  private emit(): void {
    const snapshot = this.levels();
    for (const l of this.listeners) {
      try { l(snapshot); } catch (e) { this.onError(e as Error); }
    }
  }
}
