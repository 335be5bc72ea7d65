#!/usr/bin/env node
// Router cluster benchmark (issue 18): a plain router (no `cluster`) and two
// cluster nodes on one real nats-server, side by side in one run, on
// 127.0.0.1. Every point is measured in rounds; within a round the
// configurations of a point run back to back (their order alternates between
// rounds), so each comparison is a ratio or difference taken within a round.
//
//   npm run bench:cluster                      # 3 rounds, ~4-5 min
//   npm run bench:cluster -- --quick           # 1 round, short windows (smoke run)
//   node bench/cluster.js --rounds 5 --only 'call|fanout' --json
//
// Processes: nats-server (JetStream, temp store dir, free port, monitoring
// port for its message counters), three routers started as run.js starts
// ours (bench/targets/router-src.js: the CLI from router/src through tsx,
// the bench config of lib/router-config.js), "plain" without cluster and
// "n1", "n2" with `--node NAME --nats URL`. The load (raw WAMP over ws, JSON,
// as loadgen.js) runs in this process; it is idle between points, so its
// CPU over a window is the load generator's. CPU of every process is read
// from /proc at the two instants that bound each window. Everything is
// stopped at the end (and on SIGINT/SIGTERM). call-light's topology floor
// adds, for its own configuration only, two null relays
// (targets/null-relay.js) on the same nats-server.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { BENCH, WebSocket, routerRequire } from './lib/deps.js';
import { T, HELLO_DETAILS, codecs } from './lib/wamp.js';
import { cpuSeconds, cpusAllowed, hostTicks } from './lib/proc.js';
import { median, percentile, round } from './lib/stats.js';
import { routerConfig } from './lib/router-config.js';

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const has = (f) => argv.includes(f);
const arg = (f, d) => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] : d; };
if (has('-h') || has('--help')) {
  console.log(`usage: node bench/cluster.js [--rounds N] [--quick] [--only REGEX] [--fanout N] [--json] [--profile] [--out FILE] [--nats-server PATH]
  --rounds N     rounds of every point (default 3; --quick 1)
  --quick        short windows (0.3 s warm-up + 1 s), one round: a smoke run
  --only REGEX   points whose id matches (call-light, publish-light, call-saturate,
                 publish-saturate, fanout, two-vs-one)
  --fanout N     subscribers of the fan-out point (default 1000)
  --json         print the JSON rows on stdout too
  --profile      run the routers under node --cpu-prof (bench/results/prof-cluster-*/NODE/; bench/profile.js reads them)
  --out FILE     JSONL file (default bench/results/cluster-<date>.jsonl, appended)
Pinned: 'taskset -c 0 node bench/cluster.js ...' runs every process of the bench on CPU 0 (the
processes it starts inherit the affinity; each row records it as "cpus").`);
  process.exit(0);
}
const QUICK = has('--quick');
const ROUNDS = Math.max(1, Number(arg('--rounds', QUICK ? 1 : 3)));
const ONLY = arg('--only') ? new RegExp(arg('--only')) : null;
const JSON_OUT = has('--json');
const PROFILE = has('--profile');
const NATS_SERVER = arg('--nats-server', process.env.NATS_SERVER ?? '/usr/sbin/nats-server');
const W = QUICK ? { warm: 300, window: 1000 } : { warm: 700, window: 2000 };
const LIGHT_RATE = 200; // calls or publications per second at light load (run.js's light rate)
const FANOUT_N = Math.max(2, Number(arg('--fanout', 1000))); // subscribers of the fan-out point
const FANOUT_LIGHT_RATE = 20; // publications/s to 1000 subscribers: 20,000 deliveries/s
const SATURATE_K = 16; // callers in the saturated call points (run.js's key RPC point)

const HOPS = 'hops alone (2 null relays over NATS)'; // call-light's topology floor
const REALM = 'realm1';
const codec = codecs.json;
const PAYLOAD = { cmd: 'move', x: 0.25, y: -0.5, player: 'p-0001' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

// ---------------------------------------------------------------- processes

const children = new Set();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'clawgate-cluster-bench-'));
function killAll() {
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitPort(port, child, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${child.stderrTail()}`);
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port} within ${ms} ms: ${child.stderrTail()}`);
}

function launch(cmd, args) {
  const child = spawn(cmd, args, { cwd: BENCH, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let err = '';
  child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  child.stderrTail = () => err;
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  if ((await Promise.race([exited, sleep(5000).then(() => 'timeout')])) === 'timeout') { child.kill('SIGKILL'); await exited; }
}

/** nats-server with JetStream on a free port, a temp store, and its monitoring port (for /varz counters). */
async function startNats() {
  if (!existsSync(NATS_SERVER)) throw new Error(`no nats-server at ${NATS_SERVER} (apt-get install nats-server, or --nats-server PATH)`);
  const port = await freePort();
  const mport = await freePort();
  const dir = path.join(tmp, 'js');
  mkdirSync(dir);
  const child = launch(NATS_SERVER, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port), '-m', String(mport)]);
  await waitPort(port, child, 'nats-server');
  return { name: 'nats', child, pid: child.pid, url: `nats://127.0.0.1:${port}`, varzUrl: `http://127.0.0.1:${mport}/varz` };
}

/** in_msgs + out_msgs of the server so far (every message: node messages, heartbeats, key-value). */
async function natsMsgs(nats) {
  const v = await (await fetch(nats.varzUrl)).json();
  return { in: v.in_msgs, out: v.out_msgs };
}

/** Our router's CLI (router/src through tsx, as run.js --router src), a cluster node when `natsUrl` is given. */
async function startRouter(name, natsUrl) {
  const port = await freePort();
  const cfg = path.join(tmp, `${name}.json`);
  writeFileSync(cfg, JSON.stringify(routerConfig(port)));
  const cluster = natsUrl ? ['--node', name, '--nats', natsUrl] : [];
  const prof = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROF_DIR, name)}`] : [];
  const child = launch(process.execPath, [...prof, path.join(BENCH, 'targets/router-src.js'), '--config', cfg, '--log-level', 'warn', ...cluster]);
  await waitPort(port, child, `router ${name}`);
  return { name, child, pid: child.pid, url: `ws://127.0.0.1:${port}/` };
}

