#!/usr/bin/env node
// Our router on two Node versions side by side, in one run (issue 21): Node
// 20 (the machine's) against Node 24 (.ci/node24.sh installs it), the same
// build of the router (router/dist: tsc output, identical for both; tsx
// would compile for each Node's own target).
//
// Two parts, both as pairs of fresh processes, one per Node, the order
// alternating from pair to pair (A B, B A, A B, ...), so that a noisy minute
// on this shared machine hits both Nodes, and the ratio of each pair is taken
// before any median:
//
// 1. the router's own path (router-path.js: CALL→INVOCATION→YIELD→RESULT and
//    PUBLISH→EVENT without sockets), µs of CPU per call and per delivery;
// 2. end to end (run.js --target-node): the router CLI on Node A or B, the
//    load generator always on the Node that runs this script, over loopback
//    WebSocket, JSON: fan-out 1 → 1000 saturated, RPC with 16 callers, the
//    claw control path at 200/s (warm), 5000 idle sessions.
//
//   npm run build -w router            # router/dist, once
//   node bench/node-compare.js [--nodes A,B] [--pairs 5] [--rounds 7] [--parts path,e2e] [--quick]
//
// Results: a table of medians, ranges and paired ratios on stdout; every run
// appended to bench/results/node-compare-<date>.jsonl.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BENCH } from './lib/deps.js';
import { median, round } from './lib/stats.js';

function parseArgs(argv) {
  const o = { nodes: [process.execPath, path.join(ROOT, '.ci/node24/bin/node')], pairs: 5, rounds: 7, parts: ['path', 'e2e'], quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a === '--nodes') o.nodes = val().split(',').map((p) => path.resolve(p));
    else if (a === '--pairs') o.pairs = Math.max(1, Number(val()));
    else if (a === '--rounds') o.rounds = Math.max(1, Number(val()));
    else if (a === '--parts') o.parts = val().split(',');
    else if (a === '--quick') o.quick = true;
    else if (a === '-h' || a === '--help') { console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 22).map((l) => l.replace(/^\/\/ ?/, '')).join('\n')); process.exit(0); }
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (o.nodes.length !== 2) throw new Error('--nodes takes two Node binaries, A,B');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const version = (bin) => {
  const r = spawnSync(bin, ['-p', 'process.version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} does not run (for Node 24: .ci/node24.sh)`);
  return r.stdout.trim();
};
const nodes = opts.nodes.map((bin) => ({ bin, version: version(bin) }));
if (!existsSync(path.join(ROOT, 'router/dist/index.js'))) throw new Error('router/dist is missing: npm run build -w router');

const resultsDir = path.join(BENCH, 'results');
mkdirSync(resultsDir, { recursive: true });
const outFile = path.join(resultsDir, `node-compare-${new Date().toISOString().slice(0, 10)}.jsonl`);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'clawgate-node-compare-'));
const record = (row) => appendFileSync(outFile, JSON.stringify({ ts: new Date().toISOString(), ...row }) + '\n');
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const log = (s) => process.stderr.write(s + '\n');

