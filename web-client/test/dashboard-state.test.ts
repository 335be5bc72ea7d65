// The operator dashboard's state: machines, turns table, stats rate.
import t from 'tap';
import type { QueueSnapshot } from '@clawgate/protocol';
import {
  applyEvent, askedOf, confirmProblem, confirmText, initialDashboard, parseBlockMinutes, ratePerSecond, reduceDashboard, rowOutcome, rowsFromAdmin, skipTarget,
  type DashboardAction,
} from '../src/logic/dashboard-state.js';

const run = (actions: DashboardAction[]) => actions.reduce(reduceDashboard, initialDashboard);

t.test('machines merge the list, queue snapshots and status', async (t) => {
  const s = run([
    { type: 'machines', machines: [{ machine: 'claw-2', state: 'ready', queueLength: 0, spectators: 1 }, { machine: 'claw-1', state: 'offline', queueLength: 0, spectators: 0 }] },
    { type: 'status', machine: 'claw-1', status: { state: 'controlled', player: 'Ann', since: 1 } },
    { type: 'queue', snapshot: { machine: 'claw-1', state: 'controlled', current: { name: 'Ann', endsAt: 10 }, waiting: [{ name: 'Bo', position: 0 }] } },
  ]);
  t.same(s.order, ['claw-1', 'claw-2']);
  t.equal(s.machines['claw-1']!.state, 'controlled');
  t.equal(s.machines['claw-1']!.queueLength, 1);
  const paused = reduceDashboard(s, { type: 'queue', snapshot: { machine: 'claw-1', state: 'paused', current: null, waiting: [] } });
  t.equal(paused.machines['claw-1']!.state, 'paused');
});

t.test('turns: started opens a row, ended closes it with the result', async (t) => {
  let turns = applyEvent([], { type: 'turn_started', machine: 'claw-1', player: 'Ann', at: 100 });
  turns = applyEvent(turns, { type: 'turn_started', machine: 'claw-2', player: 'Bo', at: 110 });
  turns = applyEvent(turns, { type: 'turn_ended', machine: 'claw-1', player: 'Ann', result: 'win', at: 130 });
  t.equal(turns.length, 2);
  const ann = turns.find((r) => r.player === 'Ann')!;
  t.same(ann, { machine: 'claw-1', player: 'Ann', startedAt: 100, endedAt: 130, result: 'win' });
  turns = applyEvent(turns, { type: 'turn_ended', machine: 'claw-3', player: 'Cy', result: 'skipped', at: 140 });
  t.equal(turns[0]!.player, 'Cy', 'an end without a start (dashboard opened mid-turn) is its own row');
  t.equal(turns[0]!.startedAt, undefined);
});

t.test('seeded history from claw.admin.turns merges without duplicates, newest first, capped', async (t) => {
  let s = run([{ type: 'event', event: { type: 'turn_started', machine: 'claw-1', player: 'Ann', at: 500 } }]);
  s = reduceDashboard(s, { type: 'turns', turns: [
    { machine: 'claw-1', player: 'Ann', startedAt: 500, endedAt: undefined, result: undefined },
    { machine: 'claw-1', player: 'Old', startedAt: 100, endedAt: 130, result: 'lose' },
  ] });
  t.equal(s.turns.length, 2);
  t.same(s.turns.map((r) => r.player), ['Ann', 'Old']);
  const many = Array.from({ length: 50 }, (_, i) => ({ machine: 'm', player: `p${i}`, startedAt: i, endedAt: i + 1, result: 'lose' as const }));
  t.equal(reduceDashboard(s, { type: 'turns', turns: many }).turns.length, 30);
});

t.test('messages per second from counter samples', async (t) => {
  t.equal(ratePerSecond(undefined, { count: 10, at: 1000 }), undefined, 'first sample: no rate yet');
  t.equal(ratePerSecond({ count: 100, at: 1000 }, { count: 300, at: 3000 }), 100);
  t.equal(ratePerSecond({ count: 100, at: 1000 }, { count: 5, at: 3000 }), undefined, 'counter reset (router restart)');
  t.equal(ratePerSecond({ count: 1, at: 1000 }, { count: 2, at: 1000 }), undefined, 'no time passed');
});