// ---------------------------------------------------------------- WAMP client (raw, JSON)

/** A session: HELLO → WELCOME; request ids per session 1, 2, 3, ... (the router ends a session that skips one). */
function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, codec.protocol, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    const c = { ws, req: 0, onMessage: null, waiting: null };
    c.send = (msg) => ws.send(JSON.stringify(msg));
    c.next = () => ++c.req;
    /** One request, waiting for `expect` (setup only: SUBSCRIBE, REGISTER). */
    c.request = (msg, expect) => new Promise((res, rej) => {
      c.waiting = (m) => { c.waiting = null; if (m[0] === expect) res(m); else rej(new Error(`${url}: expected ${expect}, got ${JSON.stringify(m)}`)); };
      c.send(msg);
    });
    c.subscribe = (topic) => c.request([T.SUBSCRIBE, c.next(), {}, topic], T.SUBSCRIBED);
    c.register = (proc, options = {}) => c.request([T.REGISTER, c.next(), options, proc], T.REGISTERED);
    c.close = () => ws.terminate();
    ws.on('error', (e) => reject(new Error(`${url}: ${e.message}`)));
    ws.on('open', () => c.send([T.HELLO, REALM, HELLO_DETAILS]));
    ws.on('message', (data) => {
      if (c.onMessage) return c.onMessage(data);
      const m = codec.decode(data);
      if (m[0] === T.WELCOME) { ws.removeAllListeners('error'); ws.on('error', () => {}); return resolve(c); }
      if (c.waiting) return c.waiting(m);
      reject(new Error(`${url}: unexpected ${JSON.stringify(m)}`));
    });
  });
}

async function pool(n, conc, fn) {
  let next = 0;
  const worker = async () => { while (next < n) await fn(next++); };
  await Promise.all(Array.from({ length: Math.min(n, conc) }, worker));
}

// ---------------------------------------------------------------- measurement

let PROCS = []; // [plain, n1, n2, nats]
let NATS = null;

/** `procs`: PROCS, then any process of the configuration alone (PROCS[3] stays nats-server). */
function snap(procs) {
  return { t: now(), self: process.cpuUsage(), cpu: procs.map((p) => cpuSeconds(p.pid)), host: hostTicks() };
}

/** CPU of every process over the window, in cores, and in µs per operation. */
function between(procs, a, b, ops, msgs) {
  const wall = (b.t - a.t) / 1000;
  const out = { wall_s: round(wall, 3), ops, host_busy: round(1 - (b.host.idle - a.host.idle) / (b.host.total - a.host.total), 2) };
  out.cpu = {};
  out.us_per_op = {};
  procs.forEach((p, i) => {
    const s = b.cpu[i] - a.cpu[i];
    out.cpu[p.name] = round(s / wall, 2);
    out.us_per_op[p.name] = ops > 0 ? round((s * 1e6) / ops, 2) : null;
  });
  const self = ((b.self.user - a.self.user) + (b.self.system - a.self.system)) / 1e6;
  out.cpu.loadgen = round(self / wall, 2);
  out.us_per_op.loadgen = ops > 0 ? round((self * 1e6) / ops, 2) : null;
  if (msgs) out.nats_msgs_per_op = ops > 0 ? round((msgs.in + msgs.out) / ops, 2) : null;
  if (msgs) out.nats_us_per_msg = msgs.in + msgs.out > 0 ? round((((b.cpu[3] - a.cpu[3]) * 1e6) / (msgs.in + msgs.out)), 2) : null;
  return out;
}

/** A measuring window of `ms`; `extra`: processes of this configuration alone ({name, pid}) whose CPU is read too. */
async function window(count, ms, extra = []) {
  const procs = [...PROCS, ...extra];
  const m0 = await natsMsgs(NATS);
  const c0 = count();
  const s0 = snap(procs);
  await sleep(ms);
  const s1 = snap(procs);
  const c1 = count();
  const m1 = await natsMsgs(NATS);
  return between(procs, s0, s1, c1 - c0, { in: m1.in - m0.in, out: m1.out - m0.out });
}

/** Waits until the routers and NATS are idle again (a cluster node deletes its sessions' entries after they leave), at most 4 s. */
async function settle() {
  const deadline = now() + 4000;
  let a = PROCS.map((p) => cpuSeconds(p.pid));
  while (now() < deadline) {
    await sleep(250);
    const b = PROCS.map((p) => cpuSeconds(p.pid));
    const busy = b.reduce((s, x, i) => s + x - a[i], 0) / 0.25;
    a = b;
    if (busy <= 0.08) return;
  }
}

function lat(samples) {
  const a = Float64Array.from(samples).sort();
  return { samples: a.length, p50_us: round(percentile(a, 50)), p99_us: round(percentile(a, 99)) };
}

/**
 * A light-load measurement of `one` (a call or request that resolves when answered): a closed-loop
 * warm-up, then `one` paced at LIGHT_RATE, and the window's counters (`window`) while `measure(true)`
 * has latency samples taken. `extra`: processes of the configuration besides PROCS, whose CPU counts.
 */
async function lightWindow(one, count, measure, extra = []) {
  const warmEnd = now() + W.warm;
  while (now() < warmEnd) await one();
  await sleep(100);
  const load = pace(LIGHT_RATE, () => one().catch(() => {}));
  await sleep(200);
  measure(true);
  const r = await window(count, W.window, extra);
  measure(false);
  await load.stop();
  return r;
}

/**
 * Open-loop load: `fire()` at `rate` per second from now on (the first at once; a slot missed
 * because the loop was late is skipped, not made up). A promise `fire()` returns is kept until it
 * settles: `stop()` stops firing and resolves once every kept promise has settled.
 */
