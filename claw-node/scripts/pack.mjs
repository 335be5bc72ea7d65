#!/usr/bin/env node
// The claw node on its own, for a Raspberry Pi (or any Linux board): one
// .tar.gz that unpacks into a folder where `npm install` installs the node and
// nothing else of the monorepo (no router, backend, pages, better-sqlite3,
// tsx or TypeScript). The same file for arm64 and armhf: our packages are
// JavaScript, and the only binary (koffi, the gpio-cdev driver's FFI) comes
// from the registry for the board's architecture when npm installs there.
//
//   node claw-node/scripts/pack.mjs [--out DIR]        (npm run pack:claw-node)
//
// Copies protocol, runtime and claw-node into a staging folder, compiles each
// there (tsc, the package's own tsconfig.build.json with its outDir moved: the
// checkout's dist/ folders are never touched, so this can run beside the
// tests), `npm pack`s the three, and lays out clawgate-claw-node-<version>/:
//   package.json        depends on the three tarballs (file:packages/...)
//   package-lock.json   the versions resolved here (from npm's cache, else the registry)
//   packages/*.tgz      @clawgate/protocol, @clawgate/runtime, @clawgate/claw-node
//   clawgate-claw.service, claw1.example.yaml, INSTALL.md
// Prints the path of the .tar.gz. Steps on the board: docs/operations.md.
import { execFileSync } from 'node:child_process';
import { cpSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const out = resolve(outIdx >= 0 ? args[outIdx + 1] ?? '' : join(repo, 'pack'));
const PACKAGES = ['protocol', 'runtime', 'claw-node'];

const log = (m) => process.stderr.write(`pack: ${m}\n`);
const npm = (argv, cwd = repo) => execFileSync('npm', argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

const version = JSON.parse(readFileSync(join(repo, 'claw-node/package.json'), 'utf8')).version;
const name = `clawgate-claw-node-${version}`;
const stage = mkdtempSync(join(tmpdir(), 'clawgate-pack-'));
const dir = join(stage, name);
mkdirSync(join(dir, 'packages'), { recursive: true });

const tsc = join(repo, 'node_modules/typescript/bin/tsc');
const deps = {};
for (const pkg of PACKAGES) {
  const src = join(repo, pkg);
  const copy = join(stage, 'build', pkg);
  const manifest = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  mkdirSync(copy, { recursive: true });
  copyFileSync(join(src, 'package.json'), join(copy, 'package.json'));
  for (const f of [...(manifest.files ?? []).filter((f) => f !== 'dist'), 'README.md', 'LICENSE']) {
    if (existsSync(join(src, f))) cpSync(join(src, f), join(copy, f), { recursive: true });
  }
  log(`compiling ${manifest.name}`);
  execFileSync(process.execPath, [tsc, '-p', join(src, 'tsconfig.build.json'), '--outDir', join(copy, 'dist')], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', join(dir, 'packages'), copy], stage));
  if (!packed.files.some((f) => f.path.startsWith('dist/'))) throw new Error(`${manifest.name}: no dist/ in the package`);
  deps[packed.name] = `file:packages/${packed.filename}`;
}
writeFileSync(join(dir, 'package.json'), `${JSON.stringify({
  name: 'clawgate-claw-node-install',
  version,
  private: true,
  description: 'The ClawGate claw node on its own: npm install here (see INSTALL.md)',
  engines: { node: '>=20.19' },
  dependencies: deps,
}, null, 2)}\n`);

// The versions tested here (npm's cache first, the registry for what it lacks); the lockfile
// covers every platform's optional packages, koffi's arm64 and armhf binaries included.
try {
  npm(['install', '--package-lock-only', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev'], dir);
  // npm leaves out `resolved` for some entries (koffi's per-platform packages): then it must
  // fetch their packuments to find the tarball, which an offline install (or a flaky cabinet
  // network) cannot. The registry's tarball URL is fixed by name and version.
  const lockPath = join(dir, 'package-lock.json');
  const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
  const registry = npm(['config', 'get', 'registry']).trim().replace(/\/$/, '');
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (!path.startsWith('node_modules/') || entry.resolved || entry.link || !entry.version || !entry.integrity) continue;
    const pkg = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    entry.resolved = `${registry}/${pkg}/-/${pkg.split('/').pop()}-${entry.version}.tgz`;
  }
  writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
  log('package-lock.json written');
} catch {
  rmSync(join(dir, 'package-lock.json'), { force: true });
  log('no package-lock.json (npm could not resolve the packages: no registry and not all in its cache); the board resolves the ranges itself');
}

const assets = join(here, 'pack-assets');
for (const f of ['clawgate-claw.service', 'claw1.example.yaml', 'INSTALL.md']) copyFileSync(join(assets, f), join(dir, f));

mkdirSync(out, { recursive: true });
const tarball = join(out, `${name}.tar.gz`);
execFileSync('tar', ['-czf', tarball, '--owner=0', '--group=0', '-C', stage, name]);
rmSync(stage, { recursive: true, force: true });
process.stdout.write(`${tarball}\n`);
