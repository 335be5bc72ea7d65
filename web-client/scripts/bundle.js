#!/usr/bin/env node
// Builds the browser assets into dist/public: the player page and operator
// dashboard bundles (TypeScript + autobahn + @clawgate/protocol, one file
// each, no CDN), their HTML and the stylesheet.
//
// autobahn is written for Node and browsers alike but requires msgpack5, cbor
// and `when` at load time; those pull in Node streams. The page uses JSON
// only, so they are replaced with small shims (page/shims/) instead of
// bundling Node polyfills.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = `${root}dist/public`;
const watch = process.argv.includes('--watch');
// A one-off build goes to a private folder first and each file is then renamed
// into place (atomic per file), so a server (or a second build started by a
// parallel test) never serves a half-written bundle.
const out = watch ? target : `${root}dist/.public-${process.pid}`;
const shim = (name) => `${root}page/shims/${name}`;

// Shared by both pages: serializers other than JSON, `when`, Node built-ins, cryptosign.
const COMMON = {
  msgpack5: shim('msgpack5.cjs'),
  cbor: shim('cbor.cjs'),
  when: shim('unavailable.cjs'),
  'when/monitor/console': shim('unavailable.cjs'),
  tweetnacl: shim('unused-crypto.cjs'),
  crypto: shim('empty.cjs'),
  fs: shim('empty.cjs'),
  net: shim('empty.cjs'),
  events: shim('empty.cjs'),
};
// The player logs in with a ticket; the operator needs WAMP-CRA (HMAC-SHA256, PBKDF2).
const PAGES = {
  player: { ...COMMON, 'crypto-js': shim('unused-crypto.cjs') },
  operator: { ...COMMON, 'crypto-js': shim('crypto-js-cra.cjs') },
};

function shims(table) {
  const escape = (k) => k.replace(/[/.\-]/g, '\\$&');
  const filter = new RegExp(`^(${Object.keys(table).map(escape).join('|')})$`);
  return { name: 'clawgate-browser-shims', setup(b) { b.onResolve({ filter }, (args) => ({ path: table[args.path] })); } };
}

rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/assets`, { recursive: true });

const options = (page) => ({
  entryPoints: { [page]: `${root}page/${page}.ts` },
  outdir: `${out}/assets`,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  // Bundle the workspace packages' TypeScript sources (no build order needed).
  conditions: ['@clawgate/source'],
  define: { global: 'globalThis', 'process.env.NODE_ENV': '"production"' },
  minify: !watch,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [shims(PAGES[page])],
});

// HTML at the top (served at / and /operator), everything else under /assets.
for (const f of readdirSync(`${root}page/static`)) {
  cpSync(`${root}page/static/${f}`, f.endsWith('.html') ? `${out}/${f}` : `${out}/assets/${f}`);
}

if (watch) {
  const { context } = await import('esbuild');
  for (const page of Object.keys(PAGES)) await (await context(options(page))).watch();
  console.log('watching page/ for changes');
} else {
  const results = await Promise.all(Object.keys(PAGES).map((page) => build({ ...options(page), metafile: true })));
  const sizes = results.flatMap((r) => Object.entries(r.metafile.outputs))
    .filter(([f]) => f.endsWith('.js'))
    .map(([f, o]) => `${f.replace(`${root}`, '')} ${(o.bytes / 1024).toFixed(0)} KiB`);
  const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
  for (const f of files(out)) {
    const dest = join(target, relative(out, f));
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(f, dest);
  }
  rmSync(out, { recursive: true, force: true });
  console.log(`web-client: built ${sizes.join(', ').replaceAll(relative(root, out), relative(root, target))}`);
}
