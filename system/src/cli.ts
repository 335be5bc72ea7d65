// `clawgate` (`npm start`): the whole claw system on one port with a
// development setup. Ctrl-C / SIGTERM stop it cleanly: the claw nodes release
// their lines and leave, the backend finishes its state change and closes
// the database, the router says GOODBYE to everyone left.
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { startSystem, type SystemOptions } from './system.js';

function positiveInt(max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
    return n;
  };
}

/** `--video claw-1=http://cam1/stream.mjpg`, repeatable; `--video` alone: live video through Janus. */
function video(v: string, prev: Record<string, string> | true): Record<string, string> {
  if (prev === true) throw new InvalidArgumentError('--video alone (live video through Janus) and --video <machine>=<URL> do not mix');
  const i = v.indexOf('=');
  const machine = v.slice(0, i);
  const url = v.slice(i + 1);
  if (i < 1 || !/^https?:\/\//.test(url)) throw new InvalidArgumentError('must be <machine>=<http(s) URL>');
  return { ...prev, [machine]: url };
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0 picks a free one)');
  return n;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SystemOptions {
  const program = new Command('clawgate')
    .description('ClawGate claw system: router, backend (SQLite), simulated claw machines and the player page on one port')
    .option('--machines <n>', 'simulated claw machines to start (claw-1 … claw-N)', positiveInt(50), 1)
    .option('-p, --port <port>', 'HTTP/WebSocket/RawSocket port (env PORT)', port, env.PORT !== undefined && env.PORT !== '' ? port(env.PORT) : 8080)
    .option('--host <address>', 'interface to listen on (env HOST)', env.HOST ?? '127.0.0.1')
    .option('--data <dir>', 'data directory: SQLite database and development secrets (env CLAWGATE_DATA)', env.CLAWGATE_DATA ?? 'data')
    .option('--router-config <file>', 'router config for the claw realm (default: config/ of this checkout)')
    .option('--overrides <file>', 'JSON with settings merged into the generated configs: {"backend": {...}, "claw": {...}} (tests use it for short timings)')
    .option('--video [machine=url]', 'alone: live video of every simulated machine through Janus (needs janus and ffmpeg); with machine=url: a video stream URL shown on the page for that machine (repeatable; real cabinets)', video, {})
    .option('--gpio-trace <file>', 'append every simulated GPIO line change to this file, one JSON line each, timed in the claw node\'s thread (tests, benchmarks)')
    .option('--log-level <level>', 'log level (trace, debug, info, warn, error, silent)', env.CLAWGATE_LOG_LEVEL ?? 'warn')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .parse(argv);
  const o = program.opts<{ machines: number; port: number; host: string; data: string; routerConfig?: string; overrides?: string; logLevel: string; video: Record<string, string> | true; gpioTrace?: string }>();
  let overrides: SystemOptions['overrides'];
  if (o.overrides) {
    try {
      overrides = JSON.parse(readFileSync(o.overrides, 'utf8')) as SystemOptions['overrides'];
    } catch (e) {
      // A plain Error: commander has not printed anything about this one.
      throw new Error(`--overrides ${o.overrides}: ${(e as Error).message}`);
    }
  }
  return {
    machines: o.machines,
    port: o.port,
    host: o.host,
    dataDir: resolve(o.data),
    routerConfig: o.routerConfig ? resolve(o.routerConfig) : undefined,
    overrides,
    logLevel: o.logLevel,
    videoUrls: o.video === true ? {} : o.video,
    video: o.video === true,
    gpioTrace: o.gpioTrace ? resolve(o.gpioTrace) : undefined,
  };
}

export async function main(argv: string[]): Promise<void> {
  let options: SystemOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    if (code === 0) process.exit(0); // --help, --version
    if (!(e as { code?: string }).code?.startsWith('commander.')) process.stderr.write(`clawgate: ${(e as Error).message}\n`);
    process.exit(2);
  }

  let system: Awaited<ReturnType<typeof startSystem>>;
  try {
    system = await startSystem(options);
  } catch (e) {
    process.stderr.write(`clawgate: cannot start: ${(e as Error).message}\n`);
    process.exit(1);
  }

  const lines = [
    '',
    `ClawGate is running: ${system.url}`,
    `  player page   ${system.url}`,
    `  operator      ${system.url}operator   (user "${system.operator.authid}", secret "${system.operator.secret}")`,
    `  WAMP          ${system.wsUrl}  (RawSocket on the same port), realm "${system.realm}"`,
    `  machines      ${system.machines.join(', ')} (simulated)`,
    ...(system.video ? [`  video         live through Janus (WebRTC; ${system.video.url}, loopback only)`] : system.videoOff ? [`  video         off: ${system.videoOff} not installed`] : []),
    `  data          ${options.dataDir}${system.secretsCreated ? '  (development secrets created)' : ''}`,
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(lines.join('\n'));

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return; // the terminal and a parent launcher may both deliver the same Ctrl-C
    stopping = true;
    process.stdout.write(`\n${signal}: stopping…\n`);
    const force = setTimeout(() => { process.stderr.write('clawgate: shutdown took too long, exiting\n'); process.exit(1); }, 15_000);
    force.unref();
    system.stop().then(() => {
      process.stdout.write('stopped\n');
      process.exit(0);
    }, (e: unknown) => {
      process.stderr.write(`clawgate: error while stopping: ${(e as Error).message}\n`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
}