function pace(rate, fire) {
  const interval = 1000 / rate;
  const inflight = new Set();
  let stopped = false;
  let nextAt = now();
  let timer;
  const tick = () => {
    if (stopped) return;
    const p = fire();
    if (p) {
      inflight.add(p);
      const done = () => inflight.delete(p);
      p.then(done, done);
    }
    const t = now();
    nextAt += interval;
    if (nextAt < t) nextAt = t + interval;
    timer = setTimeout(tick, nextAt - t);
  };
  tick();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      return Promise.allSettled(inflight);
    },
  };
}

// ---------------------------------------------------------------- calls

/**
 * `callees`: [{url, proc, invoke}], `callers`: [{url, proc}].
 * light: the first caller sends LIGHT_RATE calls/s (open loop; missed slots skipped), after a
 * closed-loop warm burst; saturate: every caller keeps one call outstanding (closed loop).
 */
async function callPoint({ callees, callers, mode }) {
  const ce = await Promise.all(callees.map(async (d) => {
    const c = await open(d.url);
    await c.register(d.proc, d.invoke ? { invoke: d.invoke } : {});
    c.onMessage = (data) => {
      const m = codec.decode(data);
      if (m[0] === T.INVOCATION) c.send([T.YIELD, m[1], {}, m[4]]); // [68, request, registration, details, args]
    };
    return c;
  }));
  const cs = await Promise.all(callers.map(async (d) => { const c = await open(d.url); c.proc = d.proc; return c; }));
  let done = 0;
  let errors = 0;
  let measuring = false;
  let closed = true; // closed loop: answer → next call
  let stopped = false;
  const samples = [];
  for (const c of cs) {
    const sent = new Map();
    c.call = () => {
      const id = c.next();
      sent.set(id, now());
      c.send([T.CALL, id, {}, c.proc, [id, PAYLOAD]]);
    };
    c.onMessage = (data) => {
      const m = codec.decode(data);
      const id = m[0] === T.ERROR ? m[2] : m[1]; // [8, 48, request, ...] / [50, request, ...]
      const t0 = sent.get(id);
      sent.delete(id);
      if (m[0] === T.RESULT) { done++; if (measuring && t0 !== undefined) samples.push((now() - t0) * 1000); } else errors++;
      if (closed && !stopped) c.call();
    };
  }
  let r;
  if (mode === 'light') {
    // Warm burst (closed loop, one caller), drain, then the fixed rate.
    const c = cs[0];
    c.call();
    await sleep(W.warm);
    closed = false;
    await sleep(100);
    const load = pace(LIGHT_RATE, () => c.call());
    await sleep(200);
    measuring = true;
    r = await window(() => done, W.window);
    measuring = false;
    stopped = true;
    await load.stop();
    await sleep(50);
  } else {
    for (const c of cs) c.call();
    await sleep(W.warm);
    measuring = true;
    r = await window(() => done, W.window);
    measuring = false;
    stopped = true;
    await sleep(50);
  }
  for (const c of [...cs, ...ce]) c.close();
  return { ...r, calls_per_s: round(r.ops / r.wall_s, 0), ...lat(samples), errors };
}

// ---------------------------------------------------------------- NATS alone

/**
 * The floor under a cross-node call: a NATS request/reply at the same rate, without routers.
 * The requester runs here (where the WAMP caller runs), the responder in a process of its own
 * (where the callee's node would be), both with the client the router uses
 * (@nats-io/transport-node, no-echo as the nodes). Two traversals of nats-server, as a call
 * from one node to another and its answer.
 */
async function natsRoundTrip() {
  const mod = pathToFileURL(routerRequire.resolve('@nats-io/transport-node')).href;
  const subject = `bench.rtt.${process.pid}`;
  const responder = launch(process.execPath, ['--input-type=module', '-e', `
    const { connect } = await import(${JSON.stringify(mod)});
    const nc = await connect({ servers: ${JSON.stringify(NATS.url)}, noEcho: true });
    nc.subscribe(${JSON.stringify(subject)}, { callback: (err, m) => { if (!err) m.respond(m.data); } });
    await nc.flush();
    process.stderr.write('ready');
    process.on('SIGTERM', () => nc.close().then(() => process.exit(0)));`]);
  try {
    const deadline = Date.now() + 10_000;
    while (!responder.stderrTail().includes('ready')) {
      if (responder.exitCode !== null || Date.now() > deadline) throw new Error(`NATS responder did not start: ${responder.stderrTail()}`);
      await sleep(20);
    }
    const { connect } = await import(mod);
    const nc = await connect({ servers: NATS.url, noEcho: true });
    const payload = new TextEncoder().encode(JSON.stringify([1, PAYLOAD]));
    const samples = [];
    let done = 0;
    let measuring = false;
    const one = async () => {
      const t0 = now();
      await nc.request(subject, payload, { timeout: 2000 });
      done++;
      if (measuring) samples.push((now() - t0) * 1000);
    };
    const r = await lightWindow(one, () => done, (on) => { measuring = on; });
    await nc.close();
    return { ...r, calls_per_s: round(r.ops / r.wall_s, 0), ...lat(samples), errors: 0 };
  } finally {
    await stop(responder);
  }
}

// ---------------------------------------------------------------- the topology floor

/**
 * The hops of a cross-node call with the routing taken out: two null relays
 * (targets/null-relay.js, each a process of its own with the router's `ws` and NATS client) in
 * place of n2 and n1. The caller (here) sends a CALL-shaped frame to relay 1, which publishes it
 * on NATS; relay 2 sends it to the callee (here, as callPoint's callee), whose YIELD-shaped
 * answer goes back the same way: loadgen → relay 1 → nats-server → relay 2 → callee → relay 2 →
 * nats-server → relay 1 → loadgen, a cross-node call's chain. What is left between this and the
 * cross-node configuration is the router's own work. Warm-up, pacing, window and samples as
 * natsRoundTrip.
 */
