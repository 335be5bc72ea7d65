// Crossbar's web resources (issue 23): `static`, `json`, `redirect` and
// `nodeinfo` paths on a real router's web listener, shaped as Crossbar's
// examples write them (the page at `/`, the WAMP endpoint at `ws`, the
// directory relative to the config file's folder), requested over real HTTP,
// including traversal attempts with raw request lines.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Router, loadConfigFile, ConfigError } from '../src/index.js';
import { silentLogger } from '../src/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'clawgate-web-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
// Crossbar's layout: the config in .crossbar/, the page one folder up.
mkdirSync(join(dir, '.crossbar'));
mkdirSync(join(dir, 'web', 'js'), { recursive: true });
mkdirSync(join(dir, 'assets'));
writeFileSync(join(dir, 'web', 'index.html'), '<h1>hello from the example</h1>\n');
writeFileSync(join(dir, 'web', 'js', 'app.js'), 'console.log("app");\n');
writeFileSync(join(dir, 'web', '.env'), 'SECRET=1\n');
writeFileSync(join(dir, 'assets', 'model.wasm'), Buffer.from([0, 97, 115, 109]));
writeFileSync(join(dir, 'outside.txt'), 'must never be served\n');

function config(paths: Record<string, unknown>, second?: Record<string, unknown>): Record<string, unknown> {
  const transport = (p: Record<string, unknown>) => ({ type: 'web', endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' }, paths: p });
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }] }] }],
      transports: [transport(paths), ...(second ? [transport(second)] : [])],
    }],
  };
}

function load(raw: Record<string, unknown>): ReturnType<typeof loadConfigFile> {
  const file = join(dir, '.crossbar', 'config.json');
  writeFileSync(file, JSON.stringify(raw));
  return loadConfigFile(file);
}

/** One request with a raw request line (fetch would normalise `..` away). */
function rawGet(port: number, target: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    let data = '';
    s.on('data', (d) => { data += d.toString('latin1'); });
    s.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0), text: data }));
    s.on('error', reject);
  });
}

