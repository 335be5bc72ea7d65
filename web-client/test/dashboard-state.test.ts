// The operator dashboard's state: machines, turns table, stats rate.
import t from 'tap';
import { applyEvent, initialDashboard, ratePerSecond, reduceDashboard, type DashboardAction } from '../src/logic/dashboard-state.js';

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
