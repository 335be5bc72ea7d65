// Real GPIO through node-libgpiod (libgpiod 1.x character-device API). The
// module is an optional dependency: it is loaded only when this driver is
// asked for, and every way that can fail ends in a GpioUnavailableError that
// says what to install or which chip/line is wrong.
import { createRequire } from 'node:module';
import type { InputName, OutputName } from '@clawgate/protocol';
import { GpioLineBusyError, GpioUnavailableError, type Bias, type EdgeListener, type GpioDriver, type InputSpec, type LineSpec, type OutputSpec, type Unwatch } from './driver.js';

/** The parts of node-libgpiod we use (its own typings only exist when it is installed). */
export interface LibgpiodModule {
  version: string;
  getChipNames(): string[];
  Chip: new (identifier: number | string) => LibgpiodChip;
  Line: { new (chip: LibgpiodChip, offset: number): LibgpiodLine; RequestFlags: Record<'ACTIVE_LOW' | 'BIAS_DISABLE' | 'BIAS_PULL_DOWN' | 'BIAS_PULL_UP', number> };
}
export interface LibgpiodChip { readonly name: string; readonly numberOfLines: number }
export interface LibgpiodLine {
  readonly consumer: string;
  getValue(): number;
  setValue(v: number): void;
  requestOutputModeFlags(consumer: string, flags: number, defaultValue?: number): void;
  requestInputModeFlags(consumer: string, flags: number): void;
  release(): void;
}

export const CONSUMER = 'clawgate';

export const INSTALL_HINT =
  'The libgpiod driver needs the optional package node-libgpiod built against libgpiod 1.x. ' +
  'On Debian / Raspberry Pi OS: `sudo apt-get install libgpiod-dev build-essential python3`, then `npm rebuild node-libgpiod` ' +
  '(or run `npm install` again). To run without GPIO, set `driver: simulated`.';

/** Loads node-libgpiod, or explains why it cannot be loaded. */
export function loadLibgpiod(require: (id: string) => unknown = createRequire(import.meta.url)): LibgpiodModule {
  try {
    return require('node-libgpiod') as LibgpiodModule;
  } catch (e) {
    throw new GpioUnavailableError(`node-libgpiod could not be loaded (${(e as Error).message.split('\n')[0]}). ${INSTALL_HINT}`);
  }
}

function errnoCode(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  if (typeof err.code === 'string') return err.code;
  const m = /\b(E[A-Z]+)\b/.exec(String(err.message ?? ''));
  return m?.[1] ?? 'unknown';
}

function biasFlags(lib: LibgpiodModule, bias: Bias): number {
  const f = lib.Line.RequestFlags;
  if (bias === 'pull-up') return f.BIAS_PULL_UP;
  if (bias === 'pull-down') return f.BIAS_PULL_DOWN;
  if (bias === 'disable') return f.BIAS_DISABLE;
  return 0;
}

export interface LibgpiodOptions {
  /** How often inputs are sampled for edges (node-libgpiod 1.x exposes no edge-event reads). */
  pollMs?: number;
  /** Injected module (tests); loaded from node_modules otherwise. */
  lib?: LibgpiodModule;
  /** The consumer label the lines are requested with (default `clawgate`). */
  consumer?: string;
}

export class LibgpiodDriver implements GpioDriver {
  readonly kind = 'libgpiod' as const;
  private readonly lib: LibgpiodModule;
  private readonly chips = new Map<string, LibgpiodChip>();
  private readonly outputs = new Map<OutputName, LibgpiodLine>();
  private readonly inputs = new Map<InputName, LibgpiodLine>();
  private readonly pollers = new Set<NodeJS.Timeout>();
  private readonly pollMs: number;
  private readonly consumer: string;

  constructor(opts: LibgpiodOptions = {}) {
    this.lib = opts.lib ?? loadLibgpiod();
    this.pollMs = opts.pollMs ?? 2;
    this.consumer = opts.consumer ?? CONSUMER;
  }

