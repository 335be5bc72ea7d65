// Unix-domain socket endpoints (Crossbar's `endpoint.type: unix`, issue 23):
// WebSocket, RawSocket and HTTP on one universal listener bound to a socket
// file, with real clients; its peers are local processes (named `unix`, not
// counted per address); a stale socket file left by a killed process is
// replaced, a live one is not; the file is gone after stop().
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { Router, loadConfigFile, fromCrossbar, ConfigError } from '../src/index.js';
import { silentLogger } from '../src/logger.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-unix-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const allowAll = { uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } };
function config(endpoint: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [allowAll] }] }],
      transports: [{
        type: 'universal', id: 'local', endpoint,
        rawsocket: {}, websocket: { ws: { type: 'websocket' } },
        web: { paths: { config: { type: 'json', value: { via: 'unix' } } } },
        ...extra,
      }],
    }],
  };
}

async function start(raw: Record<string, unknown>): Promise<Router> {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(raw));
  return new Router(loadConfigFile(file).config, { log: silentLogger() }).start();
}

function get(socketPath: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: p }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** HELLO over WebSocket on the socket file; the WELCOME, the socket kept open. */
function wsJoin(socketPath: string): Promise<{ ws: WebSocket; welcome: unknown[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws+unix://${socketPath}:/ws`, ['wamp.2.json']);
    ws.on('open', () => ws.send(JSON.stringify([1, 'realm1', { roles: { caller: {} } }])));
    ws.once('message', (m) => resolve({ ws, welcome: JSON.parse(m.toString()) as unknown[] }));
    ws.on('error', reject);
  });
}

/** The RawSocket handshake (JSON) and HELLO on the socket file; the WELCOME. */
function rawJoin(socketPath: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let buf = Buffer.alloc(0);
    let shook = false;
    s.on('connect', () => s.write(Buffer.from([0x7f, 0xf1, 0, 0])));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!shook && buf.length >= 4) {
        shook = true;
        buf = buf.subarray(4);
        const hello = Buffer.from(JSON.stringify([1, 'realm1', { roles: { caller: {} } }]));
        const h = Buffer.alloc(4);
        h.writeUInt32BE(hello.length);
        s.write(Buffer.concat([h, hello]));
      }
      if (shook && buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        resolve(JSON.parse(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString()) as unknown[]);
        s.destroy();
      }
    });
    s.on('error', reject);
  });
}

t.test('WebSocket, RawSocket and HTTP on a socket file', async (t) => {
  const router = await start(config({ type: 'unix', path: 'router.sock' }, { limits: { max_connections_per_address: 2 } }));
  const sock = path.join(dir, 'router.sock');
  t.ok(fs.lstatSync(sock).isSocket(), 'the socket file, relative to the config file\'s folder');
  t.equal(router.ports().local, 0, 'no TCP port');

  t.same(await get(sock, '/config'), { status: 200, body: '{"via":"unix"}' }, 'an HTTP path of the listener');
  t.equal((await get(sock, '/health')).status, 200, '/health');

  // Local peers are not counted per address: more connections than max_connections_per_address (2).
  const joined = await Promise.all([1, 2, 3, 4].map(() => wsJoin(sock)));
  t.same(joined.map((j) => j.welcome[0]), [2, 2, 2, 2], 'four WebSocket sessions from one local "address"');
  t.equal((await rawJoin(sock))[0], 2, 'RawSocket too');

  // What the meta API reports for such a session.
  const ws = joined[0]!.ws;
  const own = (joined[0]!.welcome[1]) as number;
  const details = await new Promise<Record<string, unknown>>((resolve) => {
    ws.on('message', (m) => { const msg = JSON.parse(m.toString()) as unknown[]; if (msg[0] === 50) resolve((msg[3] as unknown[])[0] as Record<string, unknown>); });
    ws.send(JSON.stringify([48, 1, {}, 'wamp.session.get', [own]]));
  });
  t.match(details, { transport: { peer: 'unix' } }, 'the peer is "unix"');
  for (const j of joined) j.ws.close();

  await router.stop();
  t.notOk(fs.existsSync(sock), 'the socket file is removed on stop');
});

t.test('a stale socket file is replaced; a live one is not taken over', async (t) => {
  const sock = path.join(dir, 'stale.sock');
  // A process that listens and is killed leaves its socket file behind.
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => child.stdout!.once('data', r));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.ok(fs.lstatSync(sock).isSocket(), 'the killed process left its socket file');
  const router = await start(config({ type: 'unix', path: 'stale.sock' }));
  t.equal((await get(sock, '/health')).status, 200, 'the router listens on it after all');

  await t.rejects(start(config({ type: 'unix', path: 'stale.sock' })), /stale\.sock is in use by another process/, 'a second router does not steal a live socket');
  await router.stop();

  fs.writeFileSync(path.join(dir, 'plain.sock'), 'not a socket');
  await t.rejects(start(config({ type: 'unix', path: 'plain.sock' })), /plain\.sock exists and is not a socket/, 'a regular file is never removed');
});

t.test('config errors', async (t) => {
  const err = (raw: Record<string, unknown>): string => { try { fromCrossbar(raw, { baseDir: dir }); return 'no error'; } catch (e) { return e instanceof ConfigError ? e.message : String(e); } };
  t.match(err(config({ type: 'unix', path: 'a.sock' }, { trusted_proxies: ['loopback'] })), /transports\[0\]\.trusted_proxies: a Unix-socket listener's peers have no address to trust/);
  const two = config({ type: 'unix', path: 'a.sock' }) as { workers: { transports: unknown[] }[] };
  two.workers[0]!.transports.push({ type: 'rawsocket', endpoint: { type: 'unix', path: './a.sock' } });
  t.match(err(two), /transports\[1\]\.endpoint\.path: .*a\.sock is already used by workers\[0\]\.transports\[0\]/);
  t.match(err(config({ type: 'unix' })), /endpoint\.path: Required/);
});
