// Public API of @clawgate/backend.
export { startBackend, type Backend, type StartOptions } from './service.js';
export { parseConfig, loadConfigFile, BackendConfigError, type BackendConfig, type BackendConfigInput, type DatabaseConfig, type Settings, type RouterAuth } from './config.js';
export { sessionRouter, SESSION_PATH, type SessionRouteOptions } from './http/session-route.js';
export { HEALTH_PATH, MOUNTED_HEALTH_PATH, type BackendHealth } from './http/health-route.js';
export { openDatabase, type Db } from './db/database.js';
export { openStore, type Store, type Dialect } from './db/store.js';
export { Repository, type Entry, type TurnRow, type MachineRow } from './db/repository.js';
export { Coordinator, type Wire, type RouterSnapshot } from './turns/coordinator.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export { loadClawRouterConfig, CLAW_ROUTER_CONFIG, type ClawRouterOptions } from './router-config.js';