  private chip(id: string | number, what: string): LibgpiodChip {
    const key = String(id);
    const known = this.chips.get(key);
    if (known) return known;
    let chip: LibgpiodChip;
    try {
      chip = new this.lib.Chip(id);
    } catch (e) {
      let present: string[] = [];
      try { present = this.lib.getChipNames(); } catch { /* listing is only a hint */ }
      const code = errnoCode(e);
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not accessible (add the user to the gpio group, see docs/claw-node.md)' : `cannot be opened (${code})`;
      throw new GpioUnavailableError(
        `GPIO chip "${key}" (${what}) ${why}. Chips present: ${present.length ? present.join(', ') : 'none (no /dev/gpiochip* on this machine)'}. ` +
        'Check the wiring config, or set `driver: simulated` on a machine without GPIO.',
      );
    }
    this.chips.set(key, chip);
    return chip;
  }

  private line(spec: LineSpec, what: string): LibgpiodLine {
    const chip = this.chip(spec.chip, what);
    if (spec.line < 0 || spec.line >= chip.numberOfLines) {
      throw new GpioUnavailableError(`${what}: line ${spec.line} does not exist on ${chip.name} (it has ${chip.numberOfLines} lines)`);
    }
    return new this.lib.Line(chip, spec.line);
  }

  private request(what: string, spec: LineSpec, fn: () => void, line: LibgpiodLine): void {
    try {
      fn();
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EBUSY') {
        let holder: string | undefined;
        try { holder = line.consumer || undefined; } catch { /* best effort */ }
        throw new GpioLineBusyError(what, spec.chip, spec.line, holder);
      }
      throw new GpioUnavailableError(`${what}: line ${spec.line} on chip "${spec.chip}" could not be requested (${code})`);
    }
  }

  claimOutputs(specs: readonly OutputSpec[]): void {
    for (const s of specs) {
      const what = `output "${s.name}"`;
      const line = this.line(s, what);
      const flags = s.activeLow ? this.lib.Line.RequestFlags.ACTIVE_LOW : 0;
      // Requested with its inactive value, so claiming never pulses a relay.
      this.request(what, s, () => line.requestOutputModeFlags(this.consumer, flags, 0), line);
      this.outputs.set(s.name, line);
    }
  }

  claimInputs(specs: readonly InputSpec[]): void {
    for (const s of specs) {
      const what = `input "${s.name}"`;
      const line = this.line(s, what);
      const flags = (s.activeLow ? this.lib.Line.RequestFlags.ACTIVE_LOW : 0) | biasFlags(this.lib, s.bias);
      this.request(what, s, () => line.requestInputModeFlags(this.consumer, flags), line);
      this.inputs.set(s.name, line);
    }
  }

  set(name: OutputName, asserted: boolean): void {
    const line = this.outputs.get(name);
    if (line === undefined) throw new Error(`output "${name}" was not claimed`);
    line.setValue(asserted ? 1 : 0);
  }

  read(name: InputName): boolean {
    const line = this.inputs.get(name);
    if (line === undefined) throw new Error(`input "${name}" was not claimed`);
    return line.getValue() === 1;
  }

  watch(name: InputName, onEdge: EdgeListener): Unwatch {
    let last = this.read(name);
    const timer = setInterval(() => {
      let now: boolean;
      try { now = this.read(name); } catch { return; }
      if (now !== last) { last = now; onEdge(now); }
    }, this.pollMs);
    timer.unref();
    this.pollers.add(timer);
    return () => { clearInterval(timer); this.pollers.delete(timer); };
  }

  releaseAll(): void {
    const failures: string[] = [];
    for (const [name, line] of this.outputs) {
      try { line.setValue(0); } catch (e) { failures.push(`${name}: ${(e as Error).message}`); }
    }
    if (failures.length) throw new Error(`could not release ${failures.join('; ')}`);
  }

  close(): void {
    for (const t of this.pollers) clearInterval(t);
    this.pollers.clear();
    try { this.releaseAll(); } finally {
      for (const line of [...this.outputs.values(), ...this.inputs.values()]) {
        try { line.release(); } catch { /* the process exit releases it anyway */ }
      }
      this.outputs.clear();
      this.inputs.clear();
    }
  }
}
