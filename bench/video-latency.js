#!/usr/bin/env node
// Glass-to-glass video delay (issue 16): from the moment the synthetic camera
// draws a frame (it paints that time into the frame, STAMP in
// @clawgate/protocol) to the moment the player page shows it (the stamp read
// back from the displayed video in a canvas, at requestVideoFrameCallback's
// expected display time). 640 × 480, 30 fps, VP8, loopback. Not a test: a
// measurement, printed and appended to bench/results/video-<date>.jsonl.
//
//   npm run bench:video [-- --seconds 15 --viewers 1,10,25 --json]
//
// The system runs as `npm start -- --video` in a child process (so this
// process's browser and receivers are not charged to it): router, backend
// with the video service, one simulated claw node with its synthetic camera
// (ffmpeg), and Janus. One Chromium page is the measured viewer (the real
// player page, decoding and showing the video). The extra viewers are light
// receivers: RTCPeerConnections in one other Chromium page whose tracks are
// not shown, signalled from this process over WAMP like the page does
// (claw.video.watch / answer): Janus sends each of them the whole stream, so
// its cost per viewer is real. CPU is sampled from /proc for Janus, the
// camera's ffmpeg and the system's Node process (router, backend and the
// claw node's thread together), as % of one core over the measured window.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const arg = (name, dflt) => { const i = args.indexOf(name); return i === -1 ? dflt : args[i + 1]; };
const SECONDS = Number(arg('--seconds', 15));
const VIEWERS = String(arg('--viewers', '1,10,25')).split(',').map(Number);
const JSON_ONLY = args.includes('--json');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync', '--autoplay-policy=no-user-gesture-required'];
/** keypress → GPIO, browser clock, as docs/benchmarks.md reports it (2026-12-03; `npm run bench:keypress` measures it again). */
const KEYPRESS_DOC = { p50: 2.22, p99: 6.86, source: 'docs/benchmarks.md (2026-12-03)' };

const log = (...a) => { if (!JSON_ONLY) console.error(...a); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { chromium } = require('playwright-core');
const autobahn = require('autobahn');
globalThis.WebSocket ??= require('ws');

// ---- processes and CPU ------------------------------------------------------------------------

function procs() {
  const out = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(e), { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]), cmd: readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch { /* gone */ }
  }
  return out;
}
function descendant(root, re) {
  const all = procs();
  const under = (pid) => { for (let p = all.get(pid)?.ppid; p !== undefined && p > 1; p = all.get(p)?.ppid) if (p === root) return true; return false; };
  return [...all].find(([pid, p]) => under(pid) && re.test(p.cmd))?.[0];
}
const TICK = 100; // USER_HZ
function cpuTicks(pid) {
  try { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return Number(f[11]) + Number(f[12]); } catch { return NaN; }
}

// ---- the system -------------------------------------------------------------------------------

async function startSystem(dir, maxViewers) {
  const overrides = join(dir, 'overrides.json');
  writeFileSync(overrides, JSON.stringify({ video: { backend: { limits: { perSession: maxViewers + 2 } } } }));
  const proc = spawn(process.execPath, [join(ROOT, 'system/bin/clawgate.js'), '--port', '0', '--data', join(dir, 'data'), '--video', '--log-level', 'warn', '--overrides', overrides],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const deadline = Date.now() + 90_000;
  for (;;) {
    const url = /ClawGate is running: (\S+)/.exec(out)?.[1];
    if (url && /video\s+live/.test(out)) return { proc, url, wsUrl: /WAMP\s+(ws:\/\/\S+)/.exec(out)[1] };
    if (/video\s+off/.test(out)) throw new Error(`video is off: ${out}`);
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`the system did not start:\n${out}`);
    await sleep(100);
  }
}

function wamp(url) {
  return new Promise((resolve, reject) => {
    const c = new autobahn.Connection({ url, realm: 'claw', max_retries: 0, retry_if_unreachable: false });
    c.onopen = (s) => resolve({ session: s, close: () => { try { c.close(); } catch { /* closed */ } } });
    c.onclose = (reason) => { reject(new Error(reason)); return true; };
    c.open();
  });
}

