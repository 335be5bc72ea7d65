// `clawgate-claw`: run a node from a config file, or mint / show its key.
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { ConfigError, loadConfigFile, type ClawNodeConfig } from './config.js';
import { GpioUnavailableError } from './gpio/driver.js';
import { createLogger } from './logger.js';
import { startClawNode } from './node.js';
import { installProcessHandlers } from './process-handlers.js';
import { generateKeyFile, readKeyFile } from './wamp/cryptosign.js';
import { systemdNotify, Watchdog } from './watchdog.js';
import { runTestCommand, TestExit } from './wiring/command.js';
import { DEFAULT_JOG_MS, MAX_JOG_MS } from './wiring/steps.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('clawgate-claw')
    // `test --config` is the subcommand's own option, not the node's
    .enablePositionalOptions()
    .description('ClawGate claw node: drives one claw machine (GPIO or simulated) for the ClawGate router')
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

  program.command('test')
    .description('wiring check, through the safety layer: jog each direction, pulse coin and drop, read the prize input. Refuses to run while the node is in service (it holds the lines)')
    .requiredOption('-c, --config <file>', 'the node\'s config (its wiring, driver and timings)')
    .option('-s, --script <steps>', 'run these steps and exit, e.g. "all" or "up:300 coin prize:10" (default: interactive)')
    .option('--jog-ms <ms>', `length of a jog without ":ms" (1-${MAX_JOG_MS})`, String(DEFAULT_JOG_MS))
    .option('--trace', 'print every change of an output line, with ms since the start')
    .action(async (opts: { config: string; script?: string; jogMs: string; trace?: boolean }) => {
      const jogMs = Number(opts.jogMs);
      if (!Number.isInteger(jogMs) || jogMs < 1 || jogMs > MAX_JOG_MS) program.error(`error: --jog-ms must be a whole number from 1 to ${MAX_JOG_MS}`, { exitCode: TestExit.usage });
      const config = loadOrExit(opts.config);
      const out = (l: string) => process.stdout.write(`${l}\n`);
      const code = await runTestCommand(config, { ...(opts.script !== undefined ? { script: opts.script } : {}), jogMs, trace: opts.trace === true }, {
        out,
        err: (l) => process.stderr.write(`clawgate-claw test: ${l}\n`),
        input: process.stdin,
        interactive: opts.script === undefined && process.stdin.isTTY === true,
        onInterrupt(fn) {
          process.on('SIGINT', fn);
          process.on('SIGTERM', fn);
          return () => { process.off('SIGINT', fn); process.off('SIGTERM', fn); };
        },
      });
      process.exit(code);
    });

  await program.parseAsync(argv);
}

function loadOrExit(configPath: string): ClawNodeConfig {
  try {
    return loadConfigFile(configPath);
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`clawgate-claw: ${e.message}\n`); process.exit(2); }
    throw e;
  }
}

async function run(configPath: string): Promise<void> {
  const config = loadOrExit(configPath);
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
