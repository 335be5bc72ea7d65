// The load generator: one process, raw WAMP over `ws` (no client library).
// Forked by run.js with one point to measure; replies over IPC with one
// result object and exits. It samples its own CPU (process.cpuUsage) and the
// target's (/proc/<pid>/stat) at the same two instants that bound the
// measurement window, so both figures cover exactly the same interval.
import { performance } from 'node:perf_hooks';
import { WebSocket } from './lib/deps.js';
import { T, codecs, HELLO_DETAILS } from './lib/wamp.js';
import { cpuSeconds, rssKiB, hostTicks } from './lib/proc.js';
import { latencySummary, round } from './lib/stats.js';

const REALM = 'realm1';
const TOPIC = 'bench.claw.control';
const PROC = 'bench.echo';
// A claw control message as a player would send it (~60 bytes of JSON).
const PAYLOAD = { cmd: 'move', x: 0.25, y: -0.5, player: 'p-0001' };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now(); // ms, sub-µs resolution

/** Runs `fn(i)` for i < n with at most `conc` in flight. */
async function pool(n, conc, fn) {
  let next = 0;
  const worker = async () => { while (next < n) await fn(next++); };
  await Promise.all(Array.from({ length: Math.min(n, conc) }, worker));
}

/**
 * Opens a WebSocket, says HELLO, waits for WELCOME, then optionally sends one
 * more request (SUBSCRIBE/REGISTER) and waits for its answer. Resolves with
 * the socket; the caller then installs its own 'message' handler.
 */
function openSession(url, codec, setup) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, codec.protocol, { perMessageDeflate: false, handshakeTimeout: 10000 });
    let stage = 0;
    const fail = (why) => { ws.terminate(); reject(new Error(`${url}: ${why}`)); };
    ws.on('error', (e) => fail(e.message));
    ws.on('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`));
    ws.on('open', () => ws.send(codec.encode([T.HELLO, REALM, HELLO_DETAILS]), { binary: codec.binary }));
    ws.on('message', function onHandshake(data) {
      const msg = codec.decode(data);
      if (stage === 0) {
        if (msg[0] !== T.WELCOME) return fail(`expected WELCOME, got ${JSON.stringify(msg)}`);
        if (setup === undefined) { ws.off('message', onHandshake); ws.removeAllListeners('error'); ws.on('error', () => {}); return resolve(ws); }
        stage = 1;
        ws.send(codec.encode(setup.request), { binary: codec.binary });
        return;
      }
      if (msg[0] !== setup.expect) return fail(`expected ${setup.expect}, got ${JSON.stringify(msg)}`);
      ws.off('message', onHandshake);
      ws.removeAllListeners('error');
      ws.on('error', () => {});
      resolve(ws);
    });
  });
}

/** Snapshot of both processes' CPU at one instant. */
function snap(targetPid) {
  return { t: now(), self: process.cpuUsage(), target: cpuSeconds(targetPid), host: hostTicks() };
}

function cpuBetween(a, b) {
  const wall = (b.t - a.t) / 1000;
  const selfSec = ((b.self.user - a.self.user) + (b.self.system - a.self.system)) / 1e6;
  const ht = b.host.total - a.host.total;
  return {
    wall_s: round(wall, 3),
    target_cpu: round((b.target - a.target) / wall, 2),
    target_cpu_s: round(b.target - a.target, 3),
    loadgen_cpu: round(selfSec / wall, 2),
    // The whole machine during the window (all CPUs): how busy it was, and
    // how much the hypervisor took. Both high = a noisy, untrustworthy point.
    host_busy: round(1 - (b.host.idle - a.host.idle) / ht, 2),
    host_steal: round((b.host.steal - a.host.steal) / ht, 2),
  };
}

function bottleneck(cpu) {
  const t = cpu.target_cpu >= 0.85;
  const l = cpu.loadgen_cpu >= 0.85;
  return t && l ? 'both' : t ? 'target' : l ? 'loadgen' : 'neither';
}

// ---------------------------------------------------------------- fan-out

