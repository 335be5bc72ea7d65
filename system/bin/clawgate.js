#!/usr/bin/env node
// `npm start`: the whole claw system on one port.
//
// Runs the compiled launcher and packages (npm install builds them all). In
// a development checkout where any package's TypeScript sources are newer
// than its build, or a build is missing, it runs every package from source
// instead (tsx, with the `@clawgate/source` export condition), so a stale
// dist/ never runs by accident.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_CONDITION = '--conditions=@clawgate/source';
const PACKAGES = ['@clawgate/protocol', '@clawgate/router', '@clawgate/backend', '@clawgate/claw-node', '@clawgate/web-client'];

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** True when `pkgDir/dist/<entry>` exists and is at least as new as everything in `pkgDir/src`. */
function fresh(pkgDir, entry) {
  const dist = join(pkgDir, 'dist', entry);
  const src = join(pkgDir, 'src');
  return existsSync(dist) && (!existsSync(src) || statSync(dist).mtimeMs >= newestMtime(src));
}

function packageDir(name) {
  try {
    // The default export (dist/index.js) lives one level below the package root.
    return dirname(dirname(fileURLToPath(import.meta.resolve(name))));
  } catch {
    return undefined;
  }
}

const self = fileURLToPath(new URL('..', import.meta.url));
const inSourceMode = process.execArgv.includes(SOURCE_CONDITION);
const allFresh = fresh(self, 'cli.js') && PACKAGES.every((p) => { const d = packageDir(p); return d !== undefined && fresh(d, 'index.js'); });

if (allFresh && !inSourceMode) {
  const { main } = await import(join(self, 'dist', 'cli.js'));
  await main(process.argv);
} else if (inSourceMode) {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli.ts');
  await main(process.argv);
} else {
  // Export conditions are fixed at process start: run again with the source condition.
  const child = spawn(process.execPath, [...process.execArgv, SOURCE_CONDITION, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
