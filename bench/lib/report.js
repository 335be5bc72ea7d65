// The summary table: medians over runs, per point and target, with ratios of
// our router vs the relay (the floor of what forwarding costs) and vs the
// best of the peer routers (wamp.rt, fox-wamp), and the issue-7 goals.
const TARGET_ORDER = ['relay', 'router', 'wamp.rt', 'fox-wamp'];
const PEERS = ['wamp.rt', 'fox-wamp'];

// metric: [field, label, higherIsBetter]
// cpu_us_per_op: target CPU time per delivery / call / session. Unlike
// throughput it hardly depends on how much CPU the machine gave the target,
// so it is the figure to compare on a busy machine.
function metricsFor(shape, mode) {
  if (shape === 'fanout' && mode === 'saturate') return [['deliveries_per_s', 'deliveries/s', true], ['cpu_us_per_op', 'CPU µs/delivery', false]];
  if (shape === 'fanout') return [['p50_us', 'p50 µs', false], ['p99_us', 'p99 µs', false]];
  if (shape === 'rpc') return [['calls_per_s', 'calls/s', true], ['cpu_us_per_op', 'CPU µs/call', false], ['p50_us', 'p50 µs', false], ['p99_us', 'p99 µs', false]];
  return [['sessions_per_s', 'sessions/s', true], ['cpu_us_per_op', 'CPU µs/session', false], ['rss_per_session_kib', 'KiB RSS/session', false]];
}

/** Older rows have no cpu_us_per_op: derive it (coarser) from target_cpu and the rate. */
function field(r, f) {
  if (f !== 'cpu_us_per_op' || r.cpu_us_per_op !== undefined) return r[f];
  const rate = r.deliveries_per_s ?? r.calls_per_s ?? r.sessions_per_s;
  return rate > 0 ? (r.target_cpu * 1e6) / rate : NaN;
}

/** The issue-7 targets, checked on our router's median. */
function goal(p, field, v) {
  const g = goalCheck(p, field, v);
  if (g === null) return null;
  return Number.isFinite(v.router) && (g.needsRelay !== true || Number.isFinite(v.relay)) ? g : { text: g.text, ok: undefined };
}

function goalCheck(p, field, v) {
  const { serializer: s, shape, mode, n } = p;
  if (s !== 'json') {
    if (shape === 'idle' && field === 'rss_per_session_kib') return { text: '≤ 12 KiB', ok: v.router <= 12 };
    return null;
  }
  if (shape === 'fanout' && mode === 'saturate' && n === 1000 && field === 'deliveries_per_s') return { needsRelay: true, text: '≥ 90% relay', ok: v.router / v.relay >= 0.9 };
  if (shape === 'rpc' && n === 16 && field === 'calls_per_s') return { needsRelay: true, text: '≥ 85% relay', ok: v.router / v.relay >= 0.85 };
  if (shape === 'idle' && field === 'rss_per_session_kib') return { text: '≤ 12 KiB', ok: v.router <= 12 };
  if (shape === 'fanout' && mode === 'light' && field === 'p50_us') return { needsRelay: true, text: '≤ relay+50µs', ok: v.router <= v.relay + 50 };
  return null;
}

const fmt = (x) => {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 100) return String(Math.round(x));
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
};
const pct = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '-');

function table(header, lines) {
  const w = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const row = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [row(header), w.map((n) => '-'.repeat(n)).join('  '), ...lines.map(row)].join('\n');
}

export function printTable(rows, median, out = (s) => process.stdout.write(s + '\n')) {
  const ok = rows.filter((r) => !r.error);
  const failed = rows.filter((r) => r.error);
  const targets = TARGET_ORDER.filter((t) => ok.some((r) => r.target === t));
  const points = new Map();
  for (const r of ok) {
    const k = `${r.serializer}|${r.shape}|${r.mode}|${r.n}`;
    if (!points.has(k)) points.set(k, { serializer: r.serializer, shape: r.shape, mode: r.mode, n: r.n, rows: [] });
    points.get(k).rows.push(r);
  }
  const order = (p) => [p.serializer === 'json' ? 0 : 1, ['fanout', 'rpc', 'idle'].indexOf(p.shape), p.mode === 'saturate' ? 0 : 1, p.n];
  const sorted = [...points.values()].sort((a, b) => {
    const x = order(a); const y = order(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
  });

  const lines = [];
  const cpuLines = [];
  for (const p of sorted) {
    const name = `${p.serializer} ${p.shape}${p.mode === '-' ? '' : ` ${p.mode}`} ${p.n}${p.shape === 'fanout' && p.mode === 'light' && p.n === 1 ? ' (claw path)' : ''}`;
    const runsOf = (t) => p.rows.filter((r) => r.target === t);
    for (const [f, label, higher] of metricsFor(p.shape, p.mode)) {
      const v = {};
      for (const t of targets) v[t] = median(runsOf(t).map((r) => field(r, f)));
      const peerVals = PEERS.map((t) => v[t]).filter(Number.isFinite);
      const bestPeer = peerVals.length === 0 ? NaN : higher ? Math.max(...peerVals) : Math.min(...peerVals);
      const g = goal(p, f, v);
      const runs = Math.max(...targets.map((t) => runsOf(t).length));
      lines.push([name, label, ...targets.map((t) => fmt(v[t])), pct(v.router / v.relay), pct(v.router / bestPeer), runs,
        g ? `${g.text} ${g.ok === undefined ? 'n/a' : g.ok ? 'PASS' : 'FAIL'}` : '']);
    }
    const cpu = targets.map((t) => {
      const rs = runsOf(t);
      if (rs.length === 0) return '-';
      const tc = median(rs.map((r) => r.target_cpu));
      const lc = median(rs.map((r) => r.loadgen_cpu));
      const b = tc >= 0.85 && lc >= 0.85 ? 'both' : tc >= 0.85 ? 'TARGET' : lc >= 0.85 ? 'loadgen' : '-';
      return `${fmt(tc)}/${fmt(lc)} ${b}`;
    });
    cpuLines.push([name, '', ...cpu]);
  }
  const busy = median(ok.map((r) => r.host_busy));
  const steal = median(ok.map((r) => r.host_steal));
  const ours = median(ok.map((r) => r.target_cpu + r.loadgen_cpu));
  out(`Machine during the windows (median): ${pct(busy)} of all CPUs busy, ${pct(steal)} stolen by the hypervisor; target+loadgen used ${fmt(ours)} cores.`);
  if (busy > 0.9 && ours < 1.2) out('WARNING: the machine was saturated by other work; throughput and tail latency below measure the machine, not the targets.');
  out('Medians over runs. Ratios: router/relay and router/best peer (for latency and KiB, lower is better, so < 100% is good).');
  out(table(['point', 'metric', ...targets, 'vs relay', 'vs best peer', 'runs', 'goal (issue 7)'], lines));
  out('');
  out('CPU during the window, in cores: target/loadgen, and who saturated (≥ 0.85 core).');
  out(table(['point', '', ...targets], cpuLines));
  if (failed.length > 0) {
    out('');
    out(`${failed.length} point(s) failed:`);
    for (const r of failed) out(`  ${r.target} ${r.serializer} ${r.shape} ${r.mode} ${r.n} run ${r.run}: ${r.error.split('\n')[0]}`);
  }
}
