// `clawgate-claw`: run a node from a config file, or mint / show its key.
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { ConfigError, loadConfigFile } from './config.js';
import { GpioUnavailableError } from './gpio/driver.js';
import { createLogger } from './logger.js';
import { startClawNode } from './node.js';
import { installProcessHandlers } from './process-handlers.js';
import { generateKeyFile, readKeyFile } from './wamp/cryptosign.js';
import { systemdNotify, Watchdog } from './watchdog.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('clawgate-claw')
    .description('ClawGate claw node: drives one claw machine (libgpiod or simulated) for the ClawGate router')
    .option('-c, --config <file>', 'node config (JSON or YAML)')
    .action(async (opts: { config?: string }) => {
      if (!opts.config) program.error('error: --config <file> is required (see docs/claw-node.md)', { exitCode: 2 });
      await run(opts.config!);
    });

  program.command('keygen')
    .description('mint the machine\'s Ed25519 key: writes the seed (hex, mode 0600) and prints the public key for the router')
    .requiredOption('-o, --out <file>', 'where to write the seed (must not exist)')
    .option('-m, --machine <id>', 'machine id (for the file comment and the printed router config)', 'claw1')
    .action((opts: { out: string; machine: string }) => {
      if (existsSync(opts.out)) program.error(`error: ${opts.out} exists; refusing to overwrite a machine key`, { exitCode: 2 });
      const key = generateKeyFile(opts.out, opts.machine);
      process.stdout.write(`${key.publicKey}\n`);
      process.stderr.write(`wrote ${opts.out}; add the public key above to the router's cryptosign principal "${opts.machine}" (authorized_keys)\n`);
    });

  program.command('pubkey')
    .description('print the public key of a key file')
    .requiredOption('-k, --key <file>', 'the seed file')
    .action((opts: { key: string }) => {
      process.stdout.write(`${readKeyFile(opts.key).publicKey}\n`);
    });

  await program.parseAsync(argv);
}

async function run(configPath: string): Promise<void> {
  let config;
  try {
    config = loadConfigFile(configPath);
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`clawgate-claw: ${e.message}\n`); process.exit(2); }
    throw e;
  }
  const log = createLogger(config.logLevel);
  const watchdog = new Watchdog(systemdNotify((m) => log.warn(m)));
  let node;
  try {
    node = await startClawNode(config, { logger: log, onStatus: (s) => watchdog.status(s.state) });
  } catch (e) {
    if (e instanceof GpioUnavailableError || (e as Error).message.startsWith('cannot read key file') || (e as Error).message.startsWith('key file')) {
      process.stderr.write(`clawgate-claw: ${(e as Error).message}\n`);
      process.exit(3);
    }
    throw e;
  }
  installProcessHandlers(node, process, (level, msg, extra) => log[level](extra ?? {}, msg), () => watchdog.stop());
  watchdog.start();
  log.info({ machine: config.machine, driver: node.driver.kind, router: config.router.url }, 'claw node started');
}
