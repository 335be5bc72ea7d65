#!/usr/bin/env node
// Event filters (x_filter, issue 22): what they cost the router. Not a test:
// a measurement, printed and appended to bench/results/filter-fanout-<date>.jsonl.
//
//   node --import tsx --conditions=@clawgate/source bench/filter-fanout.js
//   node --import tsx --conditions=@clawgate/source bench/filter-fanout.js --rounds 5 --window 3 --json
//   node --import tsx --conditions=@clawgate/source bench/filter-fanout.js --no-fanout   # part 2 only
//
// Part 1, fan-out over sockets. Our router (from router/src, in its own
// process, so its CPU is read from /proc) and, in this process, 1000 JSON
// subscribers and one publisher on 127.0.0.1, raw WAMP over `ws` as
// loadgen.js speaks it. The same 1000 connections are subscribed in turn as:
//   plain-1000   no filter, every subscriber gets every event       (1000 deliveries/publication)
//   plain-500    no filter: 500 subscribe to topic .0, 500 to .1,
//                and the publisher alternates                       (500; the reference for the next two)
//   half-2       one topic, two filters on the publication's
//                parity, 500 subscribers each                       (500 deliveries, 2 evaluations)
//   half-100     one topic, 100 distinct filters (the default
//                max_filters_per_topic) on the parity, 10 each      (500 deliveries, 100 evaluations)
// In the last three every subscriber gets every other publication, so the
// sockets see the same traffic and only the filtering differs (a socket that
// gets several events in one tick writes them at once: comparing against
// 500 subscribers that get every event would measure that batching).
// Each round publishes as fast as deliveries come back (a bounded window of
// publications in flight) for --window seconds after a warm-up, and reports
// the router's CPU per publication and per delivery and the publications per
// second; rounds rotate through the shapes, and the table shows medians with
// min–max.
//
// Part 2, in this process (the router stopped): what compiling a filter and
// evaluating one cost, for the bench's claw payload and at the bounds
// (a 256 KiB event, a filter of max_filter_nodes, max_filter_scans scans).
//
// Bounded: setup ~10 s, each round warm-up + window (default 0.5 + 2 s), a
// hard 20 s limit per round, part 2 ~10 s. Loopback only.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, appendFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WebSocket, BENCH, ROOT } from './lib/deps.js';
import { T, codecs, HELLO_DETAILS } from './lib/wamp.js';
import { cpuSeconds, hostTicks } from './lib/proc.js';
import { median, round } from './lib/stats.js';
import { routerConfig } from './lib/router-config.js';

if (!process.execArgv.some((a) => a.includes('@clawgate/source'))) {
  console.error('run as: node --import tsx --conditions=@clawgate/source bench/filter-fanout.js');
  process.exit(2);
}
const { compileFilter } = await import('../router/src/broker/content-filter.ts');
const { FilterEvent } = await import('../router/src/broker/filter-event.ts');
const { DEFAULT_REALM_LIMITS } = await import('../router/src/limits/limits-config.ts');
const { jsonSerializer } = await import('../router/src/serializers/json.ts');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
const ROUNDS = opt('--rounds', 3);
const WINDOW_S = opt('--window', 2);
const WARM_S = opt('--warm', 0.5);
const N = opt('--subscribers', 1000);
const JSON_OUT = args.includes('--json');
const FANOUT = !args.includes('--no-fanout');
const TOPIC = 'bench.claw.control';
const PAYLOAD = { cmd: 'move', x: 0.25, y: -0.5, player: 'p-0001' };
const codec = codecs.json;
const log = (...a) => { if (!JSON_OUT) console.error(...a); };
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the router

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function startRouter() {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clawgate-filter-bench-'));
  const cfg = path.join(dir, 'router.json');
  const config = routerConfig(port);
  // 1000 subscribers re-subscribing in turn: the subscribe rate is not what is measured.
  config.workers[0].realms[0].options.limits.subscribe_rate = null;
  writeFileSync(cfg, JSON.stringify(config));
  // From router/src (what is measured in part 2 too), its workspace imports from their sources.
  const child = spawn(process.execPath, ['--conditions=@clawgate/source', path.join(BENCH, 'targets/router-src.js'), '--config', cfg, '--log-level', 'warn'], { cwd: BENCH, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => { s.end(); r(true); }); s.once('error', () => r(false)); });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error('the router did not start'); }
    await sleep(50);
  }
  return { child, url: `ws://127.0.0.1:${port}/`, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); rmSync(dir, { recursive: true, force: true }); } };
}

// ---------------------------------------------------------------- sessions

