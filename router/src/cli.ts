// `clawgate-router [--config FILE]`: start a router from a Crossbar-format
// config, or a loopback development config without one. SIGTERM/SIGINT close
// every session with GOODBYE and exit 0.
import { Command } from 'commander';
import { Router } from './router.js';
import { ConfigError, fromCrossbar, loadConfigFile } from './config/crossbar-config.js';
import { devConfig } from './config/dev-config.js';
import { createLogger } from './logger.js';
import { GuestWorkers } from './guest/guest-worker.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('clawgate-router')
    .description('ClawGate WAMP v2 router')
    .option('-c, --config <file>', 'Crossbar.io node config (JSON or YAML)')
    .option('--node <name>', 'cluster node name: makes this router a cluster node, or overrides the config\'s cluster.node (docs/cluster.md)')
    .option('--nats <url>', 'NATS server of the cluster (nats://host:port): overrides the config\'s cluster.nats.servers')
    .option('--log-level <level>', 'log level (trace, debug, info, warn, error, silent)', process.env.CLAWGATE_LOG_LEVEL ?? 'info')
    .parse(argv);
  const opts = program.opts<{ config?: string; logLevel: string; node?: string; nats?: string }>();
  const cluster = { ...(opts.node !== undefined ? { node: opts.node } : {}), ...(opts.nats !== undefined ? { nats: opts.nats } : {}) };
  const log = createLogger(opts.logLevel);
  let loaded;
  try {
    loaded = opts.config ? loadConfigFile(opts.config, { cluster }) : fromCrossbar(devConfig(), {}, { cluster });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`clawgate-router: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (loaded.unsupported.length > 0) {
    log.warn({ keys: loaded.unsupported }, `config keys not supported (ignored): ${loaded.unsupported.join(', ')}`);
  }
  const router = new Router(loaded.config, { log });
  try {
    await router.start();
  } catch (e) {
    process.stderr.write(`clawgate-router: cannot start: ${(e as Error).message}\n`);
    process.exit(1);
  }
  log.info({ ports: router.ports(), config: opts.config ?? '(development)' }, 'router started');
  // Guests start once the router listens (they are usually its clients) and stop before it.
  const guests = new GuestWorkers(loaded.guests, log);
  guests.start();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    guests.stop().then(() => router.stop()).then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
