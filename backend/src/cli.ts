// `clawgate-backend --config FILE [--database URL|PATH]`: runs the queue
// service until SIGTERM or SIGINT. On a signal the backend gives its
// machines' leases up, lets the state changes in progress finish (each is
// one transaction: it commits whole or not at all), says GOODBYE and closes
// the store.
import { Command } from 'commander';
import { resolve } from 'node:path';
import { BackendConfigError, loadConfigFile } from './config.js';
import { createLogger } from './logger.js';
import { startBackend } from './service.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('clawgate-backend')
    .description('ClawGate queue service: fair per-machine queues and turns for claw machines, over WAMP')
    .requiredOption('-c, --config <file>', 'config file (JSON, or YAML when it ends in .yaml/.yml)')
    .option('--database <url-or-path>', 'postgres://user@host/db (PostgreSQL: the password from PGPASSWORD or database.password), or a SQLite file (overrides the config\'s database.url/path)')
    .option('--log-level <level>', 'trace, debug, info, warn, error, silent (overrides the config)')
    .parse(argv);
  const opts = program.opts<{ config: string; database?: string; logLevel?: string }>();

  let config;
  try {
    const database = opts.database === undefined || /^postgres(ql)?:\/\//.test(opts.database) || opts.database === ':memory:' ? opts.database : resolve(opts.database);
    config = loadConfigFile(opts.config, process.env, database !== undefined ? { database } : {});
  } catch (e) {
    if (e instanceof BackendConfigError) { process.stderr.write(`clawgate-backend: ${e.message}\n`); process.exit(2); }
    throw e;
  }
  const log = createLogger(opts.logLevel ?? process.env.CLAWGATE_LOG_LEVEL ?? config.logLevel);
  let backend;
  try {
    backend = await startBackend(config, { log });
  } catch (e) {
    process.stderr.write(`clawgate-backend: cannot start: ${(e as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    backend.stop().then(() => process.exit(0), (e: unknown) => { log.error({ err: String(e) }, 'shutdown failed'); process.exit(1); });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
