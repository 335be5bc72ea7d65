// Public API of @clawgate/claw-node.
export { startClawNode, type ClawNode, type ClawNodeOptions } from './node.js';
export { ClawNodeConfig, parseConfig, loadConfigFile, simulatedWiring, ConfigError, type ClawNodeConfigInput, type Timings, type Wiring } from './config.js';
export { type GpioDriver, type LineSpec, type OutputSpec, type InputSpec, type Bias, GpioUnavailableError } from './gpio/driver.js';
export { SimulatedDriver } from './gpio/simulated-driver.js';
export { LibgpiodDriver, loadLibgpiod, INSTALL_HINT } from './gpio/libgpiod-driver.js';
export { createDriver, lineSpecs } from './gpio/create-driver.js';
export { SafeOutputs, InterlockError, type SafetyTimings, type Levels } from './safety/safe-outputs.js';
export { ClawMachine, type MachineStats } from './machine/claw-machine.js';
export { SimulatedMachine, DEFAULT_SIMULATOR, type SimulatorOptions, type ClawSnapshot } from './sim/simulated-machine.js';
export { systemClock, type Clock } from './clock.js';
export { FakeClock } from './fake-clock.js';
export { keyFromSeed, readKeyFile, generateKeyFile, type MachineKey } from './wamp/cryptosign.js';