async function fanout(p) {
  const codec = codecs[p.serializer];
  const { relay } = p.target;
  const N = p.n;
  const light = p.mode === 'light';
  let delivered = 0;
  let lastProgress = now();
  const lat = [];
  let measuring = false;
  let badFrames = 0;

  const subSetup = relay ? undefined : { request: [T.SUBSCRIBE, 1, {}, TOPIC], expect: T.SUBSCRIBED };
  const subs = new Array(N);
  await pool(N, p.connectConcurrency, async (i) => { subs[i] = await openSession(p.target.urls.sub, codec, subSetup); });
  const pub = await openSession(p.target.urls.pub, codec);

  // Deliveries are counted from a cheap peek at the type; the full decode
  // (for the send timestamp) happens only in light mode.
  const eventType = relay ? T.PUBLISH : T.EVENT;
  let pump = () => {};
  for (const s of subs) {
    s.on('message', (data) => {
      if (codec.peek(data) !== eventType) { badFrames++; return; }
      delivered++;
      lastProgress = now();
      if (light && measuring) {
        const msg = codec.decode(data);
        lat.push((now() - msg[4][1]) * 1000);
      }
      pump();
    });
  }

  let seq = 0;
  let reqId = 0;
  let stopped = false;
  const publish = () => {
    seq++;
    reqId++;
    const frame = codec.encode([T.PUBLISH, reqId, {}, TOPIC, [seq, now(), PAYLOAD]]);
    pub.send(frame, { binary: codec.binary });
  };

  let stalls = 0;
  let timer;
  if (light && p.warmBurstMs > 0) {
    // A router runs for days; its hot path is compiled by V8's optimizing
    // tier long before a quiet minute. A fresh process that has seen only a
    // few hundred messages still runs that path in the interpreter or the
    // baseline tier, which is what a light-load window on a cold target would
    // measure. So the path is first driven at full speed (publish as fast as
    // deliveries come back) for warmBurstMs, then allowed to drain.
    const burstEnd = now() + p.warmBurstMs;
    const W = 64;
    pump = () => {
      if (now() >= burstEnd) { pump = () => {}; return; }
      while (seq - delivered / N < W) publish();
    };
    pump();
    await sleep(p.warmBurstMs);
    pump = () => {};
    await sleep(200); // drain: the light window must not see the burst's queue
  }
  if (light) {
    // Fixed rate: one publication per slot; slots missed while the process
    // was not scheduled are skipped, not caught up (a burst would measure
    // queueing, not latency). Total deliveries kept light (see README).
    const interval = 1000 / p.lightRate;
    let nextAt = now();
    const tick = () => {
      if (stopped) return;
      publish();
      const t = now();
      nextAt += interval;
      if (nextAt < t) nextAt = t + interval; // fell behind: skip
      timer = setTimeout(tick, nextAt - t);
    };
    tick();
  } else {
    // Saturation with a bounded window of publications in flight: a
    // publication is done once N deliveries arrived for it (on average).
    const W = Math.max(4, Math.min(256, Math.ceil(4096 / N)));
    let base = 0; // publications written off after a stall
    pump = () => {
      while (!stopped && seq - base - Math.floor(delivered / N) < W) publish();
    };
    timer = setInterval(() => {
      if (!stopped && now() - lastProgress > 1000) {
        // Nothing arrived for a second: deliveries were lost; restart the window.
        stalls++;
        base = seq - Math.floor(delivered / N);
        lastProgress = now();
        pump();
      }
    }, 250);
    pump();
  }

  await sleep(p.warmupMs);
  const d0 = delivered;
  const s0 = snap(p.target.pid);
  measuring = true;
  await sleep(p.windowMs);
  measuring = false;
  const s1 = snap(p.target.pid);
  const d1 = delivered;
  stopped = true;
  clearTimeout(timer);
  clearInterval(timer);
  const cpu = cpuBetween(s0, s1);
  const out = {
    ...cpu,
    deliveries_per_s: round((d1 - d0) / cpu.wall_s, 0),
    cpu_us_per_op: round((cpu.target_cpu_s * 1e6) / Math.max(1, d1 - d0), 2),
    publications_per_s: round((d1 - d0) / N / cpu.wall_s, 1),
    target_rss_kib: rssKiB(p.target.pid),
    stalls,
    bad_frames: badFrames,
    bottleneck: bottleneck(cpu),
  };
  if (light) Object.assign(out, latencySummary(lat));
  return out;
}

// ---------------------------------------------------------------- RPC