// ---- the measured viewer ----------------------------------------------------------------------

// In the page: each shown frame's stamp (STAMP: 56 blocks across 1/80 of the width each, on the
// top 1/30 of the height), read from a canvas, against the expected display time.
const COLLECT = `(() => {
  const v = document.querySelector('.live video');
  const c = document.createElement('canvas');
  const g = c.getContext('2d', { willReadFrequently: true });
  window.__delays = []; window.__unread = 0;
  const read = (now, meta) => {
    const w = v.videoWidth, h = v.videoHeight;
    if (w > 0) {
      const sh = Math.ceil(h / 30);
      c.width = w; c.height = sh;
      g.drawImage(v, 0, 0, w, sh, 0, 0, w, sh);
      const d = g.getImageData(0, 0, w, sh).data;
      const y = Math.floor(sh / 2);
      const bytes = [];
      for (let b = 0; b < 7; b++) {
        let byte = 0;
        for (let i = 0; i < 8; i++) {
          const x = Math.floor(((b * 8 + i) + 0.5) * w / 80);
          const k = (y * w + x) * 4;
          byte = (byte << 1) | ((0.299 * d[k] + 0.587 * d[k + 1] + 0.114 * d[k + 2]) >= 128 ? 1 : 0);
        }
        bytes.push(byte);
      }
      const sum = bytes.slice(0, 6).reduce((a, b) => a + b, 0) % 256;
      if (sum === bytes[6]) {
        const sent = bytes.slice(0, 6).reduce((a, b) => a * 256 + b, 0);
        const shown = Date.now() + (meta.expectedDisplayTime - performance.now());
        window.__delays.push(shown - sent);
      } else window.__unread++;
    }
    v.requestVideoFrameCallback(read);
  };
  v.requestVideoFrameCallback(read);
})()`;

// ---- light receivers --------------------------------------------------------------------------

async function addReceivers(page, session, n, all) {
  for (let i = 0; i < n; i++) {
    const offer = await session.call('claw.video.watch', [{ machine: 'claw-1' }]);
    const sdp = await page.evaluate(async (o) => {
      const pc = new RTCPeerConnection({ iceServers: o.iceServers });
      (window.__pcs ??= []).push(pc);
      // The track is received (RTP, SRTP, jitter buffer) but shown nowhere.
      await pc.setRemoteDescription(o.offer);
      await pc.setLocalDescription(await pc.createAnswer());
      if (pc.iceGatheringState !== 'complete') await new Promise((r) => { pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); }; setTimeout(r, 2000); });
      return pc.localDescription.sdp;
    }, offer);
    await session.call('claw.video.answer', [{ viewer: offer.viewer, answer: { type: 'answer', sdp } }]);
  }
  // Connected and receiving.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const receiving = await page.evaluate(async () => {
      let n = 0;
      for (const pc of window.__pcs ?? []) {
        const s = await pc.getStats();
        s.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video' && r.packetsReceived > 0) n++; });
      }
      return n;
    });
    if (receiving >= all) return receiving;
    if (Date.now() > deadline) return receiving;
    await sleep(250);
  }
}

