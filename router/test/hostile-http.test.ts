// Slow HTTP (issue 13, attack 6): a POST to /api/session (the backend's
// route, mounted on the router's express app) whose body trickled in held its
// connection forever: node's requestTimeout and headersTimeout are enforced
// only for servers that listen themselves, and the router's HTTP server is
// fed sockets by its sniffing listener. Now every plain HTTP request on a
// router listener is on the listener's clocks (http_request_timeout for the
// body, http_keep_alive_timeout for the next request's headers, the hello
// timeout for the first request's headers), and connections serving plain
// HTTP are capped (max_http_connections). Asserted with raw sockets, one
// client and several at once: each slow connection is closed within its
// timeout plus a margin, and a normal request is answered meanwhile.
import t from 'tap';
import net from 'node:net';
import express from 'express';
import { startHostileRouter, loopbackAddresses, type HostileRouter } from './hostile-helpers.js';
import { testConfig } from './helpers.js';

const REQUEST_TIMEOUT = 800;
const KEEP_ALIVE_TIMEOUT = 600;
const HELLO_TIMEOUT = 1000;
const IDLE_TIMEOUT = 1500;
/** Margin for a loaded 2-core machine: the timers are unref'd and fire late under load. */
const MARGIN = 2000;

async function router(limits: Record<string, unknown>): Promise<HostileRouter> {
  const r = await startHostileRouter(testConfig({
    transportExtras: {
      limits: { http_request_timeout: REQUEST_TIMEOUT, http_keep_alive_timeout: KEEP_ALIVE_TIMEOUT, http_idle_timeout: IDLE_TIMEOUT, ...limits },
      rawsocket: { options: { hello_timeout: HELLO_TIMEOUT } },
      websocket: { ws: { type: 'websocket', options: { hello_timeout: HELLO_TIMEOUT } } },
    },
  }));
  // Like the backend's POST /api/session on the router's app (system/src/system.ts mounts it there).
  r.router.app.post('/api/session', express.json({ limit: '4kb' }), (req, res) => { res.json({ ok: true, name: (req.body as { name?: string }).name }); });
  return r;
}

/** A raw TCP client; resolves `closed` with the ms from `since` until the router closed it. */
function client(port: number, localAddress?: string): { socket: net.Socket; data: () => string; closedAfter: (since: number) => Promise<number> } {
  const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress !== undefined ? { localAddress } : {}) });
  let received = '';
  socket.on('data', (d) => { received += d.toString('latin1'); });
  socket.on('error', () => {});
  const closed = new Promise<number>((res) => socket.once('close', () => res(performance.now())));
  return { socket, data: () => received, closedAfter: async (since) => (await closed) - since };
}

async function normalPost(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"ann"}' });
  await res.text();
  return res.status;
}

t.test('one slow client', async (t) => {
  const r = await router({});
  t.teardown(() => r.stop());

  await t.test('a POST body that trickles is cut off after http_request_timeout', async (t) => {
    const c = client(r.port);
    await new Promise((res) => c.socket.once('connect', res));
    c.socket.write('POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"na');
    const since = performance.now();
    const trickle = setInterval(() => { if (!c.socket.destroyed) c.socket.write('a'); }, 100);
    const after = await c.closedAfter(since);
    clearInterval(trickle);
    t.ok(after >= REQUEST_TIMEOUT - 20 && after < REQUEST_TIMEOUT + MARGIN, `closed ${after.toFixed(0)} ms after the headers (timeout ${REQUEST_TIMEOUT} ms), although bytes kept coming`);
    t.equal(await normalPost(r.port), 200, 'a normal POST is answered');
  });

  await t.test('headers that trickle: the first request within the hello timeout', async (t) => {
    const c = client(r.port);
    await new Promise((res) => c.socket.once('connect', res));
    const since = performance.now();
    c.socket.write('GET /health HTTP/1.1\r\n');
    // One valid header line every 100 ms: the request is never complete, and never malformed.
    const trickle = setInterval(() => { if (!c.socket.destroyed) c.socket.write('X-Slow: 1\r\n'); }, 100);
    const after = await c.closedAfter(since);
    clearInterval(trickle);
    t.ok(after >= HELLO_TIMEOUT / 2 && after < HELLO_TIMEOUT + MARGIN, `closed after ${after.toFixed(0)} ms (hello timeout ${HELLO_TIMEOUT} ms)`);
    t.equal(c.data(), '', 'without an answer');
  });

  await t.test('keep-alive: the next request\'s headers within http_keep_alive_timeout, however slowly they trickle', async (t) => {
    const c = client(r.port);
    await new Promise((res) => c.socket.once('connect', res));
    c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    while (!/\r\n\r\n\{[^}]*\}/.test(c.data())) await new Promise((res) => setTimeout(res, 10));
    t.match(c.data(), /^HTTP\/1\.1 200/, 'the first request is answered');
    const since = performance.now();
    c.socket.write('GET /health HTTP/1.1\r\n');
    const trickle = setInterval(() => { if (!c.socket.destroyed) c.socket.write('X-Slow: 1\r\n'); }, 100);
    const after = await c.closedAfter(since);
    clearInterval(trickle);
    t.ok(after >= KEEP_ALIVE_TIMEOUT / 2 && after < KEEP_ALIVE_TIMEOUT + MARGIN, `closed ${after.toFixed(0)} ms after the response (keep-alive timeout ${KEEP_ALIVE_TIMEOUT} ms)`);
  });

  await t.test('a response the app never finishes: closed after http_idle_timeout of silence', async (t) => {
    r.router.app.get('/hangs', () => { /* never answers */ });
    const c = client(r.port);
    await new Promise((res) => c.socket.once('connect', res));
    c.socket.write('GET /hangs HTTP/1.1\r\nHost: x\r\n\r\n');
    const since = performance.now();
    const after = await c.closedAfter(since);
    t.ok(after >= IDLE_TIMEOUT / 2 && after < IDLE_TIMEOUT + MARGIN, `closed ${after.toFixed(0)} ms after the request (idle timeout ${IDLE_TIMEOUT} ms)`);
  });

  await t.test('a request whose body arrived is not cut off while the app works on it', async (t) => {
    r.router.app.post('/slow-app', express.json(), (_req, res) => { setTimeout(() => res.json({ done: true }), REQUEST_TIMEOUT + 400); });
    const res = await fetch(`http://127.0.0.1:${r.port}/slow-app`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    t.same(await res.json(), { done: true }, 'answered after longer than http_request_timeout');
  });
  t.ok(r.router.limitCounters.httpTimeouts >= 1, 'timeouts are counted');
});