async function rpc(p) {
  const codec = codecs[p.serializer];
  const { relay } = p.target;
  const K = p.n;
  const calleeSetup = relay ? undefined : { request: [T.REGISTER, 1, {}, PROC], expect: T.REGISTERED };
  const callee = await openSession(p.target.urls.callee, codec, calleeSetup);
  // The callee echoes args, in order (the relay relies on that).
  callee.on('message', (data) => {
    const msg = codec.decode(data);
    if (msg[0] === T.INVOCATION || msg[0] === T.CALL) {
      callee.send(codec.encode([T.YIELD, msg[1], {}, msg[4]]), { binary: codec.binary });
    }
  });

  const callers = new Array(K);
  await pool(K, p.connectConcurrency, async (i) => { callers[i] = await openSession(p.target.urls.caller, codec); });

  const resultType = relay ? T.YIELD : T.RESULT;
  let completed = 0;
  let errors = 0;
  let measuring = false;
  let stopped = false;
  const lat = [];
  for (const c of callers) {
    let sentAt = 0;
    // Request ids are per session, 1, 2, 3, ... (the spec's rule; the router ends a session that skips one).
    let reqId = 0;
    const call = () => {
      reqId++;
      sentAt = now();
      c.send(codec.encode([T.CALL, reqId, {}, PROC, [reqId, PAYLOAD]]), { binary: codec.binary });
    };
    c.on('message', (data) => {
      const t = codec.peek(data);
      if (t === resultType) {
        completed++;
        if (measuring) lat.push((now() - sentAt) * 1000);
      } else {
        errors++;
      }
      if (!stopped) call();
    });
    c.start = call;
  }
  for (const c of callers) c.start();

  await sleep(p.warmupMs);
  const c0 = completed;
  const s0 = snap(p.target.pid);
  measuring = true;
  await sleep(p.windowMs);
  measuring = false;
  const s1 = snap(p.target.pid);
  const c1 = completed;
  stopped = true;
  const cpu = cpuBetween(s0, s1);
  return {
    ...cpu,
    calls_per_s: round((c1 - c0) / cpu.wall_s, 0),
    cpu_us_per_op: round((cpu.target_cpu_s * 1e6) / Math.max(1, c1 - c0), 2),
    ...latencySummary(lat),
    target_rss_kib: rssKiB(p.target.pid),
    errors,
    bottleneck: bottleneck(cpu),
  };
}

// ---------------------------------------------------------------- idle sessions

async function idle(p) {
  const codec = codecs[p.serializer];
  const M = p.n;
  await sleep(p.settleMs);
  const rss0 = rssKiB(p.target.pid);
  const sockets = new Array(M);
  let failed = 0;
  const s0 = snap(p.target.pid);
  await pool(M, p.connectConcurrency, async (i) => {
    try { sockets[i] = await openSession(p.target.urls.idle, codec); } catch { failed++; }
  });
  const s1 = snap(p.target.pid);
  await sleep(p.settleMs);
  const rss1 = rssKiB(p.target.pid);
  const cpu = cpuBetween(s0, s1);
  const ok = M - failed;
  // Then the sessions just sit for a window: what the target spends on idle
  // sessions (nothing, unless it pings them: --auto-ping). ws answers pings
  // by itself; they are counted to show they happened.
  let pings = 0;
  for (const ws of sockets) ws?.on('ping', () => { pings++; });
  const w0 = snap(p.target.pid);
  await sleep(p.windowMs);
  const w1 = snap(p.target.pid);
  const idleCpu = cpuBetween(w0, w1);
  const open = sockets.filter((ws) => ws?.readyState === WebSocket.OPEN).length;
  for (const ws of sockets) ws?.terminate();
  return {
    ...cpu,
    sessions: ok,
    failed,
    sessions_per_s: round(ok / cpu.wall_s, 0),
    cpu_us_per_op: round((cpu.target_cpu_s * 1e6) / Math.max(1, ok), 2),
    target_rss_kib_before: rss0,
    target_rss_kib: rss1,
    rss_per_session_kib: round((rss1 - rss0) / Math.max(1, ok), 2),
    idle_window_s: idleCpu.wall_s,
    // target CPU while idle, in ms per second of wall time (1000 = one core)
    idle_cpu_ms_per_s: round((idleCpu.target_cpu_s * 1000) / idleCpu.wall_s, 2),
    idle_pings_per_s: round(pings / idleCpu.wall_s, 0),
    idle_sessions_open_after: open,
    target_rss_kib_after_idle: rssKiB(p.target.pid),
    bottleneck: bottleneck(cpu),
  };
}

// ---------------------------------------------------------------- main

const shapes = { fanout, rpc, idle };

process.once('message', async (point) => {
  let result;
  try {
    result = await shapes[point.shape](point);
  } catch (e) {
    result = { error: e instanceof Error ? e.message : String(e) };
  }
  process.send(result, () => process.exit(0));
});
