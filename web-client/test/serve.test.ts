// The express router that serves the built pages, on a real HTTP server.
import t from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { webClient } from '../src/index.js';

async function serve(app: express.Express): Promise<{ base: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

function fakeBuild(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-web-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>player</title>');
  writeFileSync(join(dir, 'operator.html'), '<!doctype html><title>operator</title>');
  writeFileSync(join(dir, 'assets', 'player.js'), 'console.log(1)');
  return dir;
}

t.test('player page at /, dashboard at /operator, bundles under /assets, config as JSON', async (t) => {
  const app = express();
  app.use(webClient({ dir: fakeBuild(), videoUrls: { 'claw-1': 'http://cam/1.mjpg' } }));
  const { base, close } = await serve(app);
  t.teardown(close);

  const index = await fetch(`${base}/`);
  t.equal(index.status, 200);
  t.match(await index.text(), /<title>player/);
  t.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  t.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  t.equal(index.headers.get('x-content-type-options'), 'nosniff');

  for (const path of ['/operator', '/operator/']) {
    const op = await fetch(`${base}${path}`);
    t.equal(op.status, 200, path);
    t.match(await op.text(), /<title>operator/);
  }

  const js = await fetch(`${base}/assets/player.js`);
  t.equal(js.status, 200);
  t.match(js.headers.get('content-type') ?? '', /javascript/);
  t.equal((await fetch(`${base}/assets/nope.js`)).status, 404);
  t.equal((await fetch(`${base}/assets/%2e%2e/index.html`)).status, 404, 'no way out of the assets directory');

  const cfg = await fetch(`${base}/client-config.json`);
  t.same(await cfg.json(), { wsPath: '/ws', realm: 'claw', videoUrls: { 'claw-1': 'http://cam/1.mjpg' } });
  t.equal(cfg.headers.get('cache-control'), 'no-store');
});

t.test('a missing build says how to build it instead of a bare 404', async (t) => {
  const app = express();
  app.use(webClient({ dir: join(tmpdir(), 'clawgate-no-such-build') }));
  const { base, close } = await serve(app);
  t.teardown(close);
  const res = await fetch(`${base}/`);
  t.equal(res.status, 503);
  t.match(await res.text(), /npm run build -w web-client/);
});

t.test('the real build (npm install runs it) has both pages and both bundles', async (t) => {
  const { publicDir } = await import('../src/index.js');
  const app = express();
  app.use(webClient());
  const { base, close } = await serve(app);
  t.teardown(close);
  for (const path of ['/', '/operator', '/assets/player.js', '/assets/operator.js', '/assets/style.css']) {
    const res = await fetch(`${base}${path}`);
    t.equal(res.status, 200, `${path} (from ${publicDir})`);
  }
  const player = await (await fetch(`${base}/assets/player.js`)).text();
  t.notMatch(player, /require\(["'](stream|buffer|util)["']\)/, 'no Node built-ins left in the browser bundle');
});
