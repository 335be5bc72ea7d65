#!/usr/bin/env node
// Benchmark orchestrator (issue 7). Starts one target at a time on
// 127.0.0.1 in its own process, forks the load generator (loadgen.js) for one
// point, collects its result, stops the target, and moves on. Prints one JSON
// line per point (also appended to bench/results/<date>.jsonl), then a table
// of medians with ratios vs the relay and vs the best peer.
//
//   node bench/run.js [--quick] [--runs N] [--repeat-all] [--targets a,b]
//                     [--shapes fanout,rpc,idle] [--serializers json,msgpack]
//                     [--router auto|dist|src] [--auto-ping MS:MS] [--profile] [--out FILE]
import { spawn, fork, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, appendFileSync, writeFileSync, readdirSync, statSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BENCH, benchRequire } from './lib/deps.js';
import { median, round } from './lib/stats.js';
import { printTable } from './lib/report.js';
import { routerConfig } from './lib/router-config.js';
import { printPingComparison } from './lib/ping-report.js';

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = { pin: false, quick: false, runs: 3, repeatAll: false, targets: null, shapes: null, serializers: null, router: 'auto', profile: false, out: null, only: null, warmBurst: null, autoPing: null, idleWindow: null, targetNode: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a === '--quick') o.quick = true;
    else if (a === '--runs') o.runs = Math.max(1, Number(val()));
    else if (a === '--repeat-all') o.repeatAll = true;
    else if (a === '--targets') o.targets = val().split(',');
    else if (a === '--shapes') o.shapes = val().split(',');
    else if (a === '--serializers') o.serializers = val().split(',');
    else if (a === '--router') o.router = val();
    else if (a === '--profile') o.profile = true;
    else if (a === '--pin') o.pin = true;
    else if (a === '--warm-burst') o.warmBurst = Math.max(0, Number(val()));
    else if (a === '--only') o.only = new RegExp(val());
    else if (a === '--auto-ping') o.autoPing = autoPingArg(val());
    else if (a === '--idle-window') o.idleWindow = Math.max(100, Number(val()));
    else if (a === '--out') o.out = val();
    else if (a === '--target-node') o.targetNode = val();
    else if (a === '-h' || a === '--help') { console.log(readHelp()); process.exit(0); }
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  return o;
}

/** `--auto-ping INTERVAL_MS:TIMEOUT_MS` (timeout defaults to 10000). */
function autoPingArg(v) {
  const [i, t = '10000'] = v.split(':');
  const intervalMs = Number(i);
  const timeoutMs = Number(t);
  if (!(Number.isInteger(intervalMs) && intervalMs > 0 && Number.isInteger(timeoutMs) && timeoutMs > 0)) throw new Error(`--auto-ping needs INTERVAL_MS[:TIMEOUT_MS], got ${v}`);
  return { intervalMs, timeoutMs };
}

function readHelp() {
  return `usage: node bench/run.js [options]
  --quick                 short windows (0.3 s warm-up + 1 s), for a smoke run
  --runs N                runs of the key points (default 3); medians are reported
  --repeat-all            repeat every point, not only the key points
  --targets LIST          relay,router,wamp.rt,fox-wamp (default: all)
  --shapes LIST           fanout,rpc,idle (default: all)
  --serializers LIST      json,msgpack (default: both; msgpack runs on router+relay only)
  --router MODE           our router from: dist (router/bin → router/dist), build (a
                          private tsc build of router/src in a temp dir), src (tsx);
                          auto (default) = dist unless missing or older than src, else build
  --only REGEX            only points whose id (shape/mode/n, e.g. fanout/saturate/1000,
                          rpc/-/16, idle/-/5000) matches
  --warm-burst MS         light-load points: drive the path at full speed for MS first, so the
                          window sees a warm (JIT-compiled) target (default 1000, --quick 300;
                          0 = measure a cold process)
  --auto-ping MS[:MS]     our router's idle points twice per run: auto_ping off, and on with this
                          interval (and timeout, default 10000 ms); point idle/ping/N, and a
                          table of the two side by side at the end
  --idle-window MS        how long idle points hold their sessions while the target's CPU is
                          measured (default: the window); longer than the ping interval to
                          see a whole round of pings
  --pin                   pin the target to CPU 0 and the load generator to CPU 1 (taskset -a);
                          off by default: it also pins the target's GC threads to its one core
  --profile               run our router and the relay under node --cpu-prof (profiles in bench/results/prof-*)
  --target-node PATH      the Node binary that runs the targets (default: the one running run.js;
                          the load generator always runs on that one): issue 21 compares Node
                          versions with it (bench/node-compare.js)
  --out FILE              JSONL output (default bench/results/<date>.jsonl)`;
}

