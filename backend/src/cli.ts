// `clawgate-backend --config FILE`: runs the queue service until SIGTERM or
// SIGINT. State changes are synchronous SQLite transactions, so a signal is
// handled between two of them: the current one always completes.
import { Command } from 'commander';
import { BackendConfigError, loadConfigFile } from './config.js';
import { createLogger } from './logger.js';
import { startBackend } from './service.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('clawgate-backend')
    .description('ClawGate queue service: fair per-machine queues and turns for claw machines, over WAMP')
    .requiredOption('-c, --config <file>', 'config file (JSON, or YAML when it ends in .yaml/.yml)')
    .option('--log-level <level>', 'trace, debug, info, warn, error, silent (overrides the config)')
    .parse(argv);
  const opts = program.opts<{ config: string; logLevel?: string }>();

  let config;
  try {
    config = loadConfigFile(opts.config);
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
