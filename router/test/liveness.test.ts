// Connection liveness (issue 20 item 2): the router pings connections it has
// not heard from (auto_ping_interval) and drops those that answer nothing
// within auto_ping_timeout; the session then leaves as a lost connection
// does (on_leave, testaments). A socket that reads nothing (WebSocket and
// RawSocket) and a client process paused with SIGSTOP; a quiet but healthy
// autobahn-js client stays; the sweep's decision alone.
import t from 'tap';
import { spawn } from 'node:child_process';
import { startRouter, testConfig, connect, sleep, eventually } from './helpers.js';
import { Wire, type WireKind } from './wire.js';
import { fromCrossbar } from '../src/config/crossbar-config.js';
import { livenessAction, sweepStepMs, LivenessSweep, type Pingable } from '../src/transport/liveness.js';

const INTERVAL = 400;
const TIMEOUT = 400;
/** Generous: the machine is shared and loaded; the bound under test is interval + timeout (+ the sweep's step). */
const SLACK = 4000;

function pingConfig(): unknown {
  const options = { auto_ping_interval: INTERVAL, auto_ping_timeout: TIMEOUT, auto_ping_size: 16 };
  return testConfig({ transportExtras: { rawsocket: { options }, websocket: { ws: { type: 'websocket', options } } } });
}

/** A session that leaves a testament on com.live.gone, naming itself. */
async function withTestament(w: Wire, name: string): Promise<void> {
  await w.join();
  const res = await w.call(w.request(), 'wamp.session.add_testament', ['com.live.gone', [name]]);
  if (res[0] !== 50) throw new Error(`add_testament failed: ${JSON.stringify(res)}`);
}

t.test('the sweep decides: alive, ping, wait, drop', async (t) => {
  const cfg = { intervalMs: 1000, timeoutMs: 500 };
  t.equal(livenessAction(5000, true, { lastHeard: 0, pingSentAt: 0 }, cfg), 'alive', 'heard since the last sweep');
  t.equal(livenessAction(900, false, { lastHeard: 0, pingSentAt: 0 }, cfg), 'wait', 'quiet, but not for an interval');
  t.equal(livenessAction(1000, false, { lastHeard: 0, pingSentAt: 0 }, cfg), 'ping', 'quiet for an interval');
  t.equal(livenessAction(1400, false, { lastHeard: 0, pingSentAt: 1000 }, cfg), 'wait', 'ping out, timeout not over');
  t.equal(livenessAction(1500, false, { lastHeard: 0, pingSentAt: 1000 }, cfg), 'drop', 'no answer within the timeout');
  t.equal(livenessAction(9e9, false, { lastHeard: 0, pingSentAt: 1000 }, { intervalMs: 1000, timeoutMs: Infinity }), 'wait', 'auto_ping_timeout 0: pings only');
  t.equal(sweepStepMs([{ intervalMs: 20000, timeoutMs: 10000, payload: Buffer.alloc(4) }]), 2500);
  t.equal(sweepStepMs([{ intervalMs: 40, timeoutMs: 40, payload: Buffer.alloc(4) }]), 25, 'at least 25 ms');

  // The sweep over three connections: one chatty, one that answers the ping, one silent.
  const sweep = new LivenessSweep(1000);
  const events: string[] = [];
  const conn = (name: string, answers: boolean): Pingable & { name: string } => {
    const c = {
      name, heard: false, liveness: { intervalMs: 100, timeoutMs: 100, payload: Buffer.alloc(4) },
      ping() { events.push(`ping ${name}`); if (answers) c.heard = true; },
      dead() { events.push(`dead ${name}`); },
    };
    return c;
  };
  const chatty = conn('chatty', true);
  const answering = conn('answering', true);
  const silent = conn('silent', false);
  for (const c of [chatty, answering, silent]) sweep.add(c);
  const t0 = Date.now();
  for (let step = 1; step <= 6; step++) {
    chatty.heard = true;
    sweep.sweep(t0 + step * 60);
  }
  t.same(events, ['ping answering', 'ping silent', 'dead silent', 'ping answering'], 'the chatty one is never pinged; the silent one is dropped once');
  t.equal(sweep.size, 2, 'the dropped connection left the sweep');
  sweep.stop();
});

