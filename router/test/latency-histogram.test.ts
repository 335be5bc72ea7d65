// The call latency histogram's own counting (the /metrics output of it is in metrics.test.ts).
import t from 'tap';
import { Registry } from 'prom-client';
import { LatencyHistogram } from '../src/metrics/latency-histogram.js';

t.test('values land in the first bucket whose bound they do not exceed; buckets are cumulative when read', async (t) => {
  const h = new LatencyHistogram<'result' | 'error'>('x_seconds', 'help', 'outcome', [0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 1, 7]) h.observe('result', v);
  h.observe('error', 0.2);
  const { values } = h.get();
  const v = (metric: string, outcome: string, le?: string | number) =>
    values.find((s) => s.metricName === metric && s.labels.outcome === outcome && (le === undefined || s.labels.le === le))?.value;
  t.equal(v('x_seconds_bucket', 'result', 0.1), 2, '0.05 and 0.1 (a value on a bound is in that bucket: le)');
  t.equal(v('x_seconds_bucket', 'result', 1), 4);
  t.equal(v('x_seconds_bucket', 'result', '+Inf'), 5);
  t.equal(v('x_seconds_count', 'result'), 5);
  t.equal(v('x_seconds_sum', 'result'), 0.05 + 0.1 + 0.5 + 1 + 7);
  t.equal(v('x_seconds_bucket', 'error', 0.1), 0);
  t.equal(v('x_seconds_bucket', 'error', 1), 1);
});

t.test('prom-client formats it like its own histogram', async (t) => {
  const h = new LatencyHistogram<'result'>('x_seconds', 'Some help', 'outcome', [0.5]);
  h.observe('result', 0.25);
  const r = new Registry();
  r.registerMetric(h as never);
  t.equal(await r.metrics(), [
    '# HELP x_seconds Some help',
    '# TYPE x_seconds histogram',
    'x_seconds_bucket{le="0.5",outcome="result"} 1',
    'x_seconds_bucket{le="+Inf",outcome="result"} 1',
    'x_seconds_sum{outcome="result"} 0.25',
    'x_seconds_count{outcome="result"} 1',
    '',
  ].join('\n'));
});
