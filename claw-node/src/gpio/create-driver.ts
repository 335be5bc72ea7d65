// The driver a config asks for, with its lines claimed (all released).
import { INPUTS, OUTPUTS } from '@clawgate/protocol';
import { simulatedWiring, type ClawNodeConfig } from '../config.js';
import { CdevDriver, probeCdev } from './cdev-driver.js';
import type { CdevSyscalls } from './cdev-syscalls.js';
import { GpioUnavailableError, type GpioDriver, type InputSpec, type OutputSpec } from './driver.js';
import { LibgpiodDriver, loadLibgpiod, type LibgpiodModule } from './libgpiod-driver.js';
import { SimulatedDriver } from './simulated-driver.js';

export type RealDriverKind = 'gpio-cdev' | 'libgpiod';

export function lineSpecs(config: Pick<ClawNodeConfig, 'driver' | 'wiring'>): { outputs: OutputSpec[]; inputs: InputSpec[] } {
  const wiring = config.wiring ?? simulatedWiring();
  return {
    outputs: OUTPUTS.map((name) => ({ name, ...wiring.outputs[name] })),
    inputs: INPUTS.map((name) => ({ name, ...wiring.inputs[name] })),
  };
}

/**
 * `driver: auto`: gpio-cdev where it works (koffi loads and the kernel has
 * uAPI v2), else libgpiod (node-libgpiod on libgpiod 1.x). Never the
 * simulator: a cabinet must not quietly run without its lines. Each argument
 * is true, or why that driver cannot be used.
 */
export function chooseAutoDriver(cdev: true | string, libgpiod: () => true | string): { kind: RealDriverKind } | { error: string } {
  if (cdev === true) return { kind: 'gpio-cdev' };
  const lib = libgpiod();
  if (lib === true) return { kind: 'libgpiod' };
  return {
    error: 'driver "auto": no GPIO driver can be used here. ' +
      `gpio-cdev: ${cdev} libgpiod: ${lib} ` +
      'See docs/claw-node.md (Installing on the board).',
  };
}

export interface DriverDeps {
  /** node-libgpiod replacement (tests). */
  libgpiod?: LibgpiodModule;
  /** System calls for gpio-cdev (tests); libc through koffi otherwise. */
  cdev?: CdevSyscalls;
  /** Consumer label of the lines (default `clawgate`; the wiring test uses `clawgate-test`). */
  consumer?: string;
  /** Driver notices (an input without edge interrupts, edge events stopped). */
  warn?: (msg: string) => void;
}

function probeLibgpiod(lib: LibgpiodModule | undefined): () => true | string {
  return () => {
    if (lib) return true;
    try { loadLibgpiod(); return true; } catch (e) { return (e as Error).message; }
  };
}

/** Which driver `config.driver` means on this machine; throws GpioUnavailableError for `auto` with none usable. */
export function resolveDriverKind(driver: ClawNodeConfig['driver'], deps: DriverDeps = {}): RealDriverKind | 'simulated' {
  if (driver !== 'auto') return driver;
  const cdev = deps.cdev ? probeCdev(() => deps.cdev!) : probeCdev();
  const choice = chooseAutoDriver(cdev, probeLibgpiod(deps.libgpiod));
  if ('error' in choice) throw new GpioUnavailableError(choice.error);
  return choice.kind;
}

/** Creates the driver and claims every line; throws GpioUnavailableError with a fix when it cannot. */
export function createDriver(config: Pick<ClawNodeConfig, 'driver' | 'wiring' | 'pollMs'>, deps: DriverDeps = {}): GpioDriver {
  const kind = resolveDriverKind(config.driver, deps);
  const consumer = deps.consumer !== undefined ? { consumer: deps.consumer } : {};
  const driver: GpioDriver = kind === 'libgpiod'
    ? new LibgpiodDriver({ pollMs: config.pollMs, ...consumer, ...(deps.libgpiod ? { lib: deps.libgpiod } : {}) })
    : kind === 'gpio-cdev'
      ? new CdevDriver({ pollMs: config.pollMs, ...consumer, ...(deps.cdev ? { sys: deps.cdev } : {}), ...(deps.warn ? { warn: deps.warn } : {}) })
      : new SimulatedDriver();
  const { outputs, inputs } = lineSpecs(config);
  try {
    driver.claimOutputs(outputs);
    driver.claimInputs(inputs);
  } catch (e) {
    try { driver.close(); } catch { /* nothing claimed to give back */ }
    throw e;
  }
  return driver;
}