for (const kind of ['ws', 'raw'] as WireKind[]) {
  t.test(`${kind}: a client that stops reading is dropped within interval + timeout; its testament fires`, async (t) => {
    const r = await startRouter(pingConfig());
    t.teardown(() => r.stop());
    const watcher = await connect({ port: r.port });
    const left: unknown[] = [];
    const wills: unknown[] = [];
    await watcher.session.subscribe('wamp.session.on_leave', (args: unknown[]) => left.push(args[0]));
    await watcher.session.subscribe('com.live.gone', (args: unknown[]) => wills.push(args[0]));

    const quiet = await Wire.open({ kind, port: r.port });
    await withTestament(quiet, `${kind}-quiet`);
    const id = quiet.sessionId;
    // Stop reading: the router's pings pile up unanswered in the socket buffers, and nothing is sent.
    quiet.socket.pause();
    const paused = Date.now();
    await eventually(() => wills.includes(`${kind}-quiet`), INTERVAL + TIMEOUT + SLACK, 'the testament');
    const took = Date.now() - paused;
    t.ok(took >= TIMEOUT, `dropped after ${took} ms: not before a ping could time out`);
    t.ok(took <= INTERVAL + TIMEOUT + SLACK, `dropped within interval + timeout (${INTERVAL} + ${TIMEOUT} ms, with ${SLACK} ms of slack for a loaded machine)`);
    await eventually(() => left.includes(id), 2000, 'on_leave');
    t.ok(r.router.limitCounters.pingTimeouts >= 1, 'counted (clawgate_limit_events_total{kind="ping_timeouts"})');
    watcher.connection.close();
  });
}

t.test('a client process paused with SIGSTOP is dropped, its testament fires', async (t) => {
  const r = await startRouter(pingConfig());
  t.teardown(() => r.stop());
  const watcher = await connect({ port: r.port });
  const wills: unknown[] = [];
  await watcher.session.subscribe('com.live.gone', (args: unknown[]) => wills.push(args[0]));
  // A separate node process: HELLO, a testament, then "ready"; ws answers pings as long as it runs.
  const script = `
    const WebSocket = require('ws');
    const ws = new WebSocket('ws://127.0.0.1:${r.port}/ws', 'wamp.2.json');
    ws.on('open', () => ws.send(JSON.stringify([1, 'realm1', { roles: { caller: {} } }])));
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m[0] === 2) ws.send(JSON.stringify([48, 1, {}, 'wamp.session.add_testament', ['com.live.gone', ['stopped']]]));
      if (m[0] === 50) console.log('ready');
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { if (String(d).includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before it was ready`)));
  });
  // Still there after a few intervals while it runs: it answers pings.
  await sleep(3 * (INTERVAL + TIMEOUT));
  t.same(wills, [], 'a running client that answers pings is not dropped');
  child.kill('SIGSTOP');
  const stopped = Date.now();
  await eventually(() => wills.includes('stopped'), INTERVAL + TIMEOUT + SLACK, 'the testament of the stopped client');
  const took = Date.now() - stopped;
  t.ok(took <= INTERVAL + TIMEOUT + SLACK, `dropped ${took} ms after SIGSTOP`);
  child.kill('SIGKILL');
  watcher.connection.close();
});

t.test('a quiet autobahn-js client and a quiet RawSocket Wire answer the pings and stay', async (t) => {
  const r = await startRouter(pingConfig());
  t.teardown(() => r.stop());
  const ab = await connect({ port: r.port });
  const raw = await Wire.open({ kind: 'raw', port: r.port });
  await raw.join();
  await sleep(4 * (INTERVAL + TIMEOUT));
  t.equal(ab.session.isOpen, true, 'autobahn-js (ws answers pings)');
  t.notOk(raw.isClosed, 'RawSocket (the Wire answers PING with PONG)');
  t.equal(r.router.limitCounters.pingTimeouts, 0);
  t.same((await raw.call(raw.request(), 'wamp.session.count'))[3], [2], 'both still joined');
  ab.connection.close();
  raw.close();
});

t.test('config: Crossbar keys accepted, no warning; bad values refused', async (t) => {
  const { config, unsupported } = fromCrossbar(pingConfig());
  t.notOk(unsupported.some((k) => k.includes('auto_ping')), 'no "not supported" warning for auto_ping_*');
  const ws = config.listeners[0]!.websocket.get('/ws')!;
  t.match(ws.limits.liveness, { intervalMs: INTERVAL, timeoutMs: TIMEOUT });
  t.equal(ws.limits.liveness!.payload.length, 16, 'auto_ping_size');
  const off = fromCrossbar(testConfig()).config.listeners[0]!.websocket.get('/ws')!;
  t.equal(off.limits.liveness, null, 'off unless configured (Crossbar\'s default)');
  const bad = (options: Record<string, unknown>): unknown => testConfig({ transportExtras: { websocket: { ws: { type: 'websocket', options } } } });
  t.throws(() => fromCrossbar(bad({ auto_ping_interval: 1000, auto_ping_size: 200 })), /auto_ping_size/);
  t.throws(() => fromCrossbar(bad({ auto_ping_interval: -1 })), /auto_ping_interval/);
  const pingsOnly = fromCrossbar(bad({ auto_ping_interval: 1000 })).config.listeners[0]!.websocket.get('/ws')!;
  t.equal(pingsOnly.limits.liveness!.timeoutMs, Infinity, 'no timeout: pings only, never dropped');
});