/** A session: a socket, its request ids (the router wants 1, 2, 3, ...), its one answer handler. */
function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, codec.protocol, { perMessageDeflate: false });
    const s = { ws, request: 0, sub: 0, onEvent: () => {}, waiting: null };
    ws.on('error', reject);
    ws.on('open', () => ws.send(codec.encode([T.HELLO, 'realm1', HELLO_DETAILS])));
    ws.on('message', (data) => {
      if (codec.peek(data) === T.EVENT) { s.onEvent(); return; }
      const m = codec.decode(data);
      if (m[0] === T.WELCOME) { resolve(s); return; }
      const w = s.waiting;
      s.waiting = null;
      w?.(m);
    });
  });
}

function ask(s, msg) {
  return new Promise((resolve) => { s.waiting = resolve; s.ws.send(codec.encode(msg)); });
}

async function resubscribe(s, topic, options) {
  if (s.sub !== 0) await ask(s, [34, ++s.request, s.sub]);
  const m = await ask(s, [T.SUBSCRIBE, ++s.request, options, topic]);
  if (m[0] !== 33) throw new Error(`SUBSCRIBE refused: ${JSON.stringify(m)}`);
  s.sub = m[2];
}

async function pool(items, conc, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => { while (next < items.length) { const i = next++; await fn(items[i], i); } }));
}

/** Filter k of `count`: passes publications whose seq has k's parity, so any publication passes half of them. */
const parity = (k) => `(kwargs.seq + ${k}) % 2 == 0`;

const SHAPES = {
  'plain-1000': { deliveries: N, setup: () => ({ topic: TOPIC, options: {} }), topic: () => TOPIC },
  'plain-500': { deliveries: N / 2, setup: (i) => ({ topic: `${TOPIC}.${i % 2}`, options: {} }), topic: (seq) => `${TOPIC}.${seq % 2}` },
  'half-2': { deliveries: N / 2, setup: (i) => ({ topic: TOPIC, options: { x_filter: parity(i % 2) } }), topic: () => TOPIC },
  'half-100': { deliveries: N / 2, setup: (i) => ({ topic: TOPIC, options: { x_filter: parity(i % 100) } }), topic: () => TOPIC },
};

async function round1(router, subs, pub, name) {
  const shape = SHAPES[name];
  await pool(subs, 50, (s, i) => { const { topic, options } = shape.setup(i); return resubscribe(s, topic, options); });
  let delivered = 0;
  let seq = 0;
  let stopped = false;
  const W = 8;
  const per = shape.deliveries;
  const publish = () => { seq++; pub.request++; pub.ws.send(codec.encode([T.PUBLISH, pub.request, {}, shape.topic(seq), [seq, now()], { ...PAYLOAD, seq }])); };
  const pump = () => { while (!stopped && seq - Math.floor(delivered / per) < W) publish(); };
  for (const s of subs) s.onEvent = () => { delivered++; if ((delivered % per) === 0) pump(); };
  const hardStop = setTimeout(() => { stopped = true; }, 20_000);
  pump();
  await sleep(WARM_S * 1000);
  const a = { t: now(), cpu: cpuSeconds(router.child.pid), self: process.cpuUsage(), host: hostTicks(), delivered, seq };
  await sleep(WINDOW_S * 1000);
  const b = { t: now(), cpu: cpuSeconds(router.child.pid), self: process.cpuUsage(), host: hostTicks(), delivered, seq };
  stopped = true;
  clearTimeout(hardStop);
  // Drain: what is in flight arrives before the next shape subscribes.
  const target = seq * per;
  const until = now() + 5000;
  while (delivered < target && now() < until) await sleep(20);
  const wall = (b.t - a.t) / 1000;
  const pubs = (b.delivered - a.delivered) / per;
  const cpu = b.cpu - a.cpu;
  return {
    shape: name, deliveries_per_pub: per, pubs_per_s: round(pubs / wall, 0), deliveries_per_s: round((b.delivered - a.delivered) / wall, 0),
    router_us_per_pub: round((cpu * 1e6) / pubs, 1), router_us_per_delivery: round((cpu * 1e6) / (pubs * per), 2),
    router_cpu: round(cpu / wall, 2), loadgen_cpu: round(((b.self.user - a.self.user) + (b.self.system - a.self.system)) / 1e6 / wall, 2),
    host_busy: round(1 - (b.host.idle - a.host.idle) / (b.host.total - a.host.total), 2),
    lost: Math.max(0, target - delivered),
  };
}

