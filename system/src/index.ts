// Public API of @clawgate/system: the whole claw system in one process.
export { startSystem, connectHost, OPERATOR_AUTHID, type SystemOptions, type RunningSystem } from './system.js';
export { parseArgs, main } from './cli.js';
export { loadOrCreateSecrets, machineKey, ensureDataDir, type Secrets, type DevSecrets } from './secrets.js';
export { Overrides, mergeDeep, type OverridesInput } from './overrides.js';
export { ensureWebBundle, bundleIsStale } from './web-bundle.js';
export { startNodeThreads, MAX_NODE_THREADS, type ClawNodeThread, type NodeStats, type NodeThreadOptions } from './node-thread.js';
export { openGpioTrace, parseGpioTrace, readGpioTrace, preciseNow, type LineChange, type GpioTraceWriter } from './gpio-trace.js';
export { lockDataDir, staleReason, processStartTime, DataDirLockedError, LOCK_FILE, type DataDirLock, type LockOwner } from './data-lock.js';
