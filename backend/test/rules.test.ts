// The queue's pure decisions, without I/O.
import t from 'tap';
import { ClawErrors } from '@clawgate/protocol';
import {
  RateLimiter, currentOf, displayState, effectiveSettings, etaSeconds, extendedDeadline, graceExpiry, joinDecision, matchTurnEnd, nextAverage, nextStep,
  plannedTurnMs, positionDue, readyDuringTurn, readyTimeoutAt, turnGraceExpiry, waitTimes, waitingOf, TURN_OVERHEAD_SECONDS,
} from '../src/queue/rules.js';
import { Presence } from '../src/presence/presence.js';

const defaults = { moveSeconds: 30, readyWindowSeconds: 15, graceSeconds: 120, maxQueue: 50 };

t.test('positions: the playing entry is current, the rest wait in order', async (t) => {
  const entries = [{ id: 1, state: 'playing' as const }, { id: 2, state: 'ready_check' as const }, { id: 3, state: 'waiting' as const }];
  t.equal(currentOf(entries)?.id, 1);
  t.same(waitingOf(entries).map((e) => e.id), [2, 3], 'position = index; the one asked to get ready is position 0');
  t.equal(currentOf([{ id: 9, state: 'starting' as const }])?.id, 9, 'starting counts as current');
  t.equal(currentOf([{ id: 9, state: 'waiting' as const }]), undefined);
});

t.test('ETA from the running average', async (t) => {
  t.equal(plannedTurnMs(null, 30), (30 + TURN_OVERHEAD_SECONDS) * 1000, 'before any turn: moveSeconds plus overhead');
  t.equal(plannedTurnMs(12_000, 30), 12_000);
  t.equal(etaSeconds(0, 40_000, undefined), 0, 'front with nobody playing: now');
  t.equal(etaSeconds(2, 40_000, undefined), 80);
  t.equal(etaSeconds(0, 40_000, 10_000), 30, 'rest of the current turn');
  t.equal(etaSeconds(1, 40_000, 50_000), 40, 'an overrunning turn counts as ending now');
  t.equal(nextAverage(null, 0, 20_000), 20_000, 'first turn replaces the guess');
  t.equal(nextAverage(20_000, 1, 30_000), 22_000, 'then an exponential moving average');
});

t.test('join decisions', async (t) => {
  const v = { online: true, alreadyQueued: false, queueLength: 0, maxQueue: 2 };
  t.equal(joinDecision(v), 'join');
  t.equal(joinDecision({ ...v, alreadyQueued: true, online: false, queueLength: 5 }), 'existing', 'idempotent, even when full or offline');
  t.equal(joinDecision({ ...v, online: false }), ClawErrors.machineOffline);
  t.equal(joinDecision({ ...v, queueLength: 2 }), ClawErrors.queueFull);
  t.equal(joinDecision({ ...v, queueLength: 1 }), 'join', 'the last place');
  const q = { ...v, maxQueue: 50, queueLength: 10 };
  t.equal(joinDecision({ ...q, addressPlaces: 1, placesPerAddress: 2 }), 'join', 'under the per-address quota');
  t.equal(joinDecision({ ...q, addressPlaces: 2, placesPerAddress: 2 }), ClawErrors.quotaExceeded, 'the quota is reached');
  t.equal(joinDecision({ ...q, addressPlaces: 9, placesPerAddress: 0 }), 'join', '0: no quota');
  t.equal(joinDecision({ ...q, alreadyQueued: true, addressPlaces: 9, placesPerAddress: 2 }), 'existing', 'a queued player keeps their place');
  t.equal(joinDecision({ ...q, queueLength: 50, addressPlaces: 9, placesPerAddress: 2 }), ClawErrors.queueFull, 'a full queue says so first');
});

t.test('turn_ended matching: by turn id and authid, never by name', async (t) => {
  const current = { turnId: 7, authid: 'pann' };
  t.equal(matchTurnEnd({ turn: 7, authid: 'pann', player: 'Ann' }, current), 'this_turn');
  t.equal(matchTurnEnd({ turn: 7, player: 'whatever' }, current), 'this_turn', 'the turn id is enough');
  t.equal(matchTurnEnd({ turn: 6, authid: 'pann', player: 'Ann' }, current), 'other_turn', 'an older turn of the same player');
  t.equal(matchTurnEnd({ turn: 7, authid: 'pben', player: 'Ann' }, current), 'other_turn', 'the turn id with someone else\'s authid');
  t.equal(matchTurnEnd({ turn: 7, authid: 'pann', player: 'Ann' }, undefined), 'other_turn', 'no turn in progress');
  t.equal(matchTurnEnd({ authid: 'pann', player: 'Renamed' }, current), 'this_turn', 'no turn id: by authid');
  t.equal(matchTurnEnd({ authid: 'pben', player: 'Ann' }, current), 'other_turn', 'no turn id, another authid: the name does not count');
  t.equal(matchTurnEnd({ player: 'pann' }, current), 'this_turn', 'an old node given no name names the player by authid');
  t.equal(matchTurnEnd({ player: 'Ann' }, current), 'unattributed', 'an old node\'s display name: unattributed, never matched');
});