async function fanout() {
  const router = await startRouter();
  try {
    log(`opening ${N} subscribers and a publisher on ${router.url} …`);
    const subs = new Array(N);
    await pool([...subs.keys()], 50, async (i) => { subs[i] = await open(router.url); });
    const pub = await open(router.url);
    const rows = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of Object.keys(SHAPES)) {
        const row = await round1(router, subs, pub, name);
        log(`round ${r + 1} ${name.padEnd(10)} ${String(row.router_us_per_pub).padStart(8)} µs/pub  ${String(row.pubs_per_s).padStart(5)} pub/s  router CPU ${row.router_cpu}  loadgen ${row.loadgen_cpu}  host ${row.host_busy}${row.lost ? `  LOST ${row.lost}` : ''}`);
        rows.push(row);
      }
    }
    for (const s of [...subs, pub]) s.ws.terminate();
    // The machine drifts from round to round (other load, JIT): each shape is compared with
    // plain-500 of the same round, and the ratios' median reported.
    const ref = rows.filter((x) => x.shape === 'plain-500');
    const summary = Object.keys(SHAPES).map((name) => {
      const rs = rows.filter((x) => x.shape === name);
      const stat = (k) => ({ median: median(rs.map((x) => x[k])), min: Math.min(...rs.map((x) => x[k])), max: Math.max(...rs.map((x) => x[k])) });
      const ratios = rs.map((x, i) => round(x.router_us_per_pub / ref[i].router_us_per_pub, 2));
      return { part: 'fanout', shape: name, deliveries_per_pub: SHAPES[name].deliveries, rounds: rs.length, router_us_per_pub: stat('router_us_per_pub'), router_us_per_delivery: stat('router_us_per_delivery'), pubs_per_s: stat('pubs_per_s'), vs_plain_500: { median: median(ratios), per_round: ratios }, lost: rs.reduce((n, x) => n + x.lost, 0) };
    });
    return [...rows.map((r, i) => ({ part: 'round', round: Math.floor(i / Object.keys(SHAPES).length) + 1, ...r })), ...summary];
  } finally {
    await router.stop();
  }
}

// ---------------------------------------------------------------- part 2

/** µs per call of fn, the median of 7 timed batches of about 50 ms each (after a warm-up). */
function micro(fn) {
  let n = 1;
  for (let t0 = now(); now() - t0 < 20; n *= 2) for (let i = 0; i < n; i++) fn();
  const batches = [];
  for (let b = 0; b < 7; b++) {
    let calls = 0;
    const t0 = now();
    while (now() - t0 < 50) { for (let i = 0; i < 64; i++) fn(); calls += 64; }
    batches.push(((now() - t0) * 1000) / calls);
  }
  return { median: round(median(batches), 3), min: round(Math.min(...batches), 3), max: round(Math.max(...batches), 3) };
}

function compiled(source) {
  const f = compileFilter(source, { ...DEFAULT_REALM_LIMITS, maxFilterLength: 64 * 1024 });
  if (typeof f === 'string') throw new Error(`${source}: ${f}`);
  return f;
}

