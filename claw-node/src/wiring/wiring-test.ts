// The wiring check behind `clawgate-claw test`: runs steps (steps.ts) on the
// real lines, every write through the safety layer (SafeOutputs: interlock,
// dead man, fixed pulses with their gaps), exactly as a turn would drive them.
// A jog longer than the hold timeout is refreshed as a player's client would;
// when the check stops (done, error, Ctrl-C) every output is released.
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { GpioDriver } from '../gpio/driver.js';
import { SafeOutputs, type Levels, type SafetyTimings } from '../safety/safe-outputs.js';
import type { Step } from './steps.js';

export interface WiringTestOptions {
  timings: SafetyTimings;
  clock?: Clock;
  /** One line per step: what was done, and what was read. */
  say: (line: string) => void;
  /** Every change of an output line as the safety layer wrote it (`+ms name on|off`). */
  trace?: (line: string) => void;
}

export class WiringTest {
  private readonly clock: Clock;
  private readonly safe: SafeOutputs;
  private readonly t0: number;
  private aborted = false;
  private wake: (() => void) | undefined;
  private readonly errors: string[] = [];

  constructor(private readonly driver: GpioDriver, private readonly opts: WiringTestOptions) {
    this.clock = opts.clock ?? systemClock;
    this.t0 = this.clock.now();
    this.safe = new SafeOutputs(driver, this.clock, opts.timings, (e) => this.errors.push(e.message));
    this.safe.releaseAll();
    if (opts.trace) {
      const trace = opts.trace;
      let before: Levels = this.safe.levels();
      this.safe.onChange((now) => {
        for (const name of Object.keys(now) as (keyof Levels)[]) {
          if (now[name] !== before[name]) trace(`${this.stamp()} ${name} ${now[name] ? 'on' : 'off'}`);
        }
        before = now;
      });
    }
    this.safe.arm();
  }

  /** Runs the steps in order; false when one failed (the rest are skipped) or the check was aborted. */
  async run(steps: readonly Step[]): Promise<boolean> {
    for (const step of steps) {
      if (this.aborted) return false;
      try {
        await this.step(step);
      } catch (e) {
        this.safe.releaseAll();
        this.opts.say(`FAILED: ${(e as Error).message}`);
        return false;
      }
      if (this.errors.length) {
        this.safe.releaseAll();
        this.opts.say(`FAILED: GPIO write failed: ${this.errors.splice(0).join('; ')}`);
        return false;
      }
    }
    return !this.aborted;
  }

  /** Releases every output now and ends the running step (Ctrl-C). */
  abort(): boolean {
    this.aborted = true;
    const released = this.safe.disarm();
    this.wake?.();
    return released;
  }

  /** Releases every output and gives the lines back. */
  close(): void {
    this.abort();
    this.driver.close();
  }

  private stamp(): string {
    return `+${String(this.clock.now() - this.t0).padStart(6)} ms`;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      const done = () => { this.clock.clearTimeout(timer); this.wake = undefined; resolve(); };
      this.wake = done;
      timer = this.clock.setTimeout(done, ms);
    });
  }

  private async step(step: Step): Promise<void> {
    switch (step.kind) {
      case 'jog': {
        if (!this.safe.hold(step.dir)) throw new Error(`${step.dir}: the safety layer refused to assert it`);
        const start = this.clock.now();
        // Refreshed well inside the dead man's timeout, as a player's client does.
        const refresh = Math.max(1, Math.floor(this.opts.timings.holdTimeoutMs / 3));
        while (!this.aborted) {
          const left = step.ms - (this.clock.now() - start);
          if (left <= 0) break;
          await this.sleep(Math.min(left, refresh));
          if (this.aborted || this.clock.now() - start >= step.ms) break;
          if (!this.safe.hold(step.dir)) throw new Error(`${step.dir}: released by the safety layer during the jog`);
        }
        this.safe.release(step.dir);
        this.opts.say(`${step.dir}: on for ${this.clock.now() - start} ms`);
        return;
      }
      case 'pulse': {
        const asked = this.clock.now();
        const completed = await this.safe.pulse(step.name);
        if (!completed) throw new Error(`${step.name}: the pulse was cut short`);
        const length = step.name === 'coin' ? this.opts.timings.coinPulseMs : this.opts.timings.dropPulseMs;
        this.opts.say(`${step.name}: one ${length} ms pulse (done ${this.clock.now() - asked} ms after it was asked, gaps included)`);
        return;
      }
      case 'read':
        this.opts.say(`prize: ${this.driver.read('prize') ? 'asserted' : 'not asserted'}`);
        return;
      case 'watch': {
        const start = this.clock.now();
        let edges = 0;
        // Watching before saying so: whoever reacts to the line below finds the watch in place.
        const unwatch = this.driver.watch('prize', (asserted) => {
          edges++;
          this.opts.say(`prize: ${asserted ? 'asserted' : 'released'} at +${this.clock.now() - start} ms`);
        });
        this.opts.say(`prize: watching for ${step.seconds} s (now ${this.driver.read('prize') ? 'asserted' : 'not asserted'}); drop something through the sensor`);
        try { await this.sleep(step.seconds * 1000); } finally { unwatch(); }
        this.opts.say(`prize: ${edges} edge${edges === 1 ? '' : 's'} in ${step.seconds} s`);
        return;
      }
      case 'wait':
        await this.sleep(step.ms);
        this.opts.say(`waited ${step.ms} ms`);
        return;
    }
  }
}