t.test('ready during a turn: the node\'s last unattributed result, else timeout on the same node session, else abandoned', async (t) => {
  t.equal(readyDuringTurn({ unattributed: 'win', sameNodeSession: true }), 'win');
  t.equal(readyDuringTurn({ unattributed: 'lose', sameNodeSession: false }), 'lose');
  t.equal(readyDuringTurn({ unattributed: undefined, sameNodeSession: true }), 'timeout', 'the same node ended it silently: no compensation');
  t.equal(readyDuringTurn({ unattributed: undefined, sameNodeSession: false }), 'abandoned', 'a new node session lost it');
});

t.test('next step: a ready check only when the node is ready, unpaused and nobody is in a turn or asked', async (t) => {
  const base = { online: true, nodeReady: true, paused: false, holdUntilReady: false, entries: [{ id: 4, state: 'waiting' as const }, { id: 5, state: 'waiting' as const }] };
  t.same(nextStep(base), { kind: 'ready_check', entryId: 4 });
  t.same(nextStep({ ...base, paused: true }), { kind: 'idle' });
  t.same(nextStep({ ...base, nodeReady: false }), { kind: 'idle' });
  t.same(nextStep({ ...base, online: false }), { kind: 'idle' });
  t.same(nextStep({ ...base, holdUntilReady: true }), { kind: 'idle' }, 'after a failed start_turn: wait for a fresh ready');
  t.same(nextStep({ ...base, entries: [{ id: 4, state: 'ready_check' }, { id: 5, state: 'waiting' }] }), { kind: 'idle' }, 'one ready check at a time');
  t.same(nextStep({ ...base, entries: [{ id: 3, state: 'playing' }, { id: 4, state: 'waiting' }] }), { kind: 'idle' });
  t.same(nextStep({ ...base, entries: [] }), { kind: 'idle' });
});

t.test('settings, display state, positions due, grace', async (t) => {
  t.same(effectiveSettings(undefined, undefined, defaults), defaults);
  t.same(effectiveSettings({ moveSeconds: null, readyWindowSeconds: 5, graceSeconds: null, maxQueue: null }, { moveSeconds: 20, readyWindowSeconds: 9 }, defaults),
    { ...defaults, moveSeconds: 20, readyWindowSeconds: 5 }, 'operator over config over defaults');
  t.equal(displayState(false, 'ready', false), 'offline');
  t.equal(displayState(true, undefined, false), 'offline');
  t.equal(displayState(true, 'ready', true), 'paused');
  t.equal(displayState(true, 'controlled', true), 'controlled', 'a turn in progress shows as such even when paused');
  t.ok(positionDue(undefined, 3));
  t.notOk(positionDue(3, 3), 'no repeat of an unchanged position');
  t.ok(positionDue(3, 2));
  t.equal(graceExpiry(1000, 2), 3000);
});

t.test('rate limiter: a token bucket per key', async (t) => {
  const l = new RateLimiter(3, 3);
  t.same([l.take('a', 0), l.take('a', 0), l.take('a', 0), l.take('a', 0)], [true, true, true, false]);
  t.ok(l.take('b', 0), 'per key');
  t.notOk(l.take('a', 500));
  t.ok(l.take('a', 1000), 'one token back per second');
  t.notOk(l.take('a', 1000));
});

t.test('join decisions: a blocked player, and resume (never joins)', async (t) => {
  const v = { online: true, alreadyQueued: false, queueLength: 0, maxQueue: 2 };
  t.equal(joinDecision({ ...v, blocked: true }), ClawErrors.blocked);
  t.equal(joinDecision({ ...v, blocked: true, online: false }), ClawErrors.blocked, 'blocked is said first (the honest reason)');
  t.equal(joinDecision({ ...v, resumeOnly: true }), ClawErrors.notInQueue, 'resume without a place: not in queue, nothing joined');
  t.equal(joinDecision({ ...v, resumeOnly: true, alreadyQueued: true }), 'existing', 'resume with a place: the place');
});

