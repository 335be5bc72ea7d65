// Reconnect backoff and the words the connection badge uses.
import t from 'tap';
import { DEFAULT_BACKOFF, RESTART_WINDOW_MS, carryReason, closeReason, describeConnection, retryDelay } from '../src/logic/connection.js';

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

t.test('after a shutdown GOODBYE the failed attempts are the restart, not "server unreachable" (for a bounded time)', async (t) => {
  const goodbye = carryReason(undefined, closeReason('closed', { reason: 'wamp.close.system_shutdown' }), 1000);
  t.same(goodbye, { reason: 'server restarting', since: 1000 });
  const refused = carryReason(goodbye, closeReason('unreachable'), 3000);
  t.equal(refused, goodbye, 'nobody listening while it restarts: still restarting');
  t.equal(carryReason(refused, closeReason('lost', {}), 5000), goodbye, 'a dropped attempt too');
  t.same(carryReason(goodbye, 'server unreachable', 1000 + RESTART_WINDOW_MS), { reason: 'server unreachable', since: 1000 + RESTART_WINDOW_MS },
    'after the window: plainly unreachable');
  t.same(carryReason(goodbye, 'login refused', 2000), { reason: 'login refused', since: 2000 }, 'another reason stands');
  t.same(carryReason(undefined, 'server unreachable', 7), { reason: 'server unreachable', since: 7 }, 'unreachable without a GOODBYE is unreachable');
  const u = carryReason(undefined, 'server unreachable', 7);
  t.equal(carryReason(u, 'server unreachable', 9), u, 'the same reason keeps its start');

  t.equal(describeConnection({ kind: 'waiting', attempt: 3, retryAt: 2000, reason: 'server restarting' }, 0).label, 'Connection lost (server restarting). Retrying in 2 s');
  t.same(describeConnection({ kind: 'connecting', attempt: 3, reason: 'server restarting' }, 0), { label: 'Server restarting: reconnecting (attempt 3)…', tone: 'warn' });
  t.equal(describeConnection({ kind: 'connecting', attempt: 3, reason: 'server unreachable' }, 0).label, 'Reconnecting (attempt 3)…');
});