t.test('notices and stats are stored as given', async (t) => {
  const s = run([{ type: 'notice', text: 'claw-1: paused', tone: 'ok' }, { type: 'stats', stats: { sessions: 3, messagesPerSecond: undefined, source: 'x', at: 1 } }]);
  t.same(s.notice, { text: 'claw-1: paused', tone: 'ok' });
  t.equal(s.stats!.sessions, 3);
});

// ---- issue 14: pause during a turn, who is asked, confirmation of Skip and Kick ----

const snap = (o: Partial<QueueSnapshot> & Record<string, unknown> = {}): DashboardAction => ({ type: 'queue', snapshot: { machine: 'claw-1', state: 'ready', current: null, waiting: [], ...o } as QueueSnapshot });
const playing: DashboardAction[] = [
  { type: 'machines', machines: [{ machine: 'claw-1', state: 'controlled', queueLength: 1, spectators: 0 }] },
  { type: 'status', machine: 'claw-1', status: { state: 'controlled', player: 'Fay', since: 1 } },
  snap({ state: 'controlled', current: { name: 'Fay', endsAt: 50, authid: 'pfay' } as never, waiting: [{ name: 'Gus', position: 0, authid: 'pgus' } as never] }),
];

t.test('pause during a turn: from the pause answer (backend today) or the snapshot field, until a snapshot says otherwise', async (t) => {
  let s = run(playing);
  t.equal(s.machines['claw-1']!.state, 'controlled');
  t.equal(s.machines['claw-1']!.paused, false);
  s = reduceDashboard(s, { type: 'paused', machine: 'claw-1', paused: true });
  t.equal(s.machines['claw-1']!.state, 'paused', 'our pause answer shows at once, turn or not');
  s = reduceDashboard(s, playing[2]!);
  t.equal(s.machines['claw-1']!.paused, true, 'a snapshot that says `controlled` (no field) keeps the pause');
  s = reduceDashboard(s, { type: 'status', machine: 'claw-1', status: { state: 'ready', since: 2 } });
  s = reduceDashboard(s, snap({ state: 'paused' }));
  t.equal(s.machines['claw-1']!.state, 'paused', 'after the turn the backend says paused itself');
  s = reduceDashboard(s, snap({ state: 'ready' }));
  t.equal(s.machines['claw-1']!.paused, false, 'resumed elsewhere: ready means not paused');
  s = reduceDashboard(s, snap({ state: 'controlled', paused: true, current: { name: 'Fay', endsAt: 9 } }));
  t.equal(s.machines['claw-1']!.state, 'paused', 'the backend\'s paused field (passthrough) when it has one');
});

t.test('who is being asked: exact with readyDeadline, else inferred from the protocol\'s rule, never while playing or paused', async (t) => {
  let s = run([{ type: 'status', machine: 'claw-1', status: { state: 'ready', since: 1 } }, snap({ waiting: [{ name: 'Gus', position: 0 }, { name: 'Hal', position: 1 }] })]);
  t.same(askedOf(s.machines['claw-1']!), { name: 'Gus', deadline: undefined }, 'front player of a ready machine, nobody playing');
  t.equal(skipTarget(s.machines['claw-1']!), 'Gus', 'Skip would remove the player being asked');
  s = reduceDashboard(s, snap({ waiting: [{ name: 'Gus', position: 0, readyDeadline: 4242 }, { name: 'Hal', position: 1 }] as never }));
  t.same(askedOf(s.machines['claw-1']!), { name: 'Gus', deadline: 4242 }, 'the backend\'s marker gives the deadline');
  const paused = reduceDashboard(s, snap({ state: 'paused', waiting: [{ name: 'Gus', position: 0 }] }));
  t.equal(askedOf(paused.machines['claw-1']!), undefined, 'paused: nobody is asked');
  t.equal(askedOf(run(playing).machines['claw-1']!), undefined, 'a turn runs: nobody is asked');
  t.equal(skipTarget(run(playing).machines['claw-1']!), 'Fay', 'Skip ends the turn of the player in control');
  t.equal(askedOf(run([snap({ state: 'offline', waiting: [{ name: 'Gus', position: 0 }] })]).machines['claw-1']!), undefined, 'offline: nobody');
  t.equal(skipTarget(run([snap({})]).machines['claw-1']!), undefined, 'nothing to skip');
});

