#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node bench/run.js --profile ...`, which
// runs our router under `node --cpu-prof`): self and total time per function,
// with positions in router/dist mapped back to router/src through the
// .js.map files tsc writes next to them.
//   node bench/profile.js bench/results/prof-*/CPU.*.cpuprofile [--top 30]
import { readFileSync, existsSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ROOT } from './lib/deps.js';

const args = process.argv.slice(2);
const ti = args.indexOf('--top');
const TOP = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 30;
if (args.length !== 1) { console.error('usage: node bench/profile.js FILE.cpuprofile [--top N]'); process.exit(2); }
const prof = JSON.parse(readFileSync(args[0], 'utf8'));

const maps = new Map();
function sourceMapFor(file) {
  if (!maps.has(file)) {
    let m = null;
    if (existsSync(file + '.map')) { try { m = new SourceMap(JSON.parse(readFileSync(file + '.map', 'utf8'))); } catch { m = null; } }
    maps.set(file, m);
  }
  return maps.get(file);
}

/** "router/src/broker/broker.ts:123 publish" style location of a call frame. */
function where(cf) {
  const name = cf.functionName || '(anonymous)';
  if (!cf.url) return `${name}`;
  let file = cf.url.startsWith('file://') ? fileURLToPath(cf.url) : cf.url;
  let line = cf.lineNumber + 1;
  const sm = file.endsWith('.js') ? sourceMapFor(file) : null;
  if (sm) {
    const e = sm.findEntry(cf.lineNumber, cf.columnNumber);
    if (e && e.originalSource) {
      const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : path.resolve(path.dirname(file), e.originalSource);
      file = src;
      line = e.originalLine + 1;
    }
  }
  const rel = file.startsWith(ROOT) ? path.relative(ROOT, file) : file.replace(/^.*node_modules\//, 'node_modules/');
  return `${rel}:${line} ${name}`;
}

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
// Samples, not timeDeltas: on a noisy (descheduled) machine one delta can
// span hundreds of ms and would be charged to whatever ran next. Counting
// samples charges each function for the time it was actually seen running.
const interval = (prof.endTime - prof.startTime) / Math.max(1, prof.samples.length);
const selfUs = new Map();
for (const id of prof.samples) selfUs.set(id, (selfUs.get(id) ?? 0) + interval);
const totalTime = [...selfUs.values()].reduce((a, b) => a + b, 0);
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const self = new Map();
const total = new Map();
for (const [id, us] of selfUs) {
  const key = where(byId.get(id).callFrame);
  self.set(key, (self.get(key) ?? 0) + us);
  // Inclusive: once per distinct function on the stack (recursion counted once).
  const seen = new Set();
  for (let n = id; n !== undefined; n = parent.get(n)) {
    const k = where(byId.get(n).callFrame);
    if (seen.has(k)) continue;
    seen.add(k);
    total.set(k, (total.get(k) ?? 0) + us);
  }
}

const pct = (us) => `${((us / totalTime) * 100).toFixed(1).padStart(5)}%`;
const idle = self.get('(idle)') ?? 0;
console.log(`profile: ${prof.samples.length} samples over ${((prof.endTime - prof.startTime) / 1e6).toFixed(2)} s, ${pct(totalTime - idle)} busy (not idle)`);
console.log(`\ntop ${TOP} by self time:`);
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(us)}  ${k}`);
console.log(`\ntop ${TOP} router/src functions by total (inclusive) time:`);
for (const [k, us] of [...total].filter(([k]) => k.startsWith('router/src')).sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(us)}  ${k}`);
const buckets = new Map();
for (const [k, us] of self) {
  const b = k.startsWith('router/src') ? 'router/src' : k.startsWith('node_modules/') ? k.split('/').slice(1, k.split('/')[1].startsWith('@') ? 3 : 2).join('/') : k.startsWith('node:') ? 'node internals' : k.startsWith('(') ? k.split(' ')[0] : 'other';
  buckets.set(b, (buckets.get(b) ?? 0) + us);
}
console.log('\nself time by component:');
for (const [k, us] of [...buckets].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(us)}  ${k}`);