const opts = parseArgs(process.argv.slice(2));
const timing = opts.quick
  ? { warmupMs: 300, windowMs: 1000, settleMs: 300, warmBurstMs: 300 }
  : { warmupMs: 1000, windowMs: 3000, settleMs: 1000, warmBurstMs: 1000 };
if (opts.warmBurst !== null) timing.warmBurstMs = opts.warmBurst;
const POINT_TIMEOUT_MS = 60_000; // hard stop for one point, setup included
// The targets' Node (--target-node), and its version for the JSONL rows.
const TARGET_NODE = opts.targetNode ? path.resolve(opts.targetNode) : process.execPath;
const TARGET_NODE_VERSION = TARGET_NODE === process.execPath ? process.version : (spawnSync(TARGET_NODE, ['-p', 'process.version'], { encoding: 'utf8' }).stdout ?? '').trim();
if (!/^v\d+\./.test(TARGET_NODE_VERSION)) throw new Error(`--target-node ${TARGET_NODE} does not run`);

// ---------------------------------------------------------------- targets

function newestMtime(dir, ext) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function routerMode() {
  if (['dist', 'src', 'build'].includes(opts.router)) return opts.router;
  if (opts.router !== 'auto') throw new Error(`--router must be auto, dist, build or src`);
  const dist = path.join(ROOT, 'router/dist/cli.js');
  if (!existsSync(dist)) return 'build';
  return newestMtime(path.join(ROOT, 'router/dist'), '.js') >= newestMtime(path.join(ROOT, 'router/src'), '.ts') ? 'dist' : 'build';
}

/**
 * `--router build`: compile router/src with the router's own tsconfig into a
 * temporary directory (router/dist is left alone), with a node_modules link
 * so its imports resolve to the root install. Falls back to tsx on failure.
 */
function privateBuild() {
  // Kept with the profiles when profiling: profile.js needs the source maps.
  const dir = opts.profile ? path.join(profDir, 'router-build') : path.join(tmpDir, 'router-build');
  mkdirSync(dir, { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'router/tsconfig.build.json'), '--outDir', path.join(dir, 'dist'), '--declaration', 'false', '--noEmitOnError', 'false'], { encoding: 'utf8' });
  if (!existsSync(path.join(dir, 'dist/cli.js'))) {
    process.stderr.write(`tsc build of router/src failed, using tsx instead:\n${r.stdout}${r.stderr}\n`);
    return null;
  }
  if (r.status !== 0) process.stderr.write(`note: tsc reported type errors in router/src (code emitted anyway)\n`);
  return path.join(dir, 'dist');
}

const RUN_STAMP = new Date().toISOString().replace(/[:.]/g, '-');
const profDir = path.join(BENCH, 'results', `prof-${RUN_STAMP}`);
const tmpDir = path.join(os.tmpdir(), `clawgate-bench-${process.pid}`);
mkdirSync(tmpDir, { recursive: true });
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));
let ROUTER_MODE = routerMode();
let ROUTER_BUILD = null;
if (ROUTER_MODE === 'build' && (!opts.targets || opts.targets.includes('router'))) {
  ROUTER_BUILD = privateBuild();
  if (ROUTER_BUILD === null) ROUTER_MODE = 'src';
}

/** `--profile`: our router and the relay (its baseline) run under the V8 CPU profiler. */
const profArgs = () => (opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);