async function hopsFloor(round_) {
  const subject = (i) => `bench.hops.${process.pid}.${round_}.${i}`;
  const relay = (name, inSubject, outSubject) => {
    const child = launch(process.execPath, [path.join(BENCH, 'targets/null-relay.js'), NATS.url, inSubject, outSubject]);
    return { name, child, pid: child.pid, url: null };
  };
  const relays = [relay('relay1', subject(1), subject(2)), relay('relay2', subject(2), subject(1))];
  const conns = [];
  try {
    const deadline = Date.now() + 10_000;
    for (const r of relays) {
      let m;
      while (!(m = /ready (\d+)/.exec(r.child.stderrTail()))) {
        if (r.child.exitCode !== null || Date.now() > deadline) throw new Error(`null relay ${r.name} did not start: ${r.child.stderrTail()}`);
        await sleep(20);
      }
      r.url = `ws://127.0.0.1:${m[1]}/`;
    }
    const connect = (url) => new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
      conns.push(ws);
      ws.once('error', (e) => reject(new Error(`${url}: ${e.message}`)));
      ws.once('open', () => { ws.removeAllListeners('error'); ws.on('error', () => {}); resolve(ws); });
    });
    // The callee first: a relay forwards to the client it has, so it must have it before the first call.
    const callee = await connect(relays[1].url);
    callee.on('message', (data) => {
      const m = codec.decode(data);
      if (m[0] === T.CALL) callee.send(JSON.stringify([T.YIELD, m[1], {}, m[4]])); // [48, request, options, procedure, args]
    });
    const caller = await connect(relays[0].url);
    const pending = new Map(); // request → answered
    let id = 0;
    let done = 0;
    let errors = 0;
    let measuring = false;
    const samples = [];
    caller.on('message', (data) => {
      const m = codec.decode(data);
      const answered = pending.get(m[1]); // [70, request, options, args]
      if (answered) { pending.delete(m[1]); answered(); }
    });
    const one = () => new Promise((resolve, reject) => {
      const i = ++id;
      const t0 = now();
      const timer = setTimeout(() => { pending.delete(i); errors++; reject(new Error(`call ${i} not answered within 2 s`)); }, 2000);
      pending.set(i, () => {
        clearTimeout(timer);
        done++;
        if (measuring) samples.push((now() - t0) * 1000);
        resolve();
      });
      caller.send(JSON.stringify([T.CALL, i, {}, 'bench.hops', [i, PAYLOAD]]));
    });
    const r = await lightWindow(one, () => done, (on) => { measuring = on; }, relays);
    return { ...r, calls_per_s: round(r.ops / r.wall_s, 0), ...lat(samples), errors };
  } finally {
    for (const ws of conns) ws.terminate();
    await Promise.all(relays.map((r) => stop(r.child)));
  }
}

// ---------------------------------------------------------------- publications

/**
 * One publisher on `pubUrl`, subscribers on `subUrls` (round robin over the list), one topic.
 * saturate: a window of publications in flight (run.js's W = clamp(4096/N, 4, 256)), deliveries/s;
 * light: `rate` publications/s, for each the time from PUBLISH to its last delivery (N = 1: the
 * claw path's latency). With `modes` both, on the same sessions (saturate first).
 */
async function publishPoint({ pubUrl, subUrls, n, modes, rate, topic }) {
  const t0c = now();
  const subs = new Array(n);
  await pool(n, 50, async (i) => { subs[i] = await open(subUrls[i % subUrls.length]); await subs[i].subscribe(topic); });
  const connectMs = round(now() - t0c, 0);
  const pub = await open(pubUrl);
  // A cluster node writes each new session to the session table, which every node watches:
  // with 1000 new sessions that is seconds of JetStream work, not what the window is about.
  if (n > 1) await settle();
  let delivered = 0;
  let seq = 0;
  let light = false;
  let measuring = false;
  const pending = new Map(); // light: seq → [sentAt, deliveries]
  const samples = [];
  let pump = () => {};
  for (const s of subs) {
    s.onMessage = (data) => {
      if (codec.peek(data) !== T.EVENT) return;
      delivered++;
      if (light) {
        const m = codec.decode(data);
        const p = pending.get(m[4][0]);
        if (p && ++p[1] === n) { pending.delete(m[4][0]); if (p[2]) samples.push((now() - p[0]) * 1000); }
      }
      pump();
    };
  }
  const publish = () => {
    seq++;
    if (light) pending.set(seq, [now(), 0, measuring]);
    pub.send([T.PUBLISH, pub.next(), {}, topic, [seq, 0, PAYLOAD]]);
  };
  const out = { connect_ms: connectMs };
  if (modes.includes('saturate')) {
    const Wn = Math.max(4, Math.min(256, Math.ceil(4096 / n)));
    let stopped = false;
    pump = () => { while (!stopped && seq - Math.floor(delivered / n) < Wn) publish(); };
    pump();
    await sleep(W.warm);
    const r = await window(() => delivered, W.window);
    stopped = true;
    pump = () => {};
    await sleep(300); // drain what is in flight
    out.saturate = { ...r, deliveries_per_s: round(r.ops / r.wall_s, 0), publications_per_s: round(r.ops / n / r.wall_s, 1) };
  }
  if (modes.includes('light')) {
    light = true;
    if (!modes.includes('saturate')) {
      // Warm burst: 8 publications in flight for the warm-up, then drain.
      let burst = true;
      pump = () => { while (burst && seq - delivered / n < 8) publish(); };
      pump();
      await sleep(W.warm);
      burst = false;
      pump = () => {};
      await sleep(200);
    }
    pending.clear();
    const load = pace(rate, publish);
    await sleep(100);
    measuring = true;
    const r = await window(() => delivered, W.window);
    measuring = false;
    await load.stop();
    await sleep(300); // the last publications' deliveries
    let incomplete = 0;
    for (const p of pending.values()) if (p[2]) incomplete++;
    out.light = { ...r, ...lat(samples), incomplete };
  }
  for (const c of [...subs, pub]) c.close();
  return out;
}

