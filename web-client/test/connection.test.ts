// Reconnect backoff and the words the connection badge uses.
import t from 'tap';
import { DEFAULT_BACKOFF, closeReason, describeConnection, retryDelay } from '../src/logic/connection.js';

t.test('backoff grows by the factor up to the cap, with bounded jitter', async (t) => {
  const b = { initialMs: 500, maxMs: 10_000, factor: 2, jitter: 0 };
  t.same([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelay(n, b)), [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  t.equal(retryDelay(0, b), 500, 'attempt 0 is treated as the first');
  const j = { ...b, jitter: 0.2 };
  t.equal(retryDelay(3, j, 0), 1600, 'lowest: -20 %');
  t.equal(retryDelay(3, j, 0.999999), 2400, 'highest: +20 %');
  for (let i = 1; i < 40; i++) {
    const d = retryDelay(i, DEFAULT_BACKOFF, Math.random());
    t.ok(d > 0 && d <= DEFAULT_BACKOFF.maxMs * (1 + DEFAULT_BACKOFF.jitter), `attempt ${i}: ${d} ms in range`);
  }
});

t.test('the badge never claims a connection it does not have', async (t) => {
  t.same(describeConnection({ kind: 'online', since: 0 }, 0), { label: 'Connected', tone: 'ok' });
  t.equal(describeConnection({ kind: 'connecting', attempt: 1 }, 0).label, 'Connecting…');
  t.match(describeConnection({ kind: 'connecting', attempt: 3 }, 0).label, /Reconnecting \(attempt 3\)/);
  const w = describeConnection({ kind: 'waiting', attempt: 2, retryAt: 10_400, reason: 'server restarting' }, 8_000);
  t.equal(w.tone, 'bad');
  t.equal(w.label, 'Connection lost (server restarting). Retrying in 3 s');
  t.match(describeConnection({ kind: 'waiting', attempt: 2, retryAt: 1000, reason: 'x' }, 5000).label, /Retrying in 0 s/);
  t.equal(describeConnection({ kind: 'offline', reason: 'login refused' }, 0).tone, 'bad');
});

t.test('close reasons in plain words', async (t) => {
  t.equal(closeReason('closed', { reason: 'wamp.close.system_shutdown' }), 'server restarting');
  t.equal(closeReason('closed', { reason: 'wamp.error.authentication_failed' }), 'login refused');
  t.equal(closeReason('unreachable'), 'server unreachable');
  t.equal(closeReason('lost', {}), 'connection dropped');
  t.equal(closeReason('closed', { reason: 'wamp.close.killed' }), 'wamp.close.killed');
});