/** name → how to start it and where its endpoints are. */
const TARGETS = {
  relay: {
    peer: false,
    relay: true,
    start: (port) => [TARGET_NODE, [...profArgs(), path.join(BENCH, 'targets/relay.js'), String(port)]],
    urls: (port) => Object.fromEntries(['pub', 'sub', 'caller', 'callee', 'idle'].map((r) => [r, `ws://127.0.0.1:${port}/${r}`])),
  },
  router: {
    peer: false,
    start: (port, p) => {
      const cfg = path.join(tmpDir, `router-${port}.json`);
      writeFileSync(cfg, JSON.stringify(routerConfig(port, { autoPing: p.autoPing ?? undefined })));
      const nodeArgs = profArgs();
      const entry = ROUTER_MODE === 'dist' ? path.join(ROOT, 'router/bin/clawgate-router.js')
        : ROUTER_MODE === 'build' ? path.join(BENCH, 'targets/router-build.js')
          : path.join(BENCH, 'targets/router-src.js');
      return [TARGET_NODE, [...nodeArgs, entry, '--config', cfg, '--log-level', 'warn']];
    },
    urls: (port) => same(`ws://127.0.0.1:${port}/`),
  },
  'wamp.rt': {
    peer: true,
    start: (port) => [TARGET_NODE, [path.join(BENCH, 'targets/wamprt.cjs'), String(port)]],
    urls: (port) => same(`ws://127.0.0.1:${port}/`),
  },
  'fox-wamp': {
    peer: true,
    start: (port) => [TARGET_NODE, [path.join(BENCH, 'targets/fox.cjs'), String(port)]],
    urls: (port) => same(`ws://127.0.0.1:${port}/`),
  },
};
function same(url) { return { pub: url, sub: url, caller: url, callee: url, idle: url }; }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitPort(port, child, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`target exited with ${child.exitCode}`);
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`target did not listen on ${port} within ${timeoutMs} ms`);
}

// Children of the point in progress, killed if we are interrupted.
const live = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of live) c.kill('SIGKILL');
    rmSync(tmpDir, { recursive: true, force: true });
    process.exit(130);
  });
}

