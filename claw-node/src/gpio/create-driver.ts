// The driver a config asks for, with its lines claimed (all released).
import { INPUTS, OUTPUTS } from '@clawgate/protocol';
import { simulatedWiring, type ClawNodeConfig } from '../config.js';
import type { GpioDriver, InputSpec, OutputSpec } from './driver.js';
import { LibgpiodDriver, type LibgpiodModule } from './libgpiod-driver.js';
import { SimulatedDriver } from './simulated-driver.js';

export function lineSpecs(config: Pick<ClawNodeConfig, 'driver' | 'wiring'>): { outputs: OutputSpec[]; inputs: InputSpec[] } {
  const wiring = config.wiring ?? simulatedWiring();
  return {
    outputs: OUTPUTS.map((name) => ({ name, ...wiring.outputs[name] })),
    inputs: INPUTS.map((name) => ({ name, ...wiring.inputs[name] })),
  };
}

/** Creates the driver and claims every line; throws GpioUnavailableError with a fix when it cannot. */
export function createDriver(config: Pick<ClawNodeConfig, 'driver' | 'wiring' | 'pollMs'>, lib?: LibgpiodModule): GpioDriver {
  const driver: GpioDriver = config.driver === 'libgpiod'
    ? new LibgpiodDriver({ pollMs: config.pollMs, ...(lib ? { lib } : {}) })
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
