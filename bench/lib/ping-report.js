// run.js --auto-ping: our router's idle sessions with auto_ping off and on,
// side by side (issue 20 item 2: pings must cost nothing measurable at
// idle). Medians, every run (the spread), and on/off.
import { round } from './stats.js';

const METRICS = [
  ['rss_per_session_kib', 'KiB RSS/session'],
  ['idle_cpu_ms_per_s', 'idle CPU, ms per s'],
  ['idle_pings_per_s', 'pings/s (answered)'],
  ['cpu_us_per_op', 'CPU µs/session (connect)'],
  ['sessions_per_s', 'sessions/s (connect)'],
];

const fmt = (x) => (Number.isFinite(x) ? String(round(x, Math.abs(x) >= 100 ? 0 : 2)) : '-');

export function printPingComparison(rows, median, autoPing, out = (s) => process.stdout.write(s + '\n')) {
  const ok = rows.filter((r) => !r.error && r.target === 'router' && r.shape === 'idle');
  for (const ser of [...new Set(ok.map((r) => r.serializer))]) {
    const off = ok.filter((r) => r.serializer === ser && r.mode === '-');
    const on = ok.filter((r) => r.serializer === ser && r.mode === 'ping');
    if (off.length === 0 || on.length === 0) continue;
    out('');
    out(`Router, ${off[0].n} idle sessions (${ser}): auto_ping off vs on (interval ${autoPing.intervalMs} ms, timeout ${autoPing.timeoutMs} ms); ${off.length} + ${on.length} runs, interleaved.`);
    const lines = METRICS.map(([f, label]) => {
      const a = off.map((r) => r[f]);
      const b = on.map((r) => r[f]);
      const ma = median(a);
      const mb = median(b);
      return [label, fmt(ma), fmt(mb), ma > 0 ? `${Math.round((mb / ma) * 100)}%` : '-', fmt(mb - ma), a.map(fmt).join(' · '), b.map(fmt).join(' · ')];
    });
    const header = ['metric', 'off', 'on', 'on/off', 'on − off', 'runs off', 'runs on'];
    const w = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const row = (cells) => cells.map((c, i) => (i === 0 || i >= 5 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
    out([row(header), w.map((n) => '-'.repeat(n)).join('  '), ...lines.map(row)].join('\n'));
  }
}
