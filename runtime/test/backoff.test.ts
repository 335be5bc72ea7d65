// The one reconnect backoff: the claw node's numbers (0.5 s × 2ⁿ up to 15 s,
// ±20 %), the backend's (seconds, growth 1.5, ±10 %) and the property every
// client relies on: never above the cap, never negative. The pages' own
// numbers are checked in web-client/test/connection.test.ts.
import t from 'tap';
import { backoffDelay } from '../src/backoff.js';

t.test('grows by the factor up to its cap, with jitter (the claw node\'s numbers)', async (t) => {
  const o = { initialMs: 500, maxMs: 15_000, factor: 2, jitter: 0.2 };
  const mid = 0.5; // no jitter
  t.same([0, 1, 2, 3, 10].map((a) => backoffDelay(a, o, mid)), [500, 1000, 2000, 4000, 15_000]);
  t.equal(backoffDelay(0, o, 0), 400, '-20 %');
  t.equal(backoffDelay(0, o, 0.999999), 600, '+20 %');
  t.equal(backoffDelay(20, o, 0.999999), 15_000, 'never above the cap');
  t.equal(backoffDelay(-3, o, mid), 500, 'a negative retry counts as the first');
});

t.test('the backend\'s numbers: growth 1.5, ±10 %', async (t) => {
  const o = { initialMs: 500, maxMs: 10_000, factor: 1.5, jitter: 0.1 };
  t.same([0, 1, 2, 3].map((a) => backoffDelay(a, o, 0.5)), [500, 750, 1125, 1688]);
  t.equal(backoffDelay(1, o, 0), 675, '-10 %');
  t.equal(backoffDelay(1, o, 0.999999), 825, '+10 %');
  t.equal(backoffDelay(50, o, 0.999999), 10_000, 'the cap holds with jitter');
  t.equal(backoffDelay(50, o, 0), 9000, 'and the jitter still spreads at the cap');
});

t.test('any retry and any random draw: within [0, maxMs] and within the jitter of the exponential', async (t) => {
  const o = { initialMs: 200, maxMs: 7000, factor: 3, jitter: 0.25 };
  for (let retry = 0; retry < 60; retry++) {
    const r = Math.random();
    const d = backoffDelay(retry, o, r);
    const base = Math.min(o.maxMs, o.initialMs * o.factor ** retry);
    t.ok(d >= 0 && d <= o.maxMs, `retry ${retry}: ${d} ms within [0, ${o.maxMs}]`);
    t.ok(d >= Math.floor(base * (1 - o.jitter)) && d <= Math.ceil(base * (1 + o.jitter)), `retry ${retry}: ${d} ms within ±25 % of ${base}`);
  }
  const free = backoffDelay(2, o);
  t.ok(free >= 1350 && free <= 2250, 'without a draw it draws its own');
  t.equal(backoffDelay(3, { ...o, jitter: 0 }, 0.99), 5400, 'jitter 0: exactly the exponential');
});