t.test('max_http_connections', async (t) => {
  const r = await router({ max_http_connections: 3 });
  t.teardown(() => r.stop());
  const held = [client(r.port), client(r.port), client(r.port)];
  for (const c of held) {
    await new Promise((res) => c.socket.once('connect', res));
    c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  }
  for (const c of held) while (!/^HTTP\/1\.1 200/.test(c.data())) await new Promise((res) => setTimeout(res, 10));
  const res = await fetch(`http://127.0.0.1:${r.port}/health`);
  t.equal(res.status, 503, 'a fourth connection serving plain HTTP gets 503');
  t.match(await res.text(), /max_http_connections 3/);
  t.ok(r.router.limitCounters.httpConnectionsRefused >= 1, 'counted');
  for (const c of held) c.socket.destroy();
  await new Promise((res) => setTimeout(res, 100));
  t.equal((await fetch(`http://127.0.0.1:${r.port}/health`)).status, 200, 'once they are gone, HTTP is served again');
});

/** A client's WebSocket text frame (masked, as RFC 6455 requires of clients; payloads under 126 bytes). */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4]!)]);
}

t.test('a kept-alive connection upgraded to WebSocket is off the HTTP clocks and count', async (t) => {
  // Node 22+'s own WebSocket (undici's) upgrades a connection that an earlier fetch() to the same
  // origin left idle in its pool; the keep-alive clock of that fetch's response dropped the
  // WebSocket http_keep_alive_timeout later (seen as players "lost" on Node 24).
  const r = await router({ max_http_connections: 1 });
  t.teardown(() => r.stop());
  const c = client(r.port);
  await new Promise((res) => c.socket.once('connect', res));
  c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!/\r\n\r\n\{[^}]*\}/.test(c.data())) await new Promise((res) => setTimeout(res, 10));
  const answered = c.data().length;
  c.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n');
  while (!/HTTP\/1\.1 101/.test(c.data().slice(answered))) await new Promise((res) => setTimeout(res, 10));
  c.socket.write(maskedText('[1,"realm1",{"roles":{"caller":{}}}]'));
  while (!c.data().includes('[2,')) await new Promise((res) => setTimeout(res, 10));
  t.pass('the same connection upgraded and was welcomed');
  t.equal((await fetch(`http://127.0.0.1:${r.port}/health`)).status, 200, 'it no longer counts against max_http_connections 1');
  await new Promise((res) => setTimeout(res, KEEP_ALIVE_TIMEOUT + MARGIN));
  t.notOk(c.socket.destroyed, `still open ${KEEP_ALIVE_TIMEOUT + MARGIN} ms later (keep-alive timeout ${KEEP_ALIVE_TIMEOUT} ms)`);
  c.socket.write(maskedText('[48,1,{},"wamp.session.count"]'));
  while (!/\[50,1,/.test(c.data()) && !c.socket.destroyed) await new Promise((res) => setTimeout(res, 10));
  t.match(c.data(), /\[50,1,\{\},\[1\]\]/, 'and its session answers a call');
  c.socket.destroy();
});

t.test('twenty slow clients at once', async (t) => {
  const r = await router({});
  t.teardown(() => r.stop());
  const clients = loopbackAddresses(20, 60).map((a) => client(r.port, a));
  await Promise.all(clients.map((c) => new Promise((res) => c.socket.once('connect', res))));
  for (const c of clients) c.socket.write('POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{');
  const since = performance.now();
  const trickle = setInterval(() => { for (const c of clients) if (!c.socket.destroyed) c.socket.write(' '); }, 100);
  const served: number[] = [];
  const normal = (async () => { for (let i = 0; i < 5; i++) { served.push(await normalPost(r.port)); await new Promise((res) => setTimeout(res, 100)); } })();
  const after = await Promise.all(clients.map((c) => c.closedAfter(since)));
  clearInterval(trickle);
  await normal;
  t.ok(after.every((ms) => ms < REQUEST_TIMEOUT + MARGIN), `all closed within ${REQUEST_TIMEOUT + MARGIN} ms (slowest ${Math.max(...after).toFixed(0)} ms)`);
  t.same(served, [200, 200, 200, 200, 200], 'normal requests were answered meanwhile');
});
