// A claw machine for development, tests and the demo, played through the
// simulated GPIO driver exactly as a real cabinet is played through relays:
// a coin pulse gives a credit; while credited, held direction lines move the
// claw; a drop pulse lowers it, it closes (catching the nearest prize with a
// probability that depends on how well it is centred), rises, returns to the
// chute and lets go; a delivered prize pulses the prize input.
import type { Direction } from '@clawgate/protocol';
import type { Clock, TimerHandle } from '../clock.js';
import type { SimulatedDriver } from '../gpio/simulated-driver.js';
import { seededRng, type Rng } from '../rng.js';
import { grabProbability, moveClaw, nearest, stepTowards, type Point } from './physics.js';

export interface SimulatorOptions {
  seed: number;
  /** Box widths per second. */
  speed: number;
  prizes: number;
  /** Beyond this distance from a prize's centre the claw never catches it. */
  prizeRadius: number;
  /** Chance of a catch dead centre. */
  maxGrabProbability: number;
  lowerMs: number;
  grabMs: number;
  raiseMs: number;
  releaseMs: number;
  /** How long a delivered prize holds the prize input asserted. */
  prizePulseMs: number;
  tickMs: number;
}

export const DEFAULT_SIMULATOR: SimulatorOptions = {
  seed: 1, speed: 0.4, prizes: 8, prizeRadius: 0.09, maxGrabProbability: 0.8,
  lowerMs: 1200, grabMs: 400, raiseMs: 1200, releaseMs: 300, prizePulseMs: 150, tickMs: 20,
};

export type ClawPhase = 'idle' | 'lowering' | 'grabbing' | 'raising' | 'returning' | 'releasing';

export interface ClawSnapshot {
  x: number; y: number; z: number; holding: boolean; phase: ClawPhase; credit: boolean;
  /** Counts changes of the prizes lying in the box (a catch, a new prize): a listener sees when to send them. */
  prizesVersion: number;
}

export interface Prize extends Point { id: number }

const HOME: Point = { x: 0, y: 0 };

export class SimulatedMachine {
  private readonly rng: Rng;
  private pos: Point = { ...HOME };
  private z = 1;
  private holding = false;
  private phaseNow: ClawPhase = 'idle';
  private phaseMs = 0;
  private credit = false;
  private prizeList: Prize[] = [];
  private nextPrize = 1;
  private prizesVersion = 0;
  private stepping = false;
  private timer: TimerHandle | undefined;
  private prizeTimer: TimerHandle | undefined;
  private readonly unwatch: () => void;
  private readonly listeners = new Set<(s: ClawSnapshot) => void>();
  /** Prizes delivered to the chute so far. */
  delivered = 0;
  /** Drops so far, and grabs attempted (with their probability), for tests. */
  readonly grabs: { d: number; p: number; caught: boolean }[] = [];

  constructor(
    private readonly driver: SimulatedDriver,
    private readonly clock: Clock,
    private readonly opts: SimulatorOptions = DEFAULT_SIMULATOR,
  ) {
    this.rng = seededRng(opts.seed);
    for (let i = 0; i < opts.prizes; i++) this.spawnPrize();
    this.unwatch = driver.onOutput((name, asserted) => {
      if (!asserted) return;
      if (name === 'coin') { this.credit = true; this.emit(); }
      if (name === 'drop' && this.phaseNow === 'idle' && this.credit) { this.credit = false; this.enter('lowering'); }
    });
  }

  start(): void {
    if (this.timer) return;
    // Steps by the time that really passed, so a busy event loop slows the
    // frame rate, not the cabinet (the turn's timers run on the same clock).
    let last = this.clock.now();
    const tick = () => {
      const now = this.clock.now();
      this.step(now - last);
      last = now;
      this.timer = this.clock.setTimeout(tick, this.opts.tickMs);
    };
    this.timer = this.clock.setTimeout(tick, this.opts.tickMs);
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.clock.clearTimeout(this.prizeTimer);
    this.timer = undefined;
    this.unwatch();
  }