t.test('Skip and Kick wait for a confirmation that names the person, and are refused if the queue moved meanwhile', async (t) => {
  let s = run(playing);
  s = reduceDashboard(s, { type: 'ask', pending: { action: 'kick', machine: 'claw-1', authid: 'pgus', name: 'Gus' } });
  t.same(s.confirm, { action: 'kick', machine: 'claw-1', authid: 'pgus', name: 'Gus' });
  t.equal(confirmProblem(s, s.confirm!), undefined, 'Gus is still queued');
  t.equal(reduceDashboard(s, { type: 'settle' }).confirm, undefined, 'cancel or done');
  const gusLeft = reduceDashboard(s, snap({ state: 'controlled', current: { name: 'Fay', endsAt: 50, authid: 'pfay' } as never, waiting: [] }));
  t.match(confirmProblem(gusLeft, s.confirm!), /Gus is no longer in the queue/);
  const kickPlaying = { action: 'kick' as const, machine: 'claw-1', authid: 'pfay', name: 'Fay' };
  t.equal(confirmProblem(s, kickPlaying), undefined, 'the player in control can be kicked too');

  const skip = { action: 'skip' as const, machine: 'claw-1', player: 'Fay' };
  t.equal(confirmProblem(s, skip), undefined);
  const next = reduceDashboard(reduceDashboard(s, { type: 'status', machine: 'claw-1', status: { state: 'controlled', player: 'Gus', since: 3 } }),
    snap({ state: 'controlled', current: { name: 'Gus', endsAt: 80 }, waiting: [] }));
  t.match(confirmProblem(next, skip), /changed \(now Gus\); nothing was skipped/, 'Fay\'s turn ended and Gus plays: the skip is not applied to Gus');
  const nobody = reduceDashboard(reduceDashboard(s, { type: 'status', machine: 'claw-1', status: { state: 'ready', since: 3 } }), snap({ state: 'paused' }));
  t.match(confirmProblem(nobody, skip), /Nobody is playing/);
  t.match(confirmProblem(s, { ...skip, machine: 'claw-9' }), /claw-9 is gone/);

  t.same(confirmText(skip), { title: 'Skip Fay on claw-1?', body: 'Fay\'s turn (or ready check) ends now with the result "skipped". This can\'t be undone.', confirm: 'Skip Fay' });
  t.equal(confirmText(kickPlaying).confirm, 'Kick Fay');
  t.match(confirmText(kickPlaying).title, /Kick Fay from claw-1\?/);
});

// ---- issue 14: no-shows and kicks in the turns table, kick with a block ----

t.test('claw.admin.turns rows: turns with why they ended, removals (no-show, kick with block, away too long)', async (t) => {
  const now = 1_000_000;
  const rows = rowsFromAdmin([
    { id: 7, kind: 'turn', machine: 'claw-1', authid: 'pa', name: 'Ann', startedAt: 10, endsAt: 40, endedAt: 45, result: 'skipped', endedBy: 'pa', endReason: 'gone' },
    { id: 3, kind: 'removed', machine: 'claw-1', authid: 'pb', name: 'Bo', startedAt: null, endsAt: null, endedAt: 50, result: null, endedBy: null, reason: 'timeout' },
    { id: 4, kind: 'removed', machine: 'claw-1', authid: 'pc', name: 'Cy', startedAt: null, endsAt: null, endedAt: 60, result: null, endedBy: 'operator', reason: 'kicked', blockedUntil: now + 9.5 * 60_000 },
    { id: 8, machine: 'claw-1', authid: 'pd', name: 'Dee', startedAt: 70, endsAt: 99, endedAt: 99, result: 'win', endedBy: null, endReason: 'node' },
    { id: 9, machine: 'claw-1', authid: 'pe', name: 'Eve', startedAt: 100, endsAt: null, endedAt: null, result: null, endedBy: null },
    { id: 5, kind: 'removed', machine: 'claw-1', authid: 'pf', name: 'Fay', startedAt: null, endsAt: null, endedAt: 80, result: null, endedBy: null, reason: 'grace_expired' },
  ]);
  t.same(rows.map((r) => rowOutcome(r, now)), [
    'skipped (the player was gone)', 'no-show (did not confirm)', 'kicked by operator, blocked for 10 min', 'win', 'playing…', 'away too long (place lost)',
  ]);
  t.equal(rows[3]!.kind, 'turn', 'rows of older backends (no kind) are turns');
  t.equal(rows[0]!.turnId, 7);
  t.equal(rows[1]!.turnId, undefined, 'a removal is no turn');
  t.equal(rowOutcome({ ...rows[2]!, blockedUntil: now - 1 }, now), 'kicked by operator', 'a block that is over is not mentioned');
});