/** Runs `bin args`, returns the JSON objects it printed one per line. */
function jsonLines(bin, args) {
  const r = spawnSync(bin, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

// metric → [label, higher is better]; one list per part.
const PATH_METRICS = { rpc: ['router path: RPC, µs/call', false], 'fanout 1': ['router path: fan-out 1, µs/delivery', false], 'fanout 1000': ['router path: fan-out 1000, µs/delivery', false] };
const E2E_POINTS = {
  'fanout/saturate/1000': [['deliveries_per_s', 'fan-out 1 → 1000: deliveries/s', true], ['cpu_us_per_op', 'fan-out 1 → 1000: router CPU µs/delivery', false]],
  'rpc/-/16': [['calls_per_s', 'RPC, 16 callers: calls/s', true], ['cpu_us_per_op', 'RPC, 16 callers: router CPU µs/call', false], ['p50_us', 'RPC, 16 callers: p50 µs', false], ['p99_us', 'RPC, 16 callers: p99 µs', false]],
  'fanout/light/1': [['p50_us', 'claw path 1 → 1 at 200/s (warm): p50 µs', false], ['p99_us', 'claw path 1 → 1 at 200/s (warm): p99 µs', false]],
  'idle/-/5000': [['rss_per_session_kib', '5000 idle sessions: KiB RSS/session', false], ['cpu_us_per_op', '5000 idle sessions: router CPU µs/session to connect', false]],
};
const E2E_ONLY = Object.keys(E2E_POINTS).map((p) => p.replace(/\//g, '\\/') + '$').join('|');

/** samples[label] = { better: bool, runs: [[a, b] per pair] } */
const samples = new Map();
function sample(label, higherIsBetter, pair, which, value) {
  if (!samples.has(label)) samples.set(label, { higherIsBetter, runs: [] });
  const s = samples.get(label);
  (s.runs[pair] ??= [NaN, NaN])[which] = value;
}

log(`node-compare: A = Node ${nodes[0].version} (${nodes[0].bin}), B = Node ${nodes[1].version} (${nodes[1].bin}); ${opts.pairs} pairs, parts ${opts.parts.join(', ')}; ${os.cpus().length} CPUs, load ${load()}`);
const started = Date.now();
for (let pair = 0; pair < opts.pairs; pair++) {
  const order = pair % 2 === 0 ? [0, 1] : [1, 0];
  for (const which of order) {
    const node = nodes[which];
    if (opts.parts.includes('path')) {
      const rows = jsonLines(node.bin, [path.join(BENCH, 'router-path.js'), '--json', '--rounds', String(opts.rounds), ...(opts.quick ? ['--calls', '30000', '--deliveries', '300000'] : [])]);
      for (const r of rows) {
        const [label, higher] = PATH_METRICS[r.point];
        sample(label, higher, pair, which, r.median);
        record({ part: 'path', pair, node: node.version, load: load(), ...r });
      }
      log(`pair ${pair + 1}/${opts.pairs}, Node ${node.version}, router path: ${rows.map((r) => `${r.point} ${r.median}`).join(', ')}`);
    }
    if (opts.parts.includes('e2e')) {
      const rows = jsonLines(process.execPath, [path.join(BENCH, 'run.js'), '--targets', 'router', '--serializers', 'json', '--router', 'dist', '--runs', '1',
        '--only', E2E_ONLY, '--target-node', node.bin, '--out', path.join(tmp, 'e2e.jsonl'), ...(opts.quick ? ['--quick'] : [])]);
      for (const r of rows) {
        const id = `${r.shape}/${r.mode ?? '-'}/${r.n}`;
        if (r.error) { log(`pair ${pair + 1}, Node ${node.version}, ${id}: ${r.error}`); continue; }
        if (r.target_node !== node.version) throw new Error(`run.js ran the router on ${r.target_node}, not ${node.version}`);
        for (const [field, label, higher] of E2E_POINTS[id] ?? []) sample(label, higher, pair, which, r[field]);
        record({ part: 'e2e', pair, node: node.version, ...r });
      }
      log(`pair ${pair + 1}/${opts.pairs}, Node ${node.version}, end to end: ${rows.map((r) => `${r.shape}/${r.mode ?? '-'}/${r.n} ${round(r.deliveries_per_s ?? r.calls_per_s ?? r.p50_us ?? r.rss_per_session_kib, 1)}${r.host_busy !== undefined ? ` (host busy ${Math.round(r.host_busy * 100)}%)` : ''}`).join(', ')}`);
    }
  }
}
rmSync(tmp, { recursive: true, force: true });

const fmt = (x) => (!Number.isFinite(x) ? '-' : Math.abs(x) >= 100 ? String(Math.round(x)) : Math.abs(x) >= 10 ? x.toFixed(1) : Math.abs(x) >= 0.1 ? x.toFixed(2) : x.toFixed(3));
const range = (xs) => { const a = xs.filter(Number.isFinite); return a.length ? `${fmt(Math.min(...a))}–${fmt(Math.max(...a))}` : '-'; };
const lines = [];
for (const [label, { higherIsBetter, runs }] of samples) {
  const a = runs.map((r) => r[0]);
  const b = runs.map((r) => r[1]);
  const ratios = runs.map(([x, y]) => y / x).filter(Number.isFinite);
  const m = median(ratios);
  // How much better B is: for "higher is better" the ratio itself, else its inverse.
  const gain = higherIsBetter ? m : 1 / m;
  const verdict = !Number.isFinite(gain) ? '-' : `${nodes[1].version.split('.')[0]} ${gain >= 1 ? 'better' : 'worse'} by ${Math.abs(Math.round((gain - 1) * 100))}%`;
  const wins = ratios.filter((r) => (higherIsBetter ? r > 1 : r < 1)).length;
  lines.push([label, `${fmt(median(a))} [${range(a)}]`, `${fmt(median(b))} [${range(b)}]`, `${fmt(m)} [${range(ratios)}]`, `${wins}/${ratios.length}`, verdict]);
  record({ summary: label, a: nodes[0].version, b: nodes[1].version, median_a: median(a), median_b: median(b), ratio_median: m, ratios, higher_is_better: higherIsBetter });
}
const header = ['point', `Node ${nodes[0].version}: median [range]`, `Node ${nodes[1].version}: median [range]`, 'B ÷ A per pair: median [range]', 'pairs B better', 'verdict'];
const w = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
const row = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
console.log(`\nNode ${nodes[0].version} (A) against ${nodes[1].version} (B): ${opts.pairs} pairs, order alternating; ${round((Date.now() - started) / 60000, 1)} min; load at the end ${load()}`);
console.log([row(header), w.map((n) => '-'.repeat(n)).join('  '), ...lines.map(row)].join('\n'));
console.log(`\nevery run: ${path.relative(process.cwd(), outFile)}`);