// ---------------------------------------------------------------- points

/** Each point: its configurations, each a function of the round that measures it. */
function points(plain, n1, n2) {
  const echo = (tag, r) => `bench.echo.${tag}.${r}`;
  const one = (url, proc) => ({ callees: [{ url, proc }], callers: [{ url: url, proc }] });
  const sat = (calleeUrl, callerUrl, proc) => ({ callees: [{ url: calleeUrl, proc }], callers: Array.from({ length: SATURATE_K }, () => ({ url: callerUrl, proc })) });
  return [
    { id: 'call-light', what: `call, 1 caller at ${LIGHT_RATE}/s`, unit: 'call', configs: {
      plain: (r) => callPoint({ ...one(plain.url, echo('p', r)), mode: 'light' }),
      'cluster, same node': (r) => callPoint({ ...one(n1.url, echo('l', r)), mode: 'light' }),
      'cluster, cross-node': (r) => callPoint({ callees: [{ url: n1.url, proc: echo('x', r) }], callers: [{ url: n2.url, proc: echo('x', r) }], mode: 'light' }),
      'NATS request/reply alone': () => natsRoundTrip(),
      [HOPS]: (r) => hopsFloor(r),
    } },
    { id: 'publish-light', what: `publish 1→1 at ${LIGHT_RATE}/s`, unit: 'publication', configs: {
      plain: () => publishPoint({ pubUrl: plain.url, subUrls: [plain.url], n: 1, modes: ['light'], rate: LIGHT_RATE, topic: 'bench.claw.control' }).then((o) => o.light),
      'cluster, same node': () => publishPoint({ pubUrl: n1.url, subUrls: [n1.url], n: 1, modes: ['light'], rate: LIGHT_RATE, topic: 'bench.claw.control' }).then((o) => o.light),
      'cluster, cross-node': () => publishPoint({ pubUrl: n1.url, subUrls: [n2.url], n: 1, modes: ['light'], rate: LIGHT_RATE, topic: 'bench.claw.control' }).then((o) => o.light),
    } },
    { id: 'call-saturate', what: `call, ${SATURATE_K} callers closed loop, 1 callee`, unit: 'call', configs: {
      plain: (r) => callPoint({ ...sat(plain.url, plain.url, echo('ps', r)), mode: 'saturate' }),
      'cluster, same node': (r) => callPoint({ ...sat(n1.url, n1.url, echo('ls', r)), mode: 'saturate' }),
      'cluster, cross-node': (r) => callPoint({ ...sat(n1.url, n2.url, echo('xs', r)), mode: 'saturate' }),
    } },
    { id: 'publish-saturate', what: 'publish 1→1, 256 in flight', unit: 'publication', configs: {
      plain: () => publishPoint({ pubUrl: plain.url, subUrls: [plain.url], n: 1, modes: ['saturate'], topic: 'bench.claw.control' }).then((o) => o.saturate),
      'cluster, same node': () => publishPoint({ pubUrl: n1.url, subUrls: [n1.url], n: 1, modes: ['saturate'], topic: 'bench.claw.control' }).then((o) => o.saturate),
      'cluster, cross-node': () => publishPoint({ pubUrl: n1.url, subUrls: [n2.url], n: 1, modes: ['saturate'], topic: 'bench.claw.control' }).then((o) => o.saturate),
    } },
    { id: 'fanout', what: `fan-out 1→${FANOUT_N}: saturated (deliveries/s), and ${FANOUT_LIGHT_RATE} publications/s (PUBLISH → last of the ${FANOUT_N} EVENTs)`, unit: 'delivery', configs: {
      plain: () => publishPoint({ pubUrl: plain.url, subUrls: [plain.url], n: FANOUT_N, modes: ['saturate', 'light'], rate: FANOUT_LIGHT_RATE, topic: 'bench.fanout' }),
      'cluster, all on n1': () => publishPoint({ pubUrl: n1.url, subUrls: [n1.url], n: FANOUT_N, modes: ['saturate', 'light'], rate: FANOUT_LIGHT_RATE, topic: 'bench.fanout' }),
      'cluster, spread n1+n2': () => publishPoint({ pubUrl: n1.url, subUrls: [n1.url, n2.url], n: FANOUT_N, modes: ['saturate', 'light'], rate: FANOUT_LIGHT_RATE, topic: 'bench.fanout' }),
    } },
    { id: 'two-vs-one', what: `${SATURATE_K} callers closed loop, 2 callees (roundrobin)`, unit: 'call', configs: {
      'one node (plain)': (r) => { const p = echo('o', r); return callPoint({ callees: [{ url: plain.url, proc: p, invoke: 'roundrobin' }, { url: plain.url, proc: p, invoke: 'roundrobin' }], callers: Array.from({ length: SATURATE_K }, () => ({ url: plain.url, proc: p })), mode: 'saturate' }); },
      'two nodes, shared (½ cross-node)': (r) => { const p = echo('s', r); return callPoint({ callees: [{ url: n1.url, proc: p, invoke: 'roundrobin' }, { url: n2.url, proc: p, invoke: 'roundrobin' }], callers: Array.from({ length: SATURATE_K }, (_, i) => ({ url: i % 2 ? n2.url : n1.url, proc: p })), mode: 'saturate' }); },
      'two nodes, each its own callee': (r) => { const a = echo('a', r); const b = echo('b', r); return callPoint({ callees: [{ url: n1.url, proc: a }, { url: n2.url, proc: b }], callers: Array.from({ length: SATURATE_K }, (_, i) => (i % 2 ? { url: n2.url, proc: b } : { url: n1.url, proc: a })), mode: 'saturate' }); },
    } },
  ];
}

// ---------------------------------------------------------------- main

