// In-memory GPIO lines: outputs remember their level, inputs are driven by
// whoever plays the machine (the physics model, or a test).
import { INPUTS, OUTPUTS, type InputName, type OutputName } from '@clawgate/protocol';
import type { GpioDriver, InputSpec, OutputSpec, Unwatch } from './driver.js';

export type OutputListener = (name: OutputName, asserted: boolean) => void;

export class SimulatedDriver implements GpioDriver {
  readonly kind = 'simulated' as const;
  private readonly outputs = new Map<OutputName, boolean>();
  private readonly inputs = new Map<InputName, boolean>();
  private readonly watchers = new Map<InputName, Set<(asserted: boolean) => void>>();
  private readonly outputListeners = new Set<OutputListener>();
  private closed = false;
  /** Every write, in order, for tests that check what reached the lines. */
  readonly writes: { name: OutputName; asserted: boolean }[] = [];

  claimOutputs(specs: readonly OutputSpec[]): void {
    for (const s of specs) this.outputs.set(s.name, false);
  }

  claimInputs(specs: readonly InputSpec[]): void {
    for (const s of specs) if (!this.inputs.has(s.name)) this.inputs.set(s.name, false);
  }

  set(name: OutputName, asserted: boolean): void {
    if (this.closed) throw new Error('simulated GPIO is closed');
    if (!this.outputs.has(name)) throw new Error(`output "${name}" was not claimed`);
    this.writes.push({ name, asserted });
    if (this.outputs.get(name) === asserted) return;
    this.outputs.set(name, asserted);
    for (const l of this.outputListeners) l(name, asserted);
  }

  read(name: InputName): boolean {
    return this.inputs.get(name) ?? false;
  }

  watch(name: InputName, onEdge: (asserted: boolean) => void): Unwatch {
    let set = this.watchers.get(name);
    if (set === undefined) { set = new Set(); this.watchers.set(name, set); }
    set.add(onEdge);
    return () => { set.delete(onEdge); };
  }

  releaseAll(): void {
    for (const name of this.outputs.keys()) if (this.outputs.get(name)) this.set(name, false);
  }

  close(): void {
    if (this.closed) return;
    this.releaseAll();
    this.closed = true;
    this.watchers.clear();
  }

  // --- the machine's side ---

  /** Level of an output as the machine sees it. */
  output(name: OutputName): boolean { return this.outputs.get(name) ?? false; }

  outputsSnapshot(): Record<OutputName, boolean> {
    return Object.fromEntries(OUTPUTS.map((n) => [n, this.output(n)])) as Record<OutputName, boolean>;
  }

  inputsSnapshot(): Record<InputName, boolean> {
    return Object.fromEntries(INPUTS.map((n) => [n, this.read(n)])) as Record<InputName, boolean>;
  }

  onOutput(listener: OutputListener): Unwatch {
    this.outputListeners.add(listener);
    return () => { this.outputListeners.delete(listener); };
  }

  /** Drives an input (as the prize sensor would). */
  setInput(name: InputName, asserted: boolean): void {
    if (this.inputs.get(name) === asserted) return;
    this.inputs.set(name, asserted);
    for (const w of [...(this.watchers.get(name) ?? [])]) w(asserted);
  }
}