// --pin: target on CPU 0, load generator on CPU 1 (every thread: taskset -a).
// Left to the scheduler, a point sometimes lands in one of two modes (seen:
// RPC 16 at 18k or 32k calls/s for the same relay). Pinning makes the relay
// steady, but it also confines the target's GC helper threads to its one
// core, which costs a target that allocates (our router: 50 instead of 38 µs
// per call) far more than the relay, and is not how a router runs in
// production. So it is an option for experiments, not the default.
const PIN = opts.pin && os.cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
function pin(pid, cpu) {
  if (PIN) spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

async function startTarget(name, p) {
  const port = await freePort();
  const [cmd, args] = TARGETS[name].start(port, p);
  const env = ROUTER_BUILD ? { ...process.env, CLAWGATE_BENCH_ROUTER_BUILD: ROUTER_BUILD } : process.env;
  const child = spawn(cmd, args, { cwd: BENCH, env, stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  try {
    await waitPort(port, child);
    pin(child.pid, 0);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${name}: ${e.message}\n${stderr}`);
  }
  return { child, port, stderr: () => stderr };
}

async function stopTarget(t) {
  if (t.child.exitCode !== null) return;
  const exited = new Promise((r) => t.child.once('exit', r));
  t.child.kill('SIGTERM'); // our router says GOODBYE and exits; --cpu-prof writes on exit
  const timeout = new Promise((r) => setTimeout(r, 3000, 'timeout'));
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    t.child.kill('SIGKILL');
    await exited;
  }
}

// ---------------------------------------------------------------- points

const KEY = new Set(['fanout/saturate/1000', 'fanout/light/1', 'rpc/-/16', 'idle/-/5000', 'idle/ping/5000']);

function pointsFor(serializer, target) {
  const pts = [];
  for (const n of [1, 10, 100, 1000]) pts.push({ shape: 'fanout', mode: 'saturate', n });
  // Light load: 200 publications/s, but at most ~2000 deliveries/s in total,
  // so that "light" stays light for 100 and 1000 subscribers.
  for (const n of [1, 10, 100, 1000]) pts.push({ shape: 'fanout', mode: 'light', n, lightRate: Math.min(200, 2000 / n) });
  for (const n of [1, 16, 64]) pts.push({ shape: 'rpc', mode: '-', n });
  pts.push({ shape: 'idle', mode: '-', n: 5000 });
  // --auto-ping: the same idle point with pings on, right after the one without (our router only).
  if (opts.autoPing && target === 'router') pts.push({ shape: 'idle', mode: 'ping', n: 5000, autoPing: opts.autoPing });
  return pts.map((p) => ({ ...p, serializer, key: KEY.has(`${p.shape}/${p.mode}/${p.n}`) }))
    .filter((p) => !opts.shapes || opts.shapes.includes(p.shape))
    .filter((p) => !opts.only || opts.only.test(`${p.shape}/${p.mode}/${p.n}`));
}

/** The peers live in bench/node_modules; without them, say how to get them. */
function peersInstalled() {
  try {
    benchRequire.resolve('wamp.rt');
    benchRequire.resolve('fox-wamp');
    return true;
  } catch {
    return false;
  }
}

function plan() {
  let targets = opts.targets ?? Object.keys(TARGETS);
  if (!peersInstalled() && targets.some((t) => TARGETS[t]?.peer)) {
    process.stderr.write('wamp.rt / fox-wamp are not installed; skipping them. Install with:\n  npm install --prefix bench --no-workspaces --ignore-scripts\n');
    targets = targets.filter((t) => !TARGETS[t]?.peer);
  }
  for (const t of targets) if (!(t in TARGETS)) throw new Error(`unknown target ${t}`);
  const sers = opts.serializers ?? ['json', 'msgpack'];
  const out = [];
  for (let run = 1; run <= opts.runs; run++) {
    for (const target of targets) {
      for (const ser of sers) {
        // MessagePack: our router (and the relay, as its baseline) only.
        if (ser === 'msgpack' && TARGETS[target].peer) continue;
        for (const p of pointsFor(ser, target)) {
          if (run > 1 && !p.key && !opts.repeatAll) continue;
          // --quick: MessagePack at the key points only.
          if (opts.quick && ser === 'msgpack' && !p.key && !opts.only) continue;
          out.push({ ...p, target, run });
        }
      }
    }
  }
  return out;
}

function runLoadgen(point) {
  return new Promise((resolve) => {
    const child = fork(path.join(BENCH, 'loadgen.js'), [], { cwd: BENCH, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    pin(child.pid, 1);
    live.add(child);
    child.once('exit', () => live.delete(child));
    let done = false;
    const finish = (r) => { if (!done) { done = true; clearTimeout(timer); resolve(r); } };
    const timer = setTimeout(() => { child.kill('SIGKILL'); finish({ error: `point timed out after ${POINT_TIMEOUT_MS} ms` }); }, POINT_TIMEOUT_MS);
    child.once('message', finish);
    child.once('exit', (code) => finish({ error: `load generator exited with ${code}` }));
    child.send(point);
  });
}

async function measure(p) {
  let t;
  try {
    t = await startTarget(p.target, p);
  } catch (e) {
    return { error: e.message };
  }
  try {
    const def = TARGETS[p.target];
    const r = await runLoadgen({
      ...p,
      ...timing,
      ...(p.shape === 'idle' && opts.idleWindow ? { windowMs: opts.idleWindow } : {}),
      connectConcurrency: p.shape === 'idle' ? 100 : 50,
      target: { name: p.target, pid: t.child.pid, relay: def.relay === true, urls: def.urls(t.port) },
    });
    return { ...r, target_pid: t.child.pid };
  } finally {
    await stopTarget(t);
  }
}

// ---------------------------------------------------------------- main

const resultsDir = path.join(BENCH, 'results');
mkdirSync(resultsDir, { recursive: true });
const outFile = opts.out ?? path.join(resultsDir, `${new Date().toISOString().slice(0, 10)}.jsonl`);
const points = plan();
process.stderr.write(`clawgate bench: ${points.length} points, ${opts.quick ? 'quick' : 'full'} (${timing.warmupMs} ms warm-up + ${timing.windowMs} ms window), our router from ${ROUTER_MODE}, targets on Node ${TARGET_NODE_VERSION}, ${os.cpus().length} CPUs${PIN ? ' (target pinned to CPU 0, loadgen to CPU 1)' : ''}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
if (opts.profile) process.stderr.write(`profiles: ${profDir}\n`);

const rows = [];
const started = Date.now();
for (const p of points) {
  const { key, ...pt } = p;
  const r = await measure(pt);
  const row = {
    ts: new Date().toISOString(),
    target: p.target, serializer: p.serializer, shape: p.shape, mode: p.mode, n: p.n, run: p.run, key,
    quick: opts.quick, router_from: p.target === 'router' ? ROUTER_MODE : undefined, target_node: TARGET_NODE_VERSION,
    ...(p.lightRate ? { light_rate: round(p.lightRate, 1), warm_burst_ms: timing.warmBurstMs } : {}),
    ...(p.autoPing ? { auto_ping_interval_ms: p.autoPing.intervalMs, auto_ping_timeout_ms: p.autoPing.timeoutMs } : {}),
    ...r,
  };
  rows.push(row);
  const line = JSON.stringify(row);
  process.stdout.write(line + '\n');
  appendFileSync(outFile, line + '\n');
}
process.stderr.write(`done in ${round((Date.now() - started) / 1000, 0)} s; results appended to ${path.relative(process.cwd(), outFile)}\n\n`);
printTable(rows, median);
if (opts.autoPing) printPingComparison(rows, median, opts.autoPing);
