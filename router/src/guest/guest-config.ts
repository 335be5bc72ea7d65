// A Crossbar guest worker (`type: guest`): a program of any language that
// the node starts beside the router, typically a WAMP component that
// connects back to it (a backend, an authenticator). Parsed here into plain
// data; GuestWorker runs it. Keys and meanings are Crossbar's (its
// checkconfig.check_guest and controller._start_guest_worker); `restart` and
// `stop_timeout` are ClawGate's, because a production node must say what
// happens when a component dies and how long it may take to stop.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config-error.js';
import { unknownKeys } from '../unknown-keys.js';

export type GuestOutput = 'log' | 'drop' | 'close';
export type GuestRestart = 'never' | 'on-failure' | 'always';

export interface GuestConfig {
  /** The worker's `id`, or `guest<N>` (N counts guest workers from 1). */
  id: string;
  /** JSON path of the worker in the config, for messages. */
  at: string;
  /** Absolute path of the program. */
  executable: string;
  args: string[];
  /** Absolute working directory. */
  workdir: string;
  /** Inherit the node's whole environment (true), none of it (false), or the variables named. */
  inherit: boolean | string[];
  /** Variables set on top. */
  vars: Record<string, string>;
  /** JSON written to stdin (then closed when `close`), or stdin closed at once. */
  stdin: { json: string; close: boolean } | 'close';
  stdout: GuestOutput;
  stderr: GuestOutput;
  restart: GuestRestart;
  /** From SIGTERM to SIGKILL when the node stops, ms. */
  stopTimeoutMs: number;
}

export const DEFAULT_GUEST_STOP_TIMEOUT_MS = 5000;

const Output = z.enum(['log', 'drop', 'close']);
const Guest = z.object({
  type: z.literal('guest'),
  id: z.string().min(1).optional(),
  executable: z.string().min(1),
  arguments: z.array(z.string()).optional(),
  options: z.object({
    workdir: z.string().min(1).optional(),
    env: z.object({
      inherit: z.union([z.boolean(), z.array(z.string())]).optional(),
      vars: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    }).passthrough().optional(),
    stdin: z.union([z.literal('close'), z.object({ type: z.literal('json'), value: z.unknown(), close: z.boolean().optional() }).passthrough()]).optional(),
    stdout: Output.optional(),
    stderr: Output.optional(),
    watch: z.unknown().optional(),
    /** ClawGate: what to do when the program exits by itself (default on-failure). */
    restart: z.enum(['never', 'on-failure', 'always']).optional(),
    /** ClawGate: ms from SIGTERM to SIGKILL when the node stops (default 5000). */
    stop_timeout: z.number().int().positive().optional(),
  }).passthrough().optional(),
}).passthrough();

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Crossbar's lookup: the executable joined to the working directory if that
 * is an executable file, else the first one on PATH; undefined when neither.
 */
export function findExecutable(executable: string, workdir: string, path: string | undefined): string | undefined {
  const local = resolve(workdir, executable);
  if (isExecutableFile(local)) return local;
  if (isAbsolute(executable) || executable.includes('/')) return undefined;
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, executable);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The environment a guest starts with (Crossbar's create_process_env, without its Python-only PYTHONUNBUFFERED default). */
export function guestEnv(c: Pick<GuestConfig, 'inherit' | 'vars'>, parent: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  const names = c.inherit === true ? Object.keys(parent) : c.inherit === false ? [] : c.inherit;
  for (const k of names) if (parent[k] !== undefined) env[k] = parent[k]!;
  return Object.assign(env, c.vars);
}

/**
 * One `type: guest` worker. A relative `workdir` is relative to `baseDir`
 * (the config file's folder: Crossbar's node directory); an executable that
 * can't be found stops the start naming the key.
 */
export function guestWorker(raw: unknown, at: string, n: number, warnings: string[], baseDir: string | undefined, env: NodeJS.ProcessEnv = process.env): GuestConfig {
  const r = Guest.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigError(`invalid config at ${at}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
  }
  const g = r.data;
  unknownKeys(g, ['type', 'id', 'executable', 'arguments', 'options'], at, warnings);
  const o = g.options ?? {};
  unknownKeys(o, ['workdir', 'env', 'stdin', 'stdout', 'stderr', 'watch', 'restart', 'stop_timeout'], `${at}.options`, warnings);
  if (o.env !== undefined) unknownKeys(o.env, ['inherit', 'vars'], `${at}.options.env`, warnings);
  if (o.watch !== undefined) warnings.push(`${at}.options.watch (restarting on file changes is not done)`);
  const workdir = resolve(baseDir ?? process.cwd(), o.workdir ?? '.');
  let isDir = false;
  try { isDir = statSync(workdir).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new ConfigError(`invalid config at ${at}.options.workdir: ${workdir} is not a directory`);
  const vars = Object.fromEntries(Object.entries(o.env?.vars ?? {}).map(([k, v]) => [k, String(v)]));
  const inherit = o.env?.inherit ?? true;
  // Looked up on the node's own PATH, as Crossbar does (`which` in the node), whatever the guest inherits.
  const executable = findExecutable(g.executable, workdir, env.PATH);
  if (executable === undefined) throw new ConfigError(`invalid config at ${at}.executable: "${g.executable}" is neither an executable file in ${workdir} nor a program on PATH`);
  const stdin = o.stdin === undefined || o.stdin === 'close' ? 'close' as const : { json: JSON.stringify(o.stdin.value ?? null), close: o.stdin.close ?? true };
  return {
    id: g.id ?? `guest${n}`, at, executable, args: g.arguments ?? [], workdir, inherit, vars, stdin,
    stdout: o.stdout ?? 'log', stderr: o.stderr ?? 'log',
    restart: o.restart ?? 'on-failure',
    stopTimeoutMs: o.stop_timeout ?? DEFAULT_GUEST_STOP_TIMEOUT_MS,
  };
}
