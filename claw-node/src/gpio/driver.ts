// The GPIO boundary. Everything above it speaks logical levels (true =
// asserted: the relay closes, the sensor sees a prize); a driver maps them to
// electrical levels with each line's active-low flag.
import type { InputName, OutputName } from '@clawgate/protocol';

export type Bias = 'as-is' | 'disable' | 'pull-up' | 'pull-down';

export interface LineSpec {
  /** Chip by name (`gpiochip0`), path (`/dev/gpiochip0`) or number. */
  chip: string | number;
  /** Line offset on that chip. */
  line: number;
  /** Asserted means electrically low (opto-isolated relay boards, switches to ground). */
  activeLow: boolean;
}

export interface OutputSpec extends LineSpec { name: OutputName }
export interface InputSpec extends LineSpec { name: InputName; bias: Bias }

export type Unwatch = () => void;
export type EdgeListener = (asserted: boolean, timestampNs?: bigint) => void;

export type DriverKind = 'simulated' | 'libgpiod' | 'gpio-cdev';

export interface GpioDriver {
  readonly kind: DriverKind;
  /** Requests the output lines, each starting released (not asserted). */
  claimOutputs(specs: readonly OutputSpec[]): void;
  claimInputs(specs: readonly InputSpec[]): void;
  /** Drives an output to a logical level. */
  set(name: OutputName, asserted: boolean): void;
  /** Reads an input's logical level. */
  read(name: InputName): boolean;
  /**
   * Calls onEdge with the new logical level whenever the input changes, and,
   * where the kernel reports edges (gpio-cdev), the edge's CLOCK_MONOTONIC time
   * in nanoseconds (comparable with process.hrtime.bigint()).
   */
  watch(name: InputName, onEdge: EdgeListener): Unwatch;
  /** De-asserts every claimed output. Must not throw for one bad line before trying the others. */
  releaseAll(): void;
  /** Releases all outputs and gives every line back to the kernel. */
  close(): void;
}

/** Thrown when a driver cannot start; the message says what to install or fix. */
export class GpioUnavailableError extends Error {
  override readonly name: string = 'GpioUnavailableError';
}

/**
 * A line another process holds (the kernel's EBUSY). `holder` is that
 * process's consumer label when the kernel tells it: `clawgate` is a running
 * claw node, `clawgate-test` a wiring test.
 */
export class GpioLineBusyError extends GpioUnavailableError {
  override readonly name = 'GpioLineBusyError';
  constructor(readonly what: string, readonly chip: string | number, readonly line: number, readonly holder: string | undefined) {
    super(`${what}: line ${line} on chip "${chip}" is already in use${holder ? ` by "${holder}"` : ''}`);
  }
}
