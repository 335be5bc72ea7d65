// The one launcher behind every bin/ script (clawgate-router, -backend, -claw,
// clawgate). Plain JavaScript on purpose: it runs before tsx is registered,
// and must work from a package installed on its own (a claw node on a
// Raspberry Pi: no tsx, no TypeScript, only the built dist/), so it needs
// nothing but Node itself.
//
// It runs the compiled CLI (`dist/cli.js`, npm install builds it) when that
// build and the build of every workspace package the CLI imports are at least
// as new as their TypeScript sources. Otherwise (an edited development
// checkout, a missing build) it runs the sources (`src/cli.ts`) through tsx,
// so a stale dist/ never runs by accident. The sources of other workspace
// packages are only found with the `@clawgate/source` export condition, and
// conditions are fixed at process start: so it re-runs itself in a child
// process with that condition, forwarding signals and the exit code.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SOURCE_CONDITION = '--conditions=@clawgate/source';

/** Signals a terminal, systemd or a container runtime sends to stop us; the child gets them too. */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The newest modification time of any file below `dir` (ms). */
export function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * True for a package that npm installed (a folder below a node_modules
 * folder; workspace packages resolve to their real folder outside it). Its
 * dist/ is what runs: npm gives the files it extracts the time of extraction,
 * in no particular order, so their mtimes say nothing about which is newer.
 */
export function isInstalled(pkgDir) {
  return pkgDir.split(sep).includes('node_modules');
}

/**
 * True when `pkgDir/dist/<entry>` exists and is at least as new as everything
 * in `pkgDir/src` (no src, or an installed package: the build is what runs).
 */
export function isFresh(pkgDir, entry) {
  const dist = join(pkgDir, 'dist', entry);
  const src = join(pkgDir, 'src');
  return existsSync(dist) && (!existsSync(src) || isInstalled(pkgDir) || statSync(dist).mtimeMs >= newestMtime(src));
}

/**
 * The folder of package `name` as `resolve` (the bin's own `import.meta.resolve`,
 * so resolution starts where the bin is installed) finds it, or undefined when it
 * does not resolve (not installed, or its dist/ missing).
 */
export function packageDir(resolve, name) {
  try {
    // The default export (dist/index.js) lives one level below the package root.
    return dirname(dirname(fileURLToPath(resolve(name))));
  } catch {
    return undefined;
  }
}

/** True when the bin's own dist/cli.js and the dist/index.js of every package in `packages` are fresh. */
export function allFresh(self, packages, resolve) {
  return isFresh(self, 'cli.js') && packages.every((p) => {
    const dir = packageDir(resolve, p);
    return dir !== undefined && isFresh(dir, 'index.js');
  });
}

/**
 * How to run: `dist` (the build), `source` (tsx in this process) or `respawn`
 * (this script again in a child process with the source condition). In source
 * mode (started with the condition, as tests do) always the sources. A stale
 * build of a CLI that imports no other workspace package needs no condition,
 * so its sources run in this process (one process: a SIGKILL reaches the CLI).
 */
export function chooseRun({ sourceMode, fresh, needsCondition }) {
  if (sourceMode) return 'source';
  if (fresh) return 'dist';
  return needsCondition ? 'respawn' : 'source';
}

/**
 * The child's environment. systemd's watchdog (WATCHDOG_PID = this main
 * process) is meant for the process that does the work: the child, which then
 * pings on our behalf (the unit needs NotifyAccess=all), instead of thinking
 * the watchdog is meant for someone else. Programs that don't ping ignore it.
 */
export function childEnv(env, pid) {
  const copy = { ...env };
  if (copy.WATCHDOG_PID === String(pid)) delete copy.WATCHDOG_PID;
  return copy;
}

/** The exit code that reports the child's end: its code, else 128 for a signal. */
export function exitCodeOf(code, signal) {
  return code ?? (signal ? 128 : 1);
}

/**
 * Runs the CLI of the package whose bin script called this: `await
 * launch(import.meta, { packages: [...] })`. The bin is `<pkg>/bin/*.js`, the
 * CLI `<pkg>/dist/cli.js` or `<pkg>/src/cli.ts`, and its `main(argv)` is called.
 * `packages`: the workspace packages the CLI imports (their builds must be fresh too).
 */
export async function launch(meta, { packages = [] } = {}) {
  const resolve = (specifier) => meta.resolve(specifier);
  const self = fileURLToPath(new URL('..', meta.url));
  const how = chooseRun({
    sourceMode: process.execArgv.includes(SOURCE_CONDITION),
    fresh: allFresh(self, packages, resolve),
    needsCondition: packages.length > 0,
  });

  if (how === 'dist') {
    const { main } = await import(pathToFileURL(join(self, 'dist', 'cli.js')).href);
    await main(process.argv);
    return;
  }
  // The sources need tsx (a development dependency): without it, say what is missing.
  let tsx;
  try {
    tsx = resolve('tsx/esm/api');
  } catch {
    const which = ['this package', ...packages].join(', ');
    process.stderr.write(`${basename(fileURLToPath(meta.url))}: cannot start: a build (dist/) is missing or older than its sources (${which}), and tsx is not installed to run the sources. Build them (npm run build), or install the packages with their dist/.\n`);
    process.exit(1);
  }
  if (how === 'source') {
    const { register } = await import(tsx);
    register();
    const { main } = await import(pathToFileURL(join(self, 'src', 'cli.ts')).href);
    await main(process.argv);
  } else {
    const child = spawn(process.execPath, [...process.execArgv, SOURCE_CONDITION, fileURLToPath(meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: childEnv(process.env, process.pid),
    });
    for (const sig of FORWARDED_SIGNALS) process.on(sig, () => child.kill(sig));
    child.on('exit', (code, signal) => process.exit(exitCodeOf(code, signal)));
  }
}
