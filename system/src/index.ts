// Public API of @clawgate/system: the whole claw system in one process.
export { startSystem, connectHost, OPERATOR_AUTHID, type SystemOptions, type RunningSystem } from './system.js';
export { parseArgs, main } from './cli.js';
export { loadOrCreateSecrets, machineKey, ensureDataDir, type Secrets, type DevSecrets } from './secrets.js';
export { Overrides, mergeDeep, type OverridesInput } from './overrides.js';
export { ensureWebBundle, bundleIsStale } from './web-bundle.js';