t.test('static, json, redirect and nodeinfo paths beside the WAMP endpoint', async (t) => {
  const { config: rc, unsupported } = load(config({
    '/': { type: 'static', directory: '../web', options: { enable_directory_listing: true } },
    ws: { type: 'websocket' },
    assets: { type: 'static', directory: '../assets', options: { cache_timeout: 60, mime_types: { '.wasm': 'application/wasm' } } },
    config: { type: 'json', value: { realm: 'realm1', url: 'ws://localhost/ws' }, options: { allow_cross_origin: true, discourage_caching: true } },
    old: { type: 'redirect', url: 'https://example.com/new' },
    info: { type: 'nodeinfo' },
  }, { other: { type: 'json', value: [1, 2] } }));
  t.same(unsupported, ['workers[0].transports[0].paths./.options.enable_directory_listing (directories are not listed)'], 'only the directory listing is named as not done');
  const router = await new Router(rc, { log: silentLogger() }).start();
  t.teardown(() => router.stop());
  const [port, otherPort] = Object.values(router.ports()) as [number, number];
  const base = `http://127.0.0.1:${port}`;

  const index = await fetch(`${base}/`);
  t.equal(index.status, 200);
  t.equal(await index.text(), '<h1>hello from the example</h1>\n', 'the index page at /');
  t.match(index.headers.get('cache-control'), /max-age=43200/, "Crossbar's default cache timeout, 12 h");
  t.ok(index.headers.get('etag'), 'an ETag');
  const js0 = await fetch(`${base}/js/app.js`);
  await js0.arrayBuffer();
  // node:http, not fetch: fetch adds `cache-control: no-cache` to a conditional request, which rightly defeats it.
  const cond = await new Promise<number>((resolve, reject) => {
    http.get(`${base}/js/app.js`, { headers: { 'if-none-match': js0.headers.get('etag')! } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
  });
  t.equal(cond, 304, 'conditional GET: 304');
  const js = await fetch(`${base}/js/app.js`);
  t.equal(await js.text(), 'console.log("app");\n', 'a file below /');
  t.match(js.headers.get('content-type'), /javascript/);
  t.equal((await fetch(`${base}/index.html`, { method: 'HEAD' })).status, 200, 'HEAD');

  const wasm = await fetch(`${base}/assets/model.wasm`);
  t.equal(wasm.headers.get('content-type'), 'application/wasm', 'mime_types');
  t.match(wasm.headers.get('cache-control'), /max-age=60/, 'cache_timeout');

  t.equal((await fetch(`${base}/.env`)).status, 404, 'dotfiles are not served');
  t.equal((await fetch(`${base}/nope.html`)).status, 404, 'a missing file: 404');
  t.equal((await fetch(`${base}/js/app.js`, { method: 'POST' })).status, 404, 'POST is not served from files');
  for (const target of ['/../outside.txt', '/%2e%2e/outside.txt', '/js/..%2f..%2foutside.txt', '/assets/..%2f..%2foutside.txt', '/%2e%2e%5coutside.txt', '/js/%00']) {
    const r = await rawGet(port, target);
    t.notOk(r.text.includes('must never be served'), `${target}: nothing from outside the directory (${r.status})`);
    t.ok(r.status >= 400 && r.status < 500, `${target}: refused with ${r.status}`);
  }

  const cfg = await fetch(`${base}/config`);
  t.same(await cfg.json(), { realm: 'realm1', url: 'ws://localhost/ws' }, 'json value');
  t.equal(cfg.headers.get('access-control-allow-origin'), '*', 'allow_cross_origin');
  t.equal(cfg.headers.get('cache-control'), 'no-store', 'discourage_caching');
  const old = await fetch(`${base}/old`, { redirect: 'manual' });
  t.equal(old.status, 302);
  t.equal(old.headers.get('location'), 'https://example.com/new', 'redirect');
  const info = await fetch(`${base}/info`);
  t.match(await info.text(), /ClawGate WAMP router.*1 realm\(s\)/s, 'nodeinfo');

  t.equal((await fetch(`${base}/other`)).status, 404, "another listener's path is not served here");
  t.same(await (await fetch(`http://127.0.0.1:${otherPort}/other`)).json(), [1, 2], 'but on its own listener');
  t.equal((await fetch(`http://127.0.0.1:${otherPort}/`)).status, 404, 'and that listener has no static root');

  // The WAMP endpoint beside the page still works.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['wamp.2.json']);
  const welcome = await new Promise<unknown>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify([1, 'realm1', { roles: { subscriber: {} } }])));
    ws.on('message', (m) => resolve(JSON.parse(m.toString())));
    ws.on('error', reject);
  });
  t.equal((welcome as unknown[])[0], 2, 'WELCOME on /ws');
  ws.close();
});

t.test('config errors and skipped parts', async (t) => {
  const err = (paths: Record<string, unknown>): string => {
    try { load(config(paths)); return 'no error'; } catch (e) { return e instanceof ConfigError ? e.message : String(e); }
  };
  t.match(load(config({ '/': { type: 'static', directory: '../missing' } })).unsupported.join(' '), /^workers\[0\]\.transports\[0\]\.paths\.\/\.directory \(.*missing does not exist: 404 until it does\)$/, 'a directory that does not exist yet: a warning, as Crossbar starts');
  t.match(err({ '/': { type: 'static', directory: '../web/index.html' } }), /index\.html is not a directory/);
  t.match(err({ '/': { type: 'static' } }), /paths\.\/\.directory: a static path needs a directory/);
  t.match(err({ old: { type: 'redirect' } }), /paths\.old\.url: Required/);
  t.match(err({ '/': { type: 'static', directory: '../web', optoins: {} } }), /paths\.\/\.optoins: unknown key; did you mean "options"/);
  const { unsupported, config: rc } = load(config({ '/': { type: 'static', package: 'crossbar', resource: 'web' } }));
  t.same(unsupported, ['workers[0].transports[0].paths./ (static files from Python package "crossbar")'], 'Python package resources: skipped with a warning');
  t.equal(rc.web, undefined, 'nothing served for them');
});