t.test('a fetched list replaces the table (it has what no event says); live rows newer than it stay; events match rows by turn id', async (t) => {
  let s = run([{ type: 'event', event: { type: 'turn_started', machine: 'claw-1', player: 'Ann', turn: 7, at: 500 } }]);
  s = reduceDashboard(s, { type: 'turns', turns: rowsFromAdmin([
    { id: 7, kind: 'turn', machine: 'claw-1', authid: 'pa', name: 'Ann', startedAt: 495, endsAt: 900, endedAt: null, result: null, endedBy: null },
    { id: 2, kind: 'removed', machine: 'claw-1', authid: 'pb', name: 'Bo', startedAt: null, endsAt: null, endedAt: 480, result: null, endedBy: null, reason: 'timeout' },
  ]) });
  t.same(s.turns.map((r) => r.player), ['Ann', 'Bo'], 'Ann once (same turn id, the backend\'s clock), and the no-show');
  s = reduceDashboard(s, { type: 'event', event: { type: 'turn_ended', machine: 'claw-1', player: 'Ann', turn: 7, result: 'win', at: 950 } });
  t.equal(s.turns[0]!.result, 'win', 'the end closes the row with that turn id');
  s = reduceDashboard(s, { type: 'event', event: { type: 'turn_started', machine: 'claw-1', player: 'Ann', turn: 8, at: 1000 } });
  s = reduceDashboard(s, { type: 'turns', turns: rowsFromAdmin([
    { id: 7, kind: 'turn', machine: 'claw-1', authid: 'pa', name: 'Ann', startedAt: 495, endsAt: 900, endedAt: 948, result: 'win', endedBy: null, endReason: 'node' },
  ]) });
  t.same(s.turns.map((r) => [r.player, r.turnId]), [['Ann', 8], ['Ann', 7]], 'a turn that started after the list was read stays on top');
});

t.test('the block of a kick, from the dialog\'s minutes field', async (t) => {
  t.same(parseBlockMinutes(''), { ok: true, minutes: undefined }, 'empty: no block');
  t.same(parseBlockMinutes(' 0 '), { ok: true, minutes: undefined });
  t.same(parseBlockMinutes('15'), { ok: true, minutes: 15 });
  t.same(parseBlockMinutes('2.5'), { ok: true, minutes: 2.5 });
  t.match(parseBlockMinutes('-3'), { ok: false, problem: /number of minutes/ });
  t.match(parseBlockMinutes('soon'), { ok: false });
  t.match(parseBlockMinutes('2000'), { ok: false, problem: /at most 1440 minutes/ });
});

// ---- issue 20: recent turns from the event history (at sign-in and after a reconnect) ----

const runFrom = (s: ReturnType<typeof run>, actions: DashboardAction[]) => actions.reduce(reduceDashboard, s);

