// The bin launcher (launcher/launch.js): the decision (dist, sources in this
// process, or again in a child with the source condition) as a pure function,
// freshness on real files with real mtimes, and the whole thing on a package
// of its own in a temp folder: which CLI ran, in which process, with which
// condition, the exit code and SIGTERM passed through, and systemd's
// watchdog handed to the child.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SOURCE_CONDITION, allFresh, childEnv, chooseRun, exitCodeOf, isFresh, isInstalled, packageDir } from '@clawgate/runtime/launcher';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (path → text) below `dir`, each with mtime `at` (seconds). */
function write(dir: string, files: Record<string, string>, at: number): void {
  for (const [path, text] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
    utimesSync(file, at, at);
  }
}

t.test('the decision', async (t) => {
  t.equal(chooseRun({ sourceMode: false, fresh: true, needsCondition: true }), 'dist', 'fresh builds: dist');
  t.equal(chooseRun({ sourceMode: false, fresh: false, needsCondition: true }), 'respawn', 'stale, other workspace packages: again with the condition');
  t.equal(chooseRun({ sourceMode: false, fresh: false, needsCondition: false }), 'source', 'stale, no other packages: the sources in this process');
  t.equal(chooseRun({ sourceMode: true, fresh: true, needsCondition: true }), 'source', 'source mode: the sources, however fresh the build');
  t.equal(chooseRun({ sourceMode: true, fresh: false, needsCondition: false }), 'source');
  t.same(childEnv({ WATCHDOG_PID: '42', WATCHDOG_USEC: '1', A: 'b' }, 42), { WATCHDOG_USEC: '1', A: 'b' }, 'a watchdog meant for us goes to the child');
  t.same(childEnv({ WATCHDOG_PID: '7', A: 'b' }, 42), { WATCHDOG_PID: '7', A: 'b' }, 'one meant for another process stays as it is');
  t.same([exitCodeOf(0, null), exitCodeOf(3, null), exitCodeOf(null, 'SIGKILL'), exitCodeOf(null, null)], [0, 3, 128, 1]);
});

t.test('freshness: dist at least as new as every source file', async (t) => {
  const dir = tempDir(t);
  write(dir, { 'src/index.ts': '', 'src/deep/a.ts': '', 'dist/index.js': '' }, 1000);
  t.ok(isFresh(dir, 'index.js'), 'same mtime: fresh');
  utimesSync(join(dir, 'src/deep/a.ts'), 1001, 1001);
  t.notOk(isFresh(dir, 'index.js'), 'one nested source newer: stale');
  t.notOk(isFresh(dir, 'cli.js'), 'no such build: stale');
  const installed = tempDir(t);
  write(installed, { 'dist/index.js': '' }, 1);
  t.ok(isFresh(installed, 'index.js'), 'no sources: fresh');
  // npm extracts a package's files with the time of extraction, in no order: below node_modules the build is what runs.
  const npmInstalled = join(tempDir(t), 'node_modules', '@clawgate', 'x');
  write(npmInstalled, { 'dist/index.js': '', 'src/index.ts': '' }, 1000);
  utimesSync(join(npmInstalled, 'src/index.ts'), 1001, 1001);
  t.ok(isInstalled(npmInstalled) && !isInstalled(dir), 'below node_modules: installed; a workspace folder: not');
  t.ok(isFresh(npmInstalled, 'index.js'), 'installed, sources newer: the build still counts');
  t.notOk(isFresh(npmInstalled, 'cli.js'), 'installed without that build: stale');

  // Packages as the bin's import.meta.resolve finds them.
  const self = tempDir(t);
  write(self, { 'src/cli.ts': '', 'dist/cli.js': '' }, 1000);
  const resolve = (name: string): string => {
    if (name === 'dep-fresh') return pathToFileURL(join(installed, 'dist/index.js')).href;
    if (name === 'dep-stale') return pathToFileURL(join(dir, 'dist/index.js')).href;
    throw new Error(`Cannot find package '${name}'`);
  };
  t.equal(packageDir(resolve, 'dep-fresh'), installed, 'the package folder above dist/');
  t.equal(packageDir(resolve, 'missing'), undefined, 'not installed: undefined');
  t.ok(allFresh(self, ['dep-fresh'], resolve));
  t.notOk(allFresh(self, ['dep-fresh', 'dep-stale'], resolve), 'one stale package: stale');
  t.notOk(allFresh(self, ['missing'], resolve), 'one that does not resolve: stale');
  utimesSync(join(self, 'src/cli.ts'), 2000, 2000);
  t.notOk(allFresh(self, ['dep-fresh'], resolve), 'the CLI itself stale: stale');
});

/**
 * A package in a temp folder: bin/cli.js launches dist/cli.js or src/cli.ts,
 * which say who they are. `modules`: `workspace` (the workspace's
 * node_modules: the launcher and tsx resolve from the bin as in a development
 * checkout), `lone` (only @clawgate/runtime, no tsx: as on a board), or
 * `installed` (the package itself below a node_modules folder next to the runtime).
 */
