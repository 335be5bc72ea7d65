// The claw node on its own (issue 15): `claw-node/scripts/pack.mjs` makes the
// node-only bundle; here it is unpacked into an empty folder and installed as
// on a board (`npm install --omit=dev --ignore-scripts`, offline: from npm's
// cache, which the monorepo's own install filled), then the installed CLI —
// not the checkout's — mints a key, runs a wiring check, and joins a real
// router with cryptosign as a cabinet would, and leaves on SIGTERM.
// The folder holds no router, backend, pages, SQLite, tsx or TypeScript; the
// lockfile pins koffi's arm64 and armhf binaries for the boards.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StatusPayload, machineUris } from '@clawgate/protocol';
import { Router, fromCrossbar, silentLogger } from '@clawgate/router';
import { clawRealmConfig, connect, eventually } from './helpers.js';

const packScript = fileURLToPath(new URL('../scripts/pack.mjs', import.meta.url));
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// The file's own clock, not only the subtest's: tap's 120 s per file is too short on a loaded machine.
t.setTimeout(600_000);

// CI's lean pass (CLAWGATE_TEST_PROFILE=lean: the core suites on Node 20) leaves the bundle to
// the full pass: building and installing it is the claw node suite's costliest part, and what it
// checks (the bundle's contents, an offline install) does not depend on the Node that runs tap.
const lean = process.env.CLAWGATE_TEST_PROFILE === 'lean' ? 'lean profile: the bundle is tested in the full pass' : false;

t.test('the node-only bundle installs into an empty folder and joins a router', { timeout: 600_000, skip: lean }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'claw-pack-'));
  const tarball = run(process.execPath, [packScript, '--out', join(work, 'out')], work).trim();
  t.match(tarball, /clawgate-claw-node-\d+\.\d+\.\d+\.tar\.gz$/);
  const board = join(work, 'board');
  execFileSync('mkdir', ['-p', board]);
  execFileSync('tar', ['-xzf', tarball, '-C', board]);
  const [folder] = readdirSync(board);
  const dir = join(board, folder!);
  t.same(readdirSync(dir).sort(), ['INSTALL.md', 'claw1.example.yaml', 'clawgate-claw.service', 'package-lock.json', 'package.json', 'packages']);
  t.same(readdirSync(join(dir, 'packages')).map((f) => f.replace(/-\d+\.\d+\.\d+\.tgz$/, '')).sort(), ['clawgate-claw-node', 'clawgate-protocol', 'clawgate-runtime']);
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
  for (const arch of ['arm64', 'arm']) {
    t.match(lock.packages[`node_modules/@koromix/koffi-linux-${arch}`], { resolved: new RegExp(`/@koromix/koffi-linux-${arch}/-/koffi-linux-${arch}-3\\.3\\.4\\.tgz$`) }, `the lockfile pins koffi's linux-${arch} binary (Raspberry Pi OS ${arch === 'arm' ? 'armhf' : 'arm64'})`);
  }

  run('npm', ['install', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], dir);
  const nm = join(dir, 'node_modules');
  t.same(readdirSync(join(nm, '@clawgate')).sort(), ['claw-node', 'protocol', 'runtime'], 'our three packages, nothing else of ours');
  for (const absent of ['better-sqlite3', 'tsx', 'typescript', 'esbuild', 'tap', 'playwright-core', 'wampy']) t.notOk(existsSync(join(nm, absent)), `no ${absent}`);
  t.ok(existsSync(join(nm, `@koromix/koffi-linux-${process.arch}`)), `koffi's binary for this machine (${process.arch}) came with it`);
  for (const p of ['claw-node/dist/cli.js', 'protocol/dist/index.js', 'runtime/dist/index.js']) t.ok(existsSync(join(nm, '@clawgate', p)), `@clawgate/${p} (the build) is installed`);
  const bin = join(nm, '.bin/clawgate-claw');

  // The installed CLI: a key, a wiring check on the simulated driver, no GPIO chip with driver auto.
  const key = join(dir, 'm7.key');
  const publicKey = run(bin, ['keygen', '--out', key, '--machine', 'm7'], dir).trim();
  t.match(publicKey, /^[0-9a-f]{64}$/);
  const simCfg = join(dir, 'sim.json');
  writeFileSync(simCfg, JSON.stringify({ router: { url: 'ws://127.0.0.1:9/claw', auth: 'anonymous' }, machine: 'm7', driver: 'simulated' }));
  t.match(run(bin, ['test', '--config', simCfg, '--script', 'up:50 coin prize'], dir), /done: every step passed/, 'the wiring check runs from the install');

  const cfg = clawRealmConfig() as { workers: { transports: { websocket: Record<string, { auth: unknown }> }[] }[] };
  cfg.workers[0]!.transports[0]!.websocket.claw!.auth = { cryptosign: { type: 'static', principals: { m7: { realm: 'claw', role: 'claw', authorized_keys: [publicKey] } } } };
  const router = new Router(fromCrossbar(cfg).config, { log: silentLogger() });
  await router.start();
  t.teardown(() => router.stop(200));
  const port = Object.values(router.ports())[0]!;
  const backend = await connect(port, 'backend');
  t.teardown(() => backend.connection.close());
  const statuses: string[] = [];
  await backend.session.subscribe(machineUris('m7').status, (args) => { statuses.push(StatusPayload.parse(args?.[0]).state); }, { get_retained: true });

  const nodeCfg = join(dir, 'm7.yaml');
  writeFileSync(nodeCfg, `router: { url: "ws://127.0.0.1:${port}/claw", auth: cryptosign }\nmachine: m7\nkey: m7.key\ndriver: simulated\n`);
  const child = spawn(bin, ['--config', nodeCfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => { child.kill('SIGKILL'); });
  await eventually(() => statuses.at(-1) === 'ready', 'the installed node joined and is ready', 60_000);
  t.match(log, /"msg":"claw node started"/);
  t.notMatch(log, /tsx|source/i, 'it ran its dist/ build (no tsx in the install)');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: exit 0');
  await eventually(() => statuses.at(-1) === 'offline', 'offline after leaving', 10_000);

  // driver auto on a machine without GPIO: the gpio-cdev driver loads (koffi from the install) and names the missing chip.
  const autoCfg = join(dir, 'auto.json');
  const line = (n: number) => ({ chip: 'gpiochip0', line: n, activeLow: true });
  writeFileSync(autoCfg, JSON.stringify({
    router: { url: 'ws://127.0.0.1:9/claw', auth: 'anonymous' }, machine: 'm7', driver: 'auto',
    wiring: { outputs: { up: line(4), down: line(5), left: line(6), right: line(7), drop: line(8), coin: line(2) }, inputs: { prize: { ...line(17), bias: 'pull-up' } } },
  }));
  const auto = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const c = spawn(bin, ['--config', autoCfg], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => { err += d; });
    c.once('close', (code) => resolve({ code, err })); // 'close': all of its stderr read
  });
  t.equal(auto.code, 3, 'exit 3: GPIO unavailable');
  t.match(auto.err, existsSync('/dev/gpiochip0') ? /./ : /GPIO chip "gpiochip0" \(output "up"\) does not exist\. Chips present: none/, 'gpio-cdev ran (koffi loaded) and named the missing chip');
});
