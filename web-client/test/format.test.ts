// Countdowns, waits and result texts.
import t from 'tap';
import { clock, eta, positionText, removedText, resultText, secondsLeft, skewFromDateHeader, stateLabel, untilText, waitText } from '../src/logic/format.js';

t.test('secondsLeft rounds up, never negative, and corrects clock skew', async (t) => {
  t.equal(secondsLeft(10_000, 0), 10);
  t.equal(secondsLeft(10_000, 9_001), 1, 'a partial second still shows 1');
  t.equal(secondsLeft(10_000, 10_000), 0);
  t.equal(secondsLeft(10_000, 20_000), 0);
  t.equal(secondsLeft(10_000, 0, 5_000), 5, 'server 5 s ahead: 5 s left, not 10');
});

t.test('clock and eta', async (t) => {
  t.equal(clock(0), '0:00');
  t.equal(clock(9), '0:09');
  t.equal(clock(75), '1:15');
  t.equal(clock(-3), '0:00');
  t.equal(eta(0), 'less than a minute');
  t.equal(eta(59), 'less than a minute');
  t.equal(eta(89), 'about 1 min');
  t.equal(eta(150), 'about 3 min');
  t.equal(eta(Number.NaN), 'unknown');
});

t.test('positions are 0-based on the wire, words for people', async (t) => {
  t.equal(positionText(0), "You're next");
  t.equal(positionText(1), '1 player ahead of you');
  t.equal(positionText(4), '4 players ahead of you');
});

t.test('every state, result and removal reason has words', async (t) => {
  for (const s of ['ready', 'controlled', 'offline', 'maintenance', 'paused'] as const) t.ok(stateLabel(s).length > 0, s);
  for (const r of ['win', 'lose', 'timeout', 'abandoned', 'skipped'] as const) t.ok(resultText(r).title.length > 0, r);
  t.equal(resultText('win').title, 'You won!');
  for (const r of ['left', 'kicked', 'timeout', 'grace_expired', 'turn_over']) t.notMatch(removedText(r), /no longer in the queue \(/, r);
  t.match(removedText('gone'), /changed while you were away/);
  t.match(removedText('something_new'), /something_new/);
});

t.test('clock skew from the Date header: only when larger than its 1 s resolution', async (t) => {
  const sent = Date.parse('2030-01-01T00:00:00Z');
  t.equal(skewFromDateHeader(new Date(sent).toUTCString(), sent, sent + 20), 0, 'in sync');
  t.equal(skewFromDateHeader(null, 0, 0), 0);
  t.equal(skewFromDateHeader('garbage', 0, 0), 0);
  const skew = skewFromDateHeader(new Date(sent + 60_000).toUTCString(), sent, sent);
  t.ok(Math.abs(skew - 60_500) < 1, `a minute ahead: ${skew}`);
});

t.test('no estimate on a paused machine', async (t) => {
  t.equal(waitText(30, false), 'less than a minute');
  t.equal(waitText(30, true), 'unknown: the machine is paused by staff (your place is kept)');
});

t.test('waits: the backend\'s etaAt counted from now; unknown while paused or the machine is away', async (t) => {
  const now = 1_000_000;
  t.equal(waitText(30, false, { etaAt: now + 200_000, now }), 'about 3 min', 'etaAt wins over the older etaSeconds');
  t.equal(waitText(30, false, { etaAt: now + 200_000, now, skewMs: 120_000 }), 'about 1 min', 'server clock ahead');
  t.equal(waitText(300, false, { etaAt: now - 5_000, now }), 'less than a minute', 'overdue: soon');
  t.equal(waitText(300, false, { now }), 'about 5 min', 'no etaAt (older backend): etaSeconds');
  t.equal(waitText(30, false, { state: 'offline', etaAt: now, now }), 'unknown: the machine is offline (your place is kept)');
  t.equal(waitText(30, false, { state: 'maintenance' }), 'unknown: the machine is in maintenance (your place is kept)');
  t.equal(waitText(30, true, { etaAt: now, now }), 'unknown: the machine is paused by staff (your place is kept)');
});

t.test('a kick with a block says when the player may come back', async (t) => {
  const now = 5_000_000;
  t.equal(removedText('kicked', now + 10 * 60_000, now), 'An operator removed you from the queue. You can join this machine again in about 10 min.');
  t.equal(removedText('kicked', now + 20_000, now), 'An operator removed you from the queue. You can join this machine again in less than a minute.');
  t.equal(removedText('kicked', now - 1, now), 'An operator removed you from the queue.', 'a block that is over is not mentioned');
  t.equal(untilText(now + 61_000, now), 'in about 2 min');
});
