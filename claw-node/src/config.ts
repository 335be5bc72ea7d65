// The node's config: one JSON or YAML file, validated once at start with
// zod. Every error names the exact key (`timings.coinPulseMs: ...`).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Defaults, MAX_PRIZES, REALM, isUriComponent } from '@clawgate/protocol';
import { DEFAULT_SIMULATOR } from './sim/simulated-machine.js';
import { CameraConfig } from './camera/camera-config.js';

const Chip = z.union([z.string().min(1), z.number().int().nonnegative()]);
const Line = z.object({
  chip: Chip,
  line: z.number().int().nonnegative(),
  activeLow: z.boolean().default(false),
}).strict();
const InputLine = Line.extend({ bias: z.enum(['as-is', 'disable', 'pull-up', 'pull-down']).default('as-is') }).strict();

const Wiring = z.object({
  outputs: z.object({ up: Line, down: Line, left: Line, right: Line, drop: Line, coin: Line }).strict(),
  inputs: z.object({ prize: InputLine }).strict(),
}).strict();

const ms = (dflt: number) => z.number().int().positive().default(dflt);
const seconds = (dflt: number) => z.number().positive().default(dflt);

const Timings = z.object({
  holdTimeoutMs: ms(Defaults.holdTimeoutMs),
  coinPulseMs: ms(150),
  coinGapMs: ms(500),
  dropPulseMs: ms(200),
  dropGapMs: ms(1000),
  /** start_turn's moveSeconds is capped at this. */
  maxMoveSeconds: seconds(120),
  /** From the drop pulse: how long the cabinet takes to lower, close, raise and return. */
  dropCycleSeconds: seconds(8),
  /** After the drop cycle: how long the prize sensor is still watched. */
  prizeWindowSeconds: seconds(4),
  /** The prize input must stay asserted this long to count. */
  prizeDebounceMs: ms(30),
}).strict();

const Simulator = z.object({
  seed: z.number().int().default(DEFAULT_SIMULATOR.seed),
  speed: z.number().positive().default(DEFAULT_SIMULATOR.speed),
  /** Prizes in the box (the lines topic carries at most MAX_PRIZES positions). */
  prizes: z.number().int().nonnegative().max(MAX_PRIZES).default(DEFAULT_SIMULATOR.prizes),
  prizeRadius: z.number().positive().max(1).default(DEFAULT_SIMULATOR.prizeRadius),
  maxGrabProbability: z.number().min(0).max(1).default(DEFAULT_SIMULATOR.maxGrabProbability),
  lowerMs: ms(DEFAULT_SIMULATOR.lowerMs),
  grabMs: ms(DEFAULT_SIMULATOR.grabMs),
  raiseMs: ms(DEFAULT_SIMULATOR.raiseMs),
  releaseMs: ms(DEFAULT_SIMULATOR.releaseMs),
  prizePulseMs: ms(DEFAULT_SIMULATOR.prizePulseMs),
  tickMs: ms(DEFAULT_SIMULATOR.tickMs),
}).strict();

const Reconnect = z.object({
  initialDelayMs: ms(500),
  maxDelayMs: ms(15_000),
  factor: z.number().min(1).default(2),
}).strict();

export const ClawNodeConfig = z.object({
  router: z.object({
    url: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL'),
    realm: z.string().min(1).default(REALM),
    /** `cryptosign` in production; `anonymous` for a router path that maps anonymous to role `claw` (development). */
    auth: z.enum(['cryptosign', 'anonymous']).default('cryptosign'),
    /**
     * Largest message the node accepts from the router (bytes, after any
     * decompression); a larger one closes the connection, the node releases
     * everything and reconnects. Keep the router's cap on control
     * publications far below this.
     */
    maxMessageBytes: z.number().int().min(4096).max(16 * 1024 * 1024).default(1024 * 1024),
  }).strict(),
  /** The machine id: URI component and, with cryptosign, the authid. */
  machine: z.string().refine(isUriComponent, 'must be 1–64 of [0-9a-z_-]'),
  /** File holding the Ed25519 private key seed (32 bytes, hex). Relative paths are relative to the config file. */
  key: z.string().min(1).optional(),
  /**
   * `auto` (gpio-cdev, else libgpiod), `gpio-cdev` (the kernel's GPIO uAPI v2 through koffi, any
   * libgpiod or none), `libgpiod` (node-libgpiod, libgpiod 1.x), `simulated`.
   */
  driver: z.enum(['auto', 'gpio-cdev', 'libgpiod', 'simulated']),
  wiring: Wiring.optional(),
  /** libgpiod, and gpio-cdev on a chip without edge interrupts: how often inputs are sampled. */
  pollMs: z.number().int().positive().max(100).default(2),
  timings: Timings.default({}),
  simulator: Simulator.default({}),
  reconnect: Reconnect.default({}),
  /** While moving, the simulated claw's position is published on `lines` at most this often. */
  linesIntervalMs: ms(100),
  /** The camera pipeline sending the machine's video to its Janus mountpoint (docs/claw-node.md "Camera"); absent: none. */
  camera: CameraConfig.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).strict().superRefine((c, ctx) => {
  if (c.router.auth === 'cryptosign' && c.key === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['key'], message: 'required with router.auth "cryptosign" (a file with the hex Ed25519 seed; `clawgate-claw keygen` makes one)' });
  }
  if (c.camera?.source === 'synthetic' && c.driver !== 'simulated') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['camera', 'source'], message: '"synthetic" draws the simulated machine: driver "simulated" only' });
  }
  if (c.driver !== 'simulated' && c.wiring === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['wiring'], message: `required with driver "${c.driver}"` });
  }
});

export type ClawNodeConfig = z.infer<typeof ClawNodeConfig>;
export type ClawNodeConfigInput = z.input<typeof ClawNodeConfig>;
export type Timings = ClawNodeConfig['timings'];
export type Wiring = z.infer<typeof Wiring>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function describe(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`).join('; ');
}

/** Validates a config object; a ConfigError names each bad key. */
export function parseConfig(input: unknown, source = 'config'): ClawNodeConfig {
  const r = ClawNodeConfig.safeParse(input);
  if (!r.success) throw new ConfigError(`${source}: ${describe(r.error)}`);
  return r.data;
}

/** Reads a .json / .yaml / .yml file; `key` becomes absolute (relative to the file). */
export function loadConfigFile(path: string): ClawNodeConfig {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new ConfigError(`${path}: cannot read (${(e as Error).message})`); }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'} (${(e as Error).message})`);
  }
  const config = parseConfig(raw, path);
  if (config.key !== undefined && !isAbsolute(config.key)) config.key = resolve(dirname(path), config.key);
  return config;
}

/** The simulated machine's wiring: any chip/line will do, they are in memory. */
export function simulatedWiring(): Wiring {
  const line = (n: number) => ({ chip: 'sim', line: n, activeLow: false });
  return {
    outputs: { up: line(0), down: line(1), left: line(2), right: line(3), drop: line(4), coin: line(5) },
    inputs: { prize: { ...line(6), bias: 'as-is' } },
  };
}
