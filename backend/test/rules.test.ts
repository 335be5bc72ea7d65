// The queue's pure decisions, without I/O.
import t from 'tap';
import { ClawErrors } from '@clawgate/protocol';
import {
  RateLimiter, currentOf, displayState, effectiveSettings, etaSeconds, graceExpiry, joinDecision, matchTurnEnd, nextAverage, nextStep,
  plannedTurnMs, positionDue, readyDuringTurn, waitingOf, TURN_OVERHEAD_SECONDS,
} from '../src/queue/rules.js';

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