t.test('history: the table filled from a machine\'s events, oldest first; a repeat or a live event taken once', async (t) => {
  const events: DashboardAction[] = [
    { type: 'event', event: { type: 'turn_started', machine: 'claw-1', player: 'Ann', turn: 1, at: 100 } },
    { type: 'event', event: { type: 'turn_ended', machine: 'claw-1', player: 'Ann', turn: 1, result: 'lose', at: 130 } },
    { type: 'event', event: { type: 'turn_started', machine: 'claw-1', player: 'Bo', turn: 2, at: 140 } },
    { type: 'event', event: { type: 'turn_ended', machine: 'claw-1', player: 'Bo', turn: 2, result: 'win', at: 170 } },
  ];
  const s = run(events);
  t.same(s.turns.map((r) => [r.player, r.result]), [['Bo', 'win'], ['Ann', 'lose']]);
  t.equal(runFrom(s, events).turns, s.turns, 'the same history again (a reconnect) changes nothing');
  // A node from before turn ids: the same name at the same moment is the same event.
  const old: DashboardAction[] = [
    { type: 'event', event: { type: 'turn_started', machine: 'claw-2', player: 'Cy', at: 200 } },
    { type: 'event', event: { type: 'turn_ended', machine: 'claw-2', player: 'Cy', result: 'lose', at: 230 } },
  ];
  const withOld = runFrom(s, old);
  t.equal(withOld.turns.length, 3);
  t.equal(runFrom(withOld, old).turns, withOld.turns, 'without turn ids, a repeat is recognised too');
});

t.test('history: an old event takes its place in time, not the top, and none past the last row', async (t) => {
  let s = initialDashboard;
  for (let i = 0; i < 30; i++) s = reduceDashboard(s, { type: 'event', event: { type: 'turn_ended', machine: 'm', player: `p${i}`, turn: 100 + i, result: 'lose', at: 1000 + i } });
  const before = s.turns;
  s = reduceDashboard(s, { type: 'event', event: { type: 'turn_started', machine: 'm', player: 'Old', turn: 5, at: 10 } });
  t.equal(s.turns, before, 'older than the 30 rows shown: the table is unchanged');
  s = reduceDashboard(s, { type: 'event', event: { type: 'turn_started', machine: 'm', player: 'Mid', turn: 6, at: 1010.5 } });
  t.equal(s.turns[0]!.player, 'p29', 'the newest stays on top');
  t.equal(s.turns.findIndex((r) => r.player === 'Mid'), 19, 'the replayed one sits where its time puts it');
  t.equal(s.turns.length, 30);
});

t.test('a turn with no end recorded is "playing…" only while the machine\'s status says it plays it', async (t) => {
  const open = { machine: 'claw-1', player: 'Ann', startedAt: 100, endedAt: undefined, result: undefined, turnId: 4 };
  t.equal(rowOutcome(open, 0), 'playing…', 'no status known: as before');
  t.equal(rowOutcome(open, 0, { state: 'controlled', player: 'Ann', turn: 4, since: 100 }), 'playing…');
  t.equal(rowOutcome(open, 0, { state: 'controlled', player: 'Bo', turn: 5, since: 300 }), 'ended', 'another turn runs now: this one ended unreported');
  t.equal(rowOutcome(open, 0, { state: 'ready', since: 300 }), 'ended', 'the machine is free (a stale turn_started from the history)');
  t.equal(rowOutcome(open, 0, { state: 'offline', since: 300 }), 'ended', 'the node was lost mid-turn');
  const noId = { ...open, turnId: undefined };
  t.equal(rowOutcome(noId, 0, { state: 'controlled', player: 'Ann', since: 100 }), 'playing…', 'without turn ids: by the name the status shows');
  t.equal(rowOutcome(noId, 0, { state: 'controlled', player: 'Bo', since: 100 }), 'ended');
});

t.test('a replayed turn event cannot change what status and queue say about a machine', async (t) => {
  const s = run([
    { type: 'status', machine: 'claw-1', status: { state: 'ready', since: 300 } },
    { type: 'queue', snapshot: { machine: 'claw-1', state: 'ready', current: null, waiting: [] } },
  ]);
  const after = reduceDashboard(s, { type: 'event', event: { type: 'turn_started', machine: 'claw-1', player: 'Old', turn: 3, at: 100 } });
  t.equal(after.machines, s.machines, 'the card is drawn from status and queue only');
  t.equal(rowOutcome(after.turns[0]!, 0, after.machines['claw-1']!.status), 'ended', 'and the stale turn does not show as playing');
});
