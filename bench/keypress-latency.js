#!/usr/bin/env node
// Keypress → GPIO latency (issue 6): a key pressed in the player page in real
// headless Chromium, to the line changing at the claw node's simulated GPIO
// driver. Not a test: a measurement, printed and appended to
// bench/results/keypress-<date>.jsonl.
//
//   npm run bench:keypress [-- --presses 200 --json]
//
// The whole system runs in this process (startSystem: router, backend on a
// temp SQLite file, one simulated claw node, the web client) on a loopback
// port; the page runs in Chromium. Per press:
//   down:  ArrowRight/ArrowLeft key down → `rightOn`/`leftOn` published by the page
//          → router → claw node → SafeOutputs → SimulatedDriver.set(line, true)
//   up:    key up → `…Off` → … → the line released
// Two clocks, both reported:
//   "browser":  from the keydown event's own timestamp in the page
//               (performance.timeOrigin + event.timeStamp) to the driver's
//               change (performance.timeOrigin + now() here). Both are the same
//               system clock, read on one host; this is what a player feels
//               from the moment the browser sees the key.
//   "injected": from the moment this process asks Chromium (CDP) to press the
//               key to the driver's change, one monotonic clock; it adds the
//               DevTools input injection on top.
// Presses alternate right/left so the claw stays inside the box; each waits for
// the previous line change, with a short pause between presses.
import { mkdirSync, mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name, dflt) => { const i = args.indexOf(name); return i === -1 ? dflt : args[i + 1]; };
const PRESSES = Number(arg('--presses', 200));
const GAP_MS = Number(arg('--gap', 30));
const JSON_ONLY = args.includes('--json');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

if (!process.execArgv.some((a) => a.includes('@clawgate/source'))) {
  console.error('run through `npm run bench:keypress` (node --import tsx --conditions=@clawgate/source bench/keypress-latency.js)');
  process.exit(2);
}

const { startSystem } = await import('@clawgate/system');
const { chromium } = await import('playwright-core');

const log = (...m) => { if (!JSON_ONLY) console.log(...m); };
const dir = mkdtempSync(join(tmpdir(), 'clawgate-keypress-'));
const system = await startSystem({
  machines: 1, port: 0, host: '127.0.0.1', dataDir: join(dir, 'data'), logLevel: 'error',
  overrides: {
    backend: { defaults: { moveSeconds: 600, readyWindowSeconds: 60 } },
    claw: { timings: { maxMoveSeconds: 600 } },
  },
});
const node = system.nodes[0];
/** Line changes at the driver: name → [{asserted, at (epoch ms, sub-ms), mono}] waiters. */
let waiter;
node.driver.onOutput((name, asserted) => {
  const mono = performance.now();
  if (waiter && waiter.name === name && waiter.asserted === asserted) { const w = waiter; waiter = undefined; w.resolve({ at: performance.timeOrigin + mono, mono }); }
});
const lineChange = (name, asserted, timeoutMs = 5000) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => { waiter = undefined; reject(new Error(`no ${name}=${asserted} at the driver within ${timeoutMs} ms`)); }, timeoutMs);
  waiter = { name, asserted, resolve: (v) => { clearTimeout(timer); resolve(v); } };
});

const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
const stopAll = async () => { await browser.close().catch(() => {}); await system.stop(); rmSync(dir, { recursive: true, force: true }); };
try {
  const page = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage();
  await page.goto(system.url);
  await page.fill('#name', 'bench');
  await page.click('#name-submit');
  await page.waitForFunction(() => document.querySelector('#conn')?.classList.contains('ok') && !document.querySelector('#join')?.disabled);
  await page.click('#join');
  await page.waitForSelector('#phase-get_ready:not([hidden])');
  await page.click('#ready');
  await page.waitForSelector('#phase-playing:not([hidden])');
  // The coin pulse and the start of the turn are over before we measure.
  await page.waitForTimeout(500);
  await page.evaluate(() => {
    window.__keys = [];
    document.addEventListener('keydown', (e) => { if (!e.repeat) window.__keys.push(performance.timeOrigin + e.timeStamp); }, { capture: true });
    document.addEventListener('keyup', (e) => { window.__keys.push(performance.timeOrigin + e.timeStamp); }, { capture: true });
  });

  const samples = { downBrowser: [], downInjected: [], upBrowser: [], upInjected: [] };
  const warmup = 10;
  for (let i = 0; i < PRESSES + warmup; i++) {
    const [key, line] = i % 2 === 0 ? ['ArrowRight', 'right'] : ['ArrowLeft', 'left'];
    const on = lineChange(line, true);
    const t0 = performance.now();
    await page.keyboard.down(key);
    const onAt = await on;
    const off = lineChange(line, false);
    const t1 = performance.now();
    await page.keyboard.up(key);
    const offAt = await off;
    const [kd, ku] = await page.evaluate(() => window.__keys.splice(0));
    if (i >= warmup) {
      samples.downInjected.push(onAt.mono - t0);
      samples.upInjected.push(offAt.mono - t1);
      samples.downBrowser.push(onAt.at - kd);
      samples.upBrowser.push(offAt.at - ku);
    }
    await new Promise((r) => setTimeout(r, GAP_MS));
  }

  const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
  const summary = (xs) => ({ p50: +pct(xs, 50).toFixed(2), p90: +pct(xs, 90).toFixed(2), p99: +pct(xs, 99).toFixed(2), max: +Math.max(...xs).toFixed(2), n: xs.length });
  const result = {
    bench: 'keypress-to-gpio',
    at: new Date().toISOString(),
    presses: PRESSES,
    node: process.version,
    chromium: browser.version(),
    cpus: cpus().length,
    loadavg: loadavg().map((l) => +l.toFixed(2)),
    ms: {
      keydownToOn_browser: summary(samples.downBrowser),
      keydownToOn_injected: summary(samples.downInjected),
      keyupToOff_browser: summary(samples.upBrowser),
      keyupToOff_injected: summary(samples.upInjected),
    },
    stats: node.stats(),
  };
  delete result.stats.ignored;
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  appendFileSync(join(ROOT, 'bench', 'results', `keypress-${result.at.slice(0, 10)}.jsonl`), `${JSON.stringify(result)}\n`);
  if (JSON_ONLY) console.log(JSON.stringify(result));
  else {
    log(`keypress → GPIO line at the simulated driver, ${PRESSES} presses (after ${warmup} warm-up), loopback, load ${result.loadavg.join(' ')} on ${result.cpus} CPUs`);
    log('                         p50      p90      p99      max   (ms)');
    for (const [k, v] of Object.entries(result.ms)) log(`${k.padEnd(22)} ${String(v.p50).padStart(7)}  ${String(v.p90).padStart(7)}  ${String(v.p99).padStart(7)}  ${String(v.max).padStart(7)}`);
    const p99 = result.ms.keydownToOn_browser.p99;
    log(`target p99 < 15 ms (keydown in the browser → line asserted): ${p99 < 15 ? 'met' : 'NOT met'} (${p99} ms)`);
  }
} finally {
  await stopAll();
}