t.test('wait estimates: unknown while halted; the turn left, then per player ahead their confirm time and a turn, or their ready window when away', async (t) => {
  const base = { now: 100_000, halted: false, turnMs: 40_000, readyMs: 5_000, dropMs: 8_000, readyWindowMs: 15_000, current: undefined, waiting: [] };
  const here = { present: true, readyDeadline: null };
  t.same(waitTimes({ ...base, halted: true, waiting: [here, here] }), [undefined, undefined], 'paused or offline: unknown');
  t.same(waitTimes({ ...base, waiting: [here, here, here] }), [0, 45_000, 90_000], 'nobody playing: confirm + turn per player ahead');
  t.same(waitTimes({ ...base, waiting: [here, { present: false, readyDeadline: null }, here] }), [0, 45_000, 60_000], 'a player away costs their ready window');
  const playing = { startedAt: 90_000, endsAt: 130_000 };
  t.same(waitTimes({ ...base, current: playing, waiting: [here] }), [30_000], 'the average turn minus what has passed');
  t.same(waitTimes({ ...base, turnMs: 60_000, current: playing, waiting: [here] }), [38_000], 'but never past endsAt plus a drop cycle');
  t.same(waitTimes({ ...base, current: { startedAt: 10_000, endsAt: null }, waiting: [here] }), [0], 'an overrunning turn: ending now');
  const asked = { present: true, readyDeadline: 110_000, askedAt: 97_000 };
  t.same(waitTimes({ ...base, waiting: [asked, here] }), [0, 42_000], 'the one asked: an average confirm after being asked');
  t.same(waitTimes({ ...base, now: 200_000, waiting: [{ ...asked, readyDeadline: 205_000, askedAt: 150_000 }, here] }), [0, 40_000], 'overdue: now');
  t.same(waitTimes({ ...base, waiting: [{ present: false, readyDeadline: 104_000 }, here] }), [0, 4_000], 'asked and away: what is left of the window');
});

t.test('the recovery window: an absent player\'s ready check waits, a returning one gets a fresh window once; the turn grace', async (t) => {
  const w = { attachedAt: 1_000, recoveryWindowMs: 60_000 };
  t.equal(readyTimeoutAt({ ...w, deadline: 10_000, awaited: false }), 10_000, 'seen since the attach (present, or gone again): the deadline');
  t.equal(readyTimeoutAt({ ...w, deadline: 10_000, awaited: true }), 61_000, 'not back since the attach: not before the window\'s end');
  t.equal(readyTimeoutAt({ ...w, deadline: 90_000, awaited: true }), 90_000, 'a later deadline stays');
  t.equal(readyTimeoutAt({ ...w, recoveryWindowMs: 0, deadline: 10_000, awaited: true }), 10_000, 'window 0: off');
  const back = { ...w, readyWindowMs: 15_000, extended: false };
  t.equal(extendedDeadline({ ...back, now: 20_000, deadline: 12_000 }), 35_000, 'passed: now + the window');
  t.equal(extendedDeadline({ ...back, now: 20_000, deadline: 30_000 }), 35_000, 'less than a window left: a whole window');
  t.equal(extendedDeadline({ ...back, now: 20_000, deadline: 40_000 }), undefined, 'a whole window left: kept');
  t.equal(extendedDeadline({ ...back, now: 20_000, deadline: 12_000, extended: true }), undefined, 'once per ready check');
  t.equal(extendedDeadline({ ...back, now: 70_000, deadline: 65_000 }), undefined, 'after the recovery window: the usual rules');
  t.equal(turnGraceExpiry(5_000, 1_000, 15_000), 20_000, 'gone at 5 s: the turn ends at 20 s');
  t.equal(turnGraceExpiry(500, 1_000, 15_000), 16_000, 'presence before the attach is unknown: counted from the attach');
});

t.test('presence: first session, another, known', async (t) => {
  const p = new Presence();
  t.equal(p.join(1, 'a'), 'first');
  t.equal(p.join(2, 'a'), 'another', 'a second tab');
  t.equal(p.join(2, 'a'), 'known', 'the same session again (a call after its on_join)');
  t.equal(p.leave(1), undefined, 'one tab left: still present');
  t.equal(p.leave(2), 'a', 'the last one');
  t.equal(p.join(3, 'a'), 'first', 'back');
});