const resultsDir = path.join(BENCH, 'results');
mkdirSync(resultsDir, { recursive: true });
const PROF_DIR = path.join(resultsDir, `prof-cluster-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const outFile = arg('--out') ?? path.join(resultsDir, `cluster-${new Date().toISOString().slice(0, 10)}.jsonl`);
const started = Date.now();
const load0 = os.loadavg();
const CPUS = cpusAllowed(); // every process here and the ones it starts (taskset pins them all)
process.stderr.write(`cluster bench: ${ROUNDS} round(s), ${W.warm} ms warm-up + ${W.window} ms window, ${os.cpus().length} CPUs (allowed: ${CPUS}), load ${load0.map((x) => x.toFixed(2)).join(' ')}\n`);

const nats = await startNats();
NATS = nats;
const [plain, n1, n2] = await Promise.all([startRouter('plain'), startRouter('n1', nats.url), startRouter('n2', nats.url)]);
PROCS = [plain, n1, n2, nats];
process.stderr.write(`nats-server ${nats.url}; plain ${plain.url}, n1 ${n1.url}, n2 ${n2.url} (started in ${round((Date.now() - started) / 1000, 1)} s)\n`);

const rows = [];
const loads = [load0[0]];
try {
  // The nodes see each other (heartbeats every 500 ms), and V8 compiles every path once, before round 1.
  const warm = { ...W };
  W.window = QUICK ? 300 : 1000;
  W.warm = 300;
  await callPoint({ callees: [{ url: n1.url, proc: 'bench.warm' }], callers: [{ url: n2.url, proc: 'bench.warm' }, { url: n1.url, proc: 'bench.warm' }], mode: 'saturate' });
  await callPoint({ callees: [{ url: plain.url, proc: 'bench.warm' }], callers: [{ url: plain.url, proc: 'bench.warm' }], mode: 'saturate' });
  await publishPoint({ pubUrl: n1.url, subUrls: [n1.url, n2.url], n: 2, modes: ['saturate'], topic: 'bench.warm' });
  await publishPoint({ pubUrl: plain.url, subUrls: [plain.url], n: 1, modes: ['saturate'], topic: 'bench.warm' });
  Object.assign(W, warm);
  await settle();

  const pts = points(plain, n1, n2).filter((p) => !ONLY || ONLY.test(p.id));
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    for (const p of pts) {
      let names = Object.keys(p.configs);
      if (round_ % 2 === 0) names = names.reverse(); // alternate the order: a drifting machine hits every configuration
      const roundRows = [];
      for (const config of names) {
        let r;
        try {
          r = await p.configs[config](round_);
        } catch (e) {
          r = { error: e instanceof Error ? e.message : String(e) };
        }
        const row = { ts: new Date().toISOString(), point: p.id, config, round: round_, quick: QUICK, cpus: CPUS, load1: os.loadavg()[0], ...r };
        roundRows.push(row);
        process.stderr.write(`  r${round_} ${p.id} / ${config}: ${summary(row)}\n`);
        await settle();
      }
      // Written once the point's configurations of this round are all measured: some fields pair them.
      pairInRound(p.id, roundRows);
      for (const row of roundRows) {
        rows.push(row);
        appendFileSync(outFile, JSON.stringify(row) + '\n');
        if (JSON_OUT) console.log(JSON.stringify(row));
      }
    }
    loads.push(os.loadavg()[0]);
  }
} finally {
  await Promise.all([plain, n1, n2].map((p) => stop(p.child)));
  await stop(nats.child);
}
const load1 = os.loadavg();
process.stderr.write(`done in ${round((Date.now() - started) / 1000, 0)} s; load ${load1.map((x) => x.toFixed(2)).join(' ')}; rows appended to ${path.relative(process.cwd(), outFile)}\n\n`);
report(rows);

// ---------------------------------------------------------------- report

/**
 * Fields that pair configurations of one point within one round, added to its rows (call-light:
 * the cross-node row gets p50 − same node and p50 − the topology floor, the floor's row gets
 * p50 − same node). A configuration that failed leaves its partners' fields out.
 */
function pairInRound(point, rs) {
  if (point !== 'call-light') return;
  const p50 = (config) => rs.find((r) => r.config === config && !r.error)?.p50_us;
  const diff = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? round(a - b) : undefined);
  const same = p50('cluster, same node');
  const cross = p50('cluster, cross-node');
  const floor = p50(HOPS);
  for (const r of rs) {
    if (r.error) continue;
    if (r.config === 'cluster, cross-node') {
      r.p50_minus_same_node_us = diff(cross, same);
      r.p50_minus_topology_floor_us = diff(cross, floor);
    } else if (r.config === HOPS) {
      r.p50_minus_same_node_us = diff(floor, same);
    }
  }
}

function summary(r) {
  if (r.error) return `ERROR ${r.error}`;
  const cpu = r.cpu ?? r.saturate?.cpu;
  const bits = [];
  if (r.calls_per_s !== undefined) bits.push(`${r.calls_per_s} calls/s`, `p50 ${r.p50_us} µs`, `p99 ${r.p99_us} µs`, `errors ${r.errors}`);
  else if (r.saturate) bits.push(`${r.saturate.deliveries_per_s} deliveries/s`, `last-delivery p50 ${r.light.p50_us} µs p99 ${r.light.p99_us} µs (${r.light.samples}, ${r.light.incomplete} incomplete)`);
  else if (r.deliveries_per_s !== undefined) bits.push(`${r.deliveries_per_s} deliveries/s`);
  else bits.push(`p50 ${r.p50_us} µs`, `p99 ${r.p99_us} µs (${r.samples}, ${r.incomplete} incomplete)`);
  bits.push(`cpu ${Object.entries(cpu).map(([k, v]) => `${k} ${v}`).join(' ')}`);
  return bits.join(', ');
}

/** Median [min–max] over rounds. */
function mm(xs, d = 1) {
  const v = xs.filter(Number.isFinite);
  if (v.length === 0) return '–';
  const m = round(median(v), d);
  return v.length === 1 ? `${m}` : `${m} [${round(Math.min(...v), d)}–${round(Math.max(...v), d)}]`;
}

function paired(rowsOf, base, other, f, kind) {
  const out = [];
  for (const b of rowsOf(base)) {
    const o = rowsOf(other).find((x) => x.round === b.round);
    if (!o || !Number.isFinite(f(b)) || !Number.isFinite(f(o))) continue;
    out.push(kind === 'diff' ? f(o) - f(b) : f(o) / f(b));
  }
  return out;
}

function report(all) {
  const ok = all.filter((r) => !r.error);
  const errs = all.filter((r) => r.error);
  const by = (point) => (config) => ok.filter((r) => r.point === point && r.config === config);
  const configsOf = (point) => [...new Set(all.filter((r) => r.point === point).map((r) => r.config))];
  const cpuCell = (rs, sel = (r) => r) => ['plain', 'n1', 'n2', 'nats', ...['relay1', 'relay2'].filter((k) => rs.some((r) => sel(r).cpu[k] !== undefined)), 'loadgen'].map((k) => `${k} ${mm(rs.map((r) => sel(r).cpu[k]), 2)}`).join(', ');
  const usCell = (rs, sel = (r) => r) => ['plain', 'n1', 'n2', 'nats'].map((k) => [k, median(rs.map((r) => sel(r).us_per_op[k]))]).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${round(v, 2)}`).join(', ');
  const lines = [];
  const say = (s) => { lines.push(s); };

  for (const point of ['call-light', 'publish-light']) {
    if (!configsOf(point).length) continue;
    say(`\n${point} (${point === 'call-light' ? `1 caller, ${LIGHT_RATE} calls/s` : `1 publisher → 1 subscriber, ${LIGHT_RATE}/s`}; µs; median [min–max] over ${ROUNDS} round(s))`);
    say('| configuration | p50 | p99 | p50 − plain (paired) | p50 − same node (paired) | CPU, cores |');
    say('|---|---|---|---|---|---|');
    for (const c of configsOf(point)) {
      const rs = by(point)(c);
      const vsPlain = c === 'plain' ? '' : mm(paired(by(point), 'plain', c, (r) => r.p50_us, 'diff'));
      const vsSame = c === 'cluster, cross-node' || c === HOPS ? mm(paired(by(point), 'cluster, same node', c, (r) => r.p50_us, 'diff')) : '';
      say(`| ${c} | ${mm(rs.map((r) => r.p50_us))} | ${mm(rs.map((r) => r.p99_us))} | ${vsPlain} | ${vsSame} | ${cpuCell(rs)} |`);
    }
    if (point === 'call-light') {
      const d = median(paired(by(point), 'cluster, same node', 'cluster, cross-node', (r) => r.p50_us, 'diff'));
      if (Number.isFinite(d)) say(`goal: cross-node call p50 ≤ same node + 150 µs: ${d <= 150 ? 'met' : 'NOT met'} (+${round(d)} µs, median of the rounds' differences)`);
      const rtt = median(by(point)('NATS request/reply alone').map((r) => r.p50_us));
      const same = median(by(point)('cluster, same node').map((r) => r.p50_us));
      const cross = median(by(point)('cluster, cross-node').map((r) => r.p50_us));
      if (Number.isFinite(rtt)) say(`floor: same node p50 + NATS round trip p50 = ${round(same + rtt)} µs; cross-node p50 ${round(cross)} µs (the router's cluster path adds ${round(cross - same - rtt)} µs over NATS's own round trip)`);
      const hops = median(by(point)(HOPS).map((r) => r.p50_us));
      const hopsOverSame = median(paired(by(point), 'cluster, same node', HOPS, (r) => r.p50_us, 'diff'));
      const routerOwn = median(paired(by(point), HOPS, 'cluster, cross-node', (r) => r.p50_us, 'diff'));
      if (Number.isFinite(hops)) {
        say(`topology floor: ${HOPS} p50 ${round(hops)} µs${Number.isFinite(hopsOverSame) ? `, same node ${hopsOverSame < 0 ? '−' : '+'} ${round(Math.abs(hopsOverSame))} µs (paired)` : ''}: what any design with NATS between the two router processes costs on this machine before any routing work`);
      }
      if (Number.isFinite(routerOwn)) say(`router's own cost: cross-node p50 − topology floor p50 = ${round(routerOwn)} µs (paired, median of the rounds' differences)`);
    }
  }
  for (const [point, field, label] of [['call-saturate', 'calls_per_s', 'calls/s'], ['publish-saturate', 'deliveries_per_s', 'publications/s'], ['two-vs-one', 'calls_per_s', 'calls/s']]) {
    const cs = configsOf(point);
    if (!cs.length) continue;
    say(`\n${point} (${label}; CPU µs per ${point.startsWith('publish') ? 'publication' : 'call'} of each process; median [min–max] over ${ROUNDS} round(s))`);
    say(`| configuration | ${label} | ÷ ${cs[0]} (paired) | p50 µs | CPU µs per op | CPU, cores | NATS msgs/op |`);
    say('|---|---|---|---|---|---|---|');
    for (const c of cs) {
      const rs = by(point)(c);
      const ratio = c === cs[0] ? '' : mm(paired(by(point), cs[0], c, (r) => r[field], 'ratio'), 2);
      say(`| ${c} | ${mm(rs.map((r) => r[field]), 0)} | ${ratio} | ${mm(rs.map((r) => r.p50_us))} | ${usCell(rs)} | ${cpuCell(rs)} | ${mm(rs.map((r) => r.nats_msgs_per_op), 2)} |`);
    }
  }
  if (configsOf('fanout').length) {
    const point = 'fanout';
    const cs = configsOf(point);
    say(`\nfanout (1 publisher on the first node; saturated: deliveries/s; ${FANOUT_LIGHT_RATE}/s: PUBLISH → last of ${FANOUT_N} EVENTs, µs)`);
    say('| configuration | deliveries/s | ÷ plain (paired) | CPU µs per delivery | CPU, cores (saturated) | last delivery p50 | p99 | connect 1000, ms |');
    say('|---|---|---|---|---|---|---|---|');
    for (const c of cs) {
      const rs = by(point)(c);
      const ratio = c === cs[0] ? '' : mm(paired(by(point), cs[0], c, (r) => r.saturate.deliveries_per_s, 'ratio'), 2);
      say(`| ${c} | ${mm(rs.map((r) => r.saturate.deliveries_per_s), 0)} | ${ratio} | ${usCell(rs, (r) => r.saturate)} | ${cpuCell(rs, (r) => r.saturate)} | ${mm(rs.map((r) => r.light.p50_us), 0)} | ${mm(rs.map((r) => r.light.p99_us), 0)} | ${mm(rs.map((r) => r.connect_ms), 0)} |`);
    }
  }
  say(`\nprojection inputs (medians; CPU µs per operation, this machine)`);
  const med = (point, config, f) => median(by(point)(config).map(f));
  const L = med('call-saturate', 'cluster, same node', (r) => r.us_per_op.n1);
  const Lp = med('call-saturate', 'plain', (r) => r.us_per_op.plain);
  const Xcallee = med('call-saturate', 'cluster, cross-node', (r) => r.us_per_op.n1);
  const Xcaller = med('call-saturate', 'cluster, cross-node', (r) => r.us_per_op.n2);
  const Xnats = med('call-saturate', 'cluster, cross-node', (r) => r.us_per_op.nats);
  const Xmsgs = med('call-saturate', 'cluster, cross-node', (r) => r.nats_msgs_per_op);
  const Xnatsmsg = med('call-saturate', 'cluster, cross-node', (r) => r.nats_us_per_msg);
  const Ppub = med('publish-saturate', 'cluster, cross-node', (r) => r.us_per_op.n1);
  const Precv = med('publish-saturate', 'cluster, same node', (r) => r.us_per_op.n2);
  const Precv1 = med('publish-saturate', 'cluster, cross-node', (r) => r.us_per_op.n2);
  const Pnatsmsg = med('publish-saturate', 'cluster, cross-node', (r) => r.nats_us_per_msg);
  const D = med('fanout', 'cluster, all on n1', (r) => r.saturate.us_per_op.n1);
  say(`- call on one node: plain ${round(Lp, 2)}, cluster node ${round(L, 2)}`);
  say(`- cross-node call: callee's node ${round(Xcallee, 2)}, caller's node ${round(Xcaller, 2)}, nats-server ${round(Xnats, 2)} (${round(Xmsgs, 2)} NATS messages in+out per call, ${round(Xnatsmsg, 2)} µs each)`);
  say(`- publication: publishing node ${round(Ppub, 2)} (no local subscriber), a node receiving it without subscribers ${round(Precv, 2)}, with 1 subscriber ${round(Precv1, 2)}; nats-server ${round(Pnatsmsg, 2)} µs per message`);
  say(`- one delivery in a fan-out to 1000 (cluster node): ${round(D, 3)}`);
  if ([L, Xcallee, Xcaller, Xnats].every(Number.isFinite)) {
    // Calls: callers and callees spread evenly over N nodes (one core each), a callee picked
    // uniformly: (N-1)/N of the calls cross nodes. Total node CPU per call: L/N + (N-1)/N * (Xcallee + Xcaller).
    const X = Xcallee + Xcaller;
    say(`\nprojection, calls (callers and callees spread over N nodes, one core each; (N−1)/N of calls cross nodes; NATS on one core at ${round(Xnats, 1)} µs per cross-node call):`);
    say('| N | node CPU µs per call (cluster) | calls/s, nodes | calls/s, NATS (1 core) | ceiling |');
    say('|---|---|---|---|---|');
    for (const N of [1, 2, 3, 4, 8, 16, 32]) {
      const per = L / N + ((N - 1) / N) * X;
      const nodes = (N * 1e6) / per;
      const natsMax = N === 1 ? Infinity : 1e6 / (((N - 1) / N) * Xnats);
      say(`| ${N} | ${round(per, 1)} | ${round(nodes, 0)} | ${Number.isFinite(natsMax) ? round(natsMax, 0) : '–'} | ${nodes < natsMax ? 'nodes' : 'NATS'} |`);
    }
  }
  if ([Ppub, Precv, D].every(Number.isFinite)) {
    say(`\nprojection, publications (every publication reaches every node: R publications/s spread over N nodes, S subscribers spread): per node R·(${round(Ppub, 1)}/N + ${round(Precv, 1)}·(N−1)/N) + R·S/N·${round(D, 3)} µs ≤ 1 core; NATS R·N messages × ${round(Pnatsmsg, 2)} µs`);
    say('| N | max publications/s, S = 1 | S = 1000 (deliveries/s) |');
    say('|---|---|---|');
    for (const N of [1, 2, 3, 4, 8, 16, 32]) {
      const node = (S) => 1e6 / (Ppub / N + (Precv * (N - 1)) / N + (S / N) * D);
      const natsMax = 1e6 / (N * Pnatsmsg);
      const r1 = Math.min(node(1), natsMax);
      const r1000 = Math.min(node(1000), natsMax);
      say(`| ${N} | ${round(r1, 0)}${node(1) > natsMax ? ' (NATS)' : ''} | ${round(r1000, 0)} (${round(r1000 * 1000, 0)})${node(1000) > natsMax ? ' (NATS)' : ''} |`);
    }
  }
  say(`\nload average (1 min) at the start and after each round: ${loads.map((x) => x.toFixed(2)).join(' → ')}`);
  if (errs.length) say(`\n${errs.length} point(s) failed: ${errs.map((r) => `${r.point}/${r.config}/r${r.round}: ${r.error}`).join('; ')}`);
  console.log(lines.join('\n'));
}