  snapshot(): ClawSnapshot {
    return { x: this.pos.x, y: this.pos.y, z: this.z, holding: this.holding, phase: this.phaseNow, credit: this.credit, prizesVersion: this.prizesVersion };
  }

  prizes(): readonly Prize[] { return this.prizeList; }

  /** Puts a prize at a spot (tests and demos that want a sure catch). */
  placePrize(at: Point): Prize {
    const p = { id: this.nextPrize++, x: at.x, y: at.y };
    this.prizeList.push(p);
    this.prizesChanged();
    return p;
  }

  clearPrizes(): void { this.prizeList = []; this.prizesChanged(); }

  private prizesChanged(): void {
    this.prizesVersion++;
    // From step(), the change is announced with the step's own; outside it (tests, demos) now.
    if (!this.stepping && this.listeners.size > 0) this.emit();
  }

  onChange(listener: (s: ClawSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Advances the model by dtMs (called by the ticker). */
  step(dtMs: number): void {
    this.stepping = true;
    try { this.advance(dtMs); } finally { this.stepping = false; }
  }

  private advance(dtMs: number): void {
    const before = this.snapshot();
    this.phaseMs += dtMs;
    const o = this.opts;
    switch (this.phaseNow) {
      case 'idle': {
        if (!this.credit) break;
        const held = (['up', 'down', 'left', 'right'] as Direction[]).filter((d) => this.driver.output(d));
        if (held.length) this.pos = moveClaw(this.pos, held, o.speed, dtMs);
        break;
      }
      case 'lowering':
        this.z = Math.max(0, 1 - this.phaseMs / o.lowerMs);
        if (this.phaseMs >= o.lowerMs) { this.z = 0; this.enter('grabbing'); this.tryGrab(); }
        break;
      case 'grabbing':
        if (this.phaseMs >= o.grabMs) this.enter('raising');
        break;
      case 'raising':
        this.z = Math.min(1, this.phaseMs / o.raiseMs);
        if (this.phaseMs >= o.raiseMs) { this.z = 1; this.enter('returning'); }
        break;
      case 'returning':
        this.pos = stepTowards(this.pos, HOME, (o.speed * dtMs) / 1000);
        if (this.pos.x === HOME.x && this.pos.y === HOME.y) { this.enter('releasing'); this.letGo(); }
        break;
      case 'releasing':
        if (this.phaseMs >= o.releaseMs) this.enter('idle');
        break;
    }
    const after = this.snapshot();
    if (after.x !== before.x || after.y !== before.y || after.z !== before.z || after.phase !== before.phase || after.holding !== before.holding
      || after.prizesVersion !== before.prizesVersion) this.emit();
  }

  private enter(phase: ClawPhase): void {
    this.phaseNow = phase;
    this.phaseMs = 0;
  }

  private tryGrab(): void {
    const near = nearest(this.pos, this.prizeList);
    if (near === undefined) { this.grabs.push({ d: Infinity, p: 0, caught: false }); return; }
    const p = grabProbability(near.d, this.opts.prizeRadius, this.opts.maxGrabProbability);
    const caught = this.rng() < p;
    this.grabs.push({ d: near.d, p, caught });
    if (caught) {
      this.holding = true;
      this.prizeList = this.prizeList.filter((x) => x !== near.prize);
      this.prizesVersion++;
    }
  }

  private letGo(): void {
    if (!this.holding) return;
    this.holding = false;
    this.delivered++;
    this.spawnPrize();
    this.driver.setInput('prize', true);
    this.prizeTimer = this.clock.setTimeout(() => this.driver.setInput('prize', false), this.opts.prizePulseMs);
  }

  private spawnPrize(): void {
    // Not in the chute corner, so the claw never starts on top of a prize.
    this.placePrize({ x: 0.15 + this.rng() * 0.8, y: 0.15 + this.rng() * 0.8 });
  }

  private emit(): void {
    const s = this.snapshot();
    for (const l of this.listeners) l(s);
  }
}