function evaluation() {
  const out = [];
  const row = (what, r) => { out.push({ part: 'micro', what, us: r }); log(`${what.padEnd(72)} ${String(r.median).padStart(9)} µs  (${r.min}–${r.max})`); };
  const claw = { args: [1, 2], kwargs: { ...PAYLOAD, seq: 7 }, details: {} };
  const typical = 'kwargs.player == "p-0001" && kwargs.cmd in ["move", "drop"]';
  row('compile a typical filter (parse, allowlist, normal form, type check)', micro(() => compileFilter(typical, DEFAULT_REALM_LIMITS)));
  // 13 comparisons that all fail: 64 nodes, every one evaluated.
  const longest = Array.from({ length: 13 }, (_, i) => `kwargs.seq == ${100 + i}`).join(' || ');
  row('compile a filter of 64 nodes (the default max_filter_nodes)', micro(() => compileFilter(longest, DEFAULT_REALM_LIMITS)));
  const f = compiled(typical);
  row('claw payload: the event as filters see it (once per publication)', micro(() => new FilterEvent(TOPIC, claw).variables(f.reads)));
  const ev = new FilterEvent(TOPIC, claw);
  ev.variables(f.reads);
  row('claw payload: one evaluation of the typical filter', micro(() => f.test(ev)));
  const p = compiled(parity(1));
  row('claw payload: one evaluation of the bench\'s parity filter', micro(() => p.test(ev)));
  const l = compiled(longest);
  row('claw payload: one evaluation of the 64-node filter (all 13 comparisons run)', micro(() => l.test(ev)));
  const failing = compiled('kwargs.missing == 1');
  row('claw payload: one evaluation that fails (a missing key: not delivered, counted)', micro(() => failing.test(ev)));

  // At the bounds: a 256 KiB event of 32768 values (the default max_message_size and max_message_elements).
  const list = Array.from({ length: 30_000 }, (_, i) => `t${i % 10}`);
  const big = { args: list, kwargs: { s: 'a'.repeat(200 * 1024), tags: list.slice(0, 2000), n: 3 }, details: {} };
  row('256 KiB event: the event as filters see it (once per publication)', micro(() => new FilterEvent(TOPIC, big).variables({ args: true, kwargs: true, details: false })));
  const bigEv = new FilterEvent(TOPIC, big);
  bigEv.variables({ args: true, kwargs: true, details: false });
  const noScan = compiled(Array.from({ length: 13 }, (_, i) => `kwargs.n == ${i}`).join(' || '));
  row('256 KiB event: a 64-node filter without scans', micro(() => noScan.test(bigEv)));
  const scanIn = compiled('"zz" in args');
  row('256 KiB event: one scan, `in` over 30000 strings', micro(() => scanIn.test(bigEv)));
  const scanSize = compiled('size(kwargs.s) == 0');
  row('256 KiB event: one scan, size() of a 200 KiB string', micro(() => scanSize.test(bigEv)));
  const scanContains = compiled('kwargs.s.contains("b")');
  row('256 KiB event: one scan, contains() on a 200 KiB string', micro(() => scanContains.test(bigEv)));
  const scanEq = compiled('args == kwargs.tags');
  row('256 KiB event: one scan, == of two event lists (30000 and 2000: lengths differ)', micro(() => scanEq.test(bigEv)));
  const two = compiled('"zz" in args || size(kwargs.s) == 0 || kwargs.n == 4');
  row('256 KiB event: two scans, both run (in over 30000 strings, size() of 200 KiB)', micro(() => two.test(bigEv)));
  // For scale: what each subscription matching that publication costs without any filter (its EVENT encoded once).
  const wire = [36, 1, 2, {}, big.args, big.kwargs];
  row('256 KiB event, for scale: encoding its EVENT once as JSON (per matching subscription)', micro(() => jsonSerializer.encode(wire)));
  // Memory: what a filtered subscription holds for its compiled filter (heap after a full GC, 2000 filters of each kind).
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const bytesPer = (make) => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept = Array.from({ length: 2000 }, (_, i) => compiled(make(i)));
    gc();
    const per = (process.memoryUsage().heapUsed - before) / kept.length;
    return { median: round(per, 0), min: round(per, 0), max: round(per, 0) };
  };
  const mem = (what, r) => { out.push({ part: 'memory', what, bytes: r.median }); log(`${what.padEnd(72)} ${String(r.median).padStart(9)} bytes`); };
  mem('heap per compiled filter: two conditions (~60 characters)', bytesPer((i) => `kwargs.player == "p-${i}" && kwargs.cmd in ["move", "drop"]`));
  mem('heap per compiled filter: 64 nodes, ~900 characters', bytesPer((i) => Array.from({ length: 13 }, (_, k) => `kwargs.k${k} == "${'x'.repeat(50)}${i}"`).join(' || ')));
  return out;
}

// ---------------------------------------------------------------- run

const at = new Date().toISOString();
const results = [];
const host = { cpus: os.cpus().length, load1: round(os.loadavg()[0], 2), node: process.version };
log(`filter fan-out: ${N} subscribers, ${ROUNDS} rounds × ${Object.keys(SHAPES).length} shapes, ${WARM_S} s warm-up + ${WINDOW_S} s window`);
if (FANOUT) for (const r of await fanout()) results.push(r);
log('\nfilter cost in this process:');
for (const r of evaluation()) results.push(r);

mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
const file = path.join(ROOT, 'bench', 'results', `filter-fanout-${at.slice(0, 10)}.jsonl`);
for (const r of results) {
  const line = JSON.stringify({ at, host, ...r });
  appendFileSync(file, `${line}\n`);
  if (JSON_OUT) console.log(line);
}
if (!JSON_OUT && FANOUT) {
  console.log('\nshape        deliveries/pub  router µs/pub (min–max)     router µs/delivery  pub/s   ÷ plain-500 (per round)');
  for (const r of results.filter((x) => x.part === 'fanout')) {
    console.log(`${r.shape.padEnd(12)} ${String(r.deliveries_per_pub).padStart(14)}  ${String(r.router_us_per_pub.median).padStart(8)} (${r.router_us_per_pub.min}–${r.router_us_per_pub.max})`.padEnd(58)
      + `${String(r.router_us_per_delivery.median).padStart(8)}  ${String(r.pubs_per_s.median).padStart(10)}   ${r.vs_plain_500.median} (${r.vs_plain_500.per_round.join(' ')})${r.lost ? `  lost ${r.lost}` : ''}`);
  }
}
if (!JSON_OUT) console.log(`\n(appended to ${path.relative(ROOT, file)})`);