// ---- statistics -------------------------------------------------------------------------------

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
}
const r1 = (v) => Math.round(v * 10) / 10;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-bench-video-'));
  const maxViewers = Math.max(...VIEWERS);
  let system;
  let browser;
  const wampClients = [];
  try {
    system = await startSystem(dir, maxViewers);
    log(`system at ${system.url}`);
    const janus = descendant(system.proc.pid, /\bjanus -F/);
    const camera = descendant(system.proc.pid, /ffmpeg .*rtp:\/\//);
    // The system's Node process is Janus's parent (the launcher may have re-run itself in a child).
    const node = procs().get(janus)?.ppid ?? system.proc.pid;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 60_000 });
    const viewer = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    await viewer.goto(system.url);
    await viewer.locator('.live[data-video="playing"]').waitFor({ timeout: 30_000 });
    await viewer.evaluate(COLLECT);
    const extraPage = await (await browser.newContext()).newPage();
    await extraPage.goto(system.url); // same origin: nothing of the page is used, only its RTCPeerConnection
    const signaller = await wamp(system.wsUrl);
    wampClients.push(signaller);

    const rows = [];
    let requested = 0;
    let receivers = 0;
    await sleep(5000); // warm up: the jitter buffer settles on the stream
    for (const total of VIEWERS) {
      if (total - 1 > requested) { receivers = await addReceivers(extraPage, signaller.session, total - 1 - requested, total - 1); requested = total - 1; }
      await sleep(2000); // settle
      await viewer.evaluate('window.__delays = []; window.__unread = 0');
      const before = { janus: cpuTicks(janus), camera: cpuTicks(camera), node: cpuTicks(node), at: Date.now() };
      await sleep(SECONDS * 1000);
      const after = { janus: cpuTicks(janus), camera: cpuTicks(camera), node: cpuTicks(node), at: Date.now() };
      const { delays, unread } = await viewer.evaluate('({ delays: window.__delays, unread: window.__unread })');
      const sorted = [...delays].sort((a, b) => a - b);
      const secs = (after.at - before.at) / 1000;
      const cpu = (k) => r1(((after[k] - before[k]) / TICK) / secs * 100);
      const row = {
        viewers: 1 + receivers, frames: delays.length, unreadable: unread, fps: r1(delays.length / secs),
        p50: r1(pct(sorted, 50)), p95: r1(pct(sorted, 95)), p99: r1(pct(sorted, 99)), max: r1(sorted.at(-1) ?? NaN),
        cpu: { janus: cpu('janus'), camera: cpu('camera'), system: cpu('node') },
      };
      rows.push(row);
      log(`${row.viewers} viewer(s): p50 ${row.p50} ms, p95 ${row.p95}, p99 ${row.p99}, max ${row.max} (${row.frames} frames, ${row.fps}/s, ${row.unreadable} unreadable); CPU % of a core: Janus ${row.cpu.janus}, camera ffmpeg ${row.cpu.camera}, system ${row.cpu.system}`);
    }

    const keypress = KEYPRESS_DOC;
    const one = rows[0];
    const result = {
      at: new Date().toISOString(), cpus: cpus().length, load: loadavg().map(r1), seconds: SECONDS, size: '640x480', fps: 30, codec: 'vp8',
      rows, keypress, pressToSee: { p50: r1(one.p50 + keypress.p50), p95: r1(one.p95 + keypress.p99) }, goal: { p95: 150, met: one.p95 <= 150 },
    };
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    appendFileSync(join(ROOT, 'bench', 'results', `video-${result.at.slice(0, 10)}.jsonl`), `${JSON.stringify(result)}\n`);
    if (JSON_ONLY) { console.log(JSON.stringify(result)); return; }
    console.log('\nglass-to-glass delay of the measured viewer (ms), CPU in % of one core');
    console.log('| viewers | p50 | p95 | p99 | max | frames/s | Janus CPU | camera ffmpeg CPU | system CPU |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.viewers} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} | ${r.fps} | ${r.cpu.janus} | ${r.cpu.camera} | ${r.cpu.system} |`);
    console.log(`\npress to see (keypress → GPIO p50/p99 ${keypress.p50}/${keypress.p99} ms from ${keypress.source}, plus the video delay with one viewer): p50 ${result.pressToSee.p50} ms, p95 ${result.pressToSee.p95} ms`);
    console.log(`goal p95 ≤ 150 ms with one viewer: ${result.goal.met ? 'met' : 'MISSED'} (${one.p95} ms)`);
  } finally {
    for (const c of wampClients) c.close();
    await browser?.close().catch(() => undefined);
    if (system) {
      try { process.kill(-system.proc.pid, 'SIGINT'); } catch { /* gone */ }
      await Promise.race([new Promise((r) => system.proc.once('exit', r)), sleep(15_000)]);
      try { process.kill(-system.proc.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