function fixture(t: { teardown(fn: () => void): void }, packages: string[], distFresh: boolean, modules: 'workspace' | 'lone' | 'installed' = 'workspace'): string {
  let dir = tempDir(t);
  if (modules === 'workspace') symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  else {
    mkdirSync(join(dir, 'node_modules', '@clawgate'), { recursive: true });
    symlinkSync(join(ROOT, 'runtime'), join(dir, 'node_modules', '@clawgate', 'runtime'), 'dir');
    if (modules === 'installed') dir = join(dir, 'node_modules', 'launcher-fixture');
  }
  const cli = (from: string) => `
export async function main(argv) {
  const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
  // The handler before the first line: the test sends SIGTERM as soon as it reads that line.
  if (argv.includes('--wait')) {
    process.on('SIGTERM', () => { say({ got: 'SIGTERM' }); process.exit(0); });
    setInterval(() => {}, 1000);
  }
  say({ from: '${from}', pid: process.pid, args: argv.slice(2), condition: process.execArgv.includes('${SOURCE_CONDITION}'), watchdogPid: process.env.WATCHDOG_PID ?? null });
  const at = argv.indexOf('--exit');
  if (at >= 0) process.exitCode = Number(argv[at + 1]);
}
`;
  write(dir, {
    'package.json': JSON.stringify({ name: 'launcher-fixture', type: 'module' }),
    'bin/cli.js': `import { launch } from '@clawgate/runtime/launcher';\nawait launch(import.meta, { packages: ${JSON.stringify(packages)} });\n`,
    'dist/cli.js': cli('dist'),
    'src/cli.ts': cli('source').replace('main(argv)', 'main(argv: string[])').replace('say = (o)', 'say = (o: unknown)'),
  }, 1000);
  if (!distFresh) utimesSync(join(dir, 'src/cli.ts'), 2000, 2000);
  return dir;
}

interface Said { from?: string; pid?: number; args?: string[]; condition?: boolean; watchdogPid?: string | null; got?: string }

/** Runs the fixture's bin (through `sh -c 'exec …'` so that WATCHDOG_PID can name the bin's own pid, as systemd does). */
function run(dir: string, args: string[], o: { nodeArgs?: string[]; watchdog?: boolean; onSaid?: (s: Said, kill: (sig: NodeJS.Signals) => void) => void } = {}) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // as an operator starts it: no loader, no condition inherited from the test runner
  const script = o.watchdog ? 'WATCHDOG_PID=$$ exec "$0" "$@"' : 'exec "$0" "$@"';
  const child = spawn('sh', ['-c', script, process.execPath, ...(o.nodeArgs ?? []), join(dir, 'bin/cli.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const said: Said[] = [];
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const l of lines) {
      const s = JSON.parse(l) as Said;
      said.push(s);
      o.onSaid?.(s, (sig) => child.kill(sig));
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; said: Said[]; pid: number; stderr: string }>((resolve) => {
    // 'close', not 'exit': the last lines (a child's, through the launcher) can still be unread at exit.
    child.on('close', (code, signal) => resolve({ code, signal, said, pid: child.pid!, stderr: err }));
  });
}

t.test('a fresh build runs from dist/, in the bin\'s own process', async (t) => {
  const r = await run(fixture(t, [], true), ['--x', '1']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.said, [{ from: 'dist', pid: r.pid, args: ['--x', '1'], condition: false }]);
});

t.test('stale, no other workspace packages: the sources through tsx in the same process', async (t) => {
  const r = await run(fixture(t, [], false), ['--exit', '4']);
  t.equal(r.code, 4, `exit code of main (${r.stderr})`);
  t.match(r.said, [{ from: 'source', pid: r.pid, condition: false }]);
});

t.test('a package that does not resolve counts as stale: again in a child with the source condition; exit code and SIGTERM pass through; the watchdog goes to the child', async (t) => {
  const dir = fixture(t, ['@clawgate/not-installed'], true);
  const r = await run(dir, ['--exit', '7'], { watchdog: true });
  t.equal(r.code, 7, `the child's exit code (${r.stderr})`);
  t.equal(r.said.length, 1);
  t.match(r.said[0], { from: 'source', condition: true, args: ['--exit', '7'], watchdogPid: null }, 'the sources, with the condition, WATCHDOG_PID of the parent removed');
  t.not(r.said[0]!.pid, r.pid, 'in a child process');

  const waited = await run(dir, ['--wait'], { onSaid: (s, kill) => { if (s.from) kill('SIGTERM'); } });
  t.equal(waited.code, 0, `SIGTERM to the launcher reaches the child, which exits 0 (${waited.stderr})`);
  t.match(waited.said, [{ from: 'source' }, { got: 'SIGTERM' }]);
});

t.test('an installed package runs its dist/ whatever the mtimes npm gave it, without tsx', async (t) => {
  const r = await run(fixture(t, [], false, 'installed'), ['--exit', '0']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.said, [{ from: 'dist', pid: r.pid, condition: false }]);
});

t.test('stale without tsx (a board with only the built packages): a clear message, exit 1', async (t) => {
  for (const packages of [[], ['@clawgate/not-installed']]) {
    const r = await run(fixture(t, packages, false, 'lone'), []);
    t.equal(r.code, 1, `exit 1 (packages: ${packages.join(', ') || 'none'})`);
    t.same(r.said, [], 'nothing ran');
    t.match(r.stderr, /^cli\.js: cannot start: a build \(dist\/\) is missing or older than its sources \(this package.*\), and tsx is not installed to run the sources\. Build them \(npm run build\)/);
    t.notMatch(r.stderr, /ERR_MODULE_NOT_FOUND|at /, 'no stack trace');
  }
});

t.test('source mode (started with the condition, as tests do): the sources even when the build is fresh', async (t) => {
  const r = await run(fixture(t, [], true), [], { nodeArgs: [SOURCE_CONDITION] });
  t.equal(r.code, 0, r.stderr);
  t.match(r.said, [{ from: 'source', pid: r.pid, condition: true }]);
});
