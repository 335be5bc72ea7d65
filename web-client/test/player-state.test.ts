// The player page's state machine: lobby, queue, turn phases, and the
// ordering races between call results and published messages.
import t from 'tap';
import type { MachineSummary, PlayerMessage, QueueSnapshot } from '@clawgate/protocol';
import { holdsPlace, initialState, phaseMachine, reduce, type Action, type PlayerState } from '../src/logic/player-state.js';

const run = (actions: Action[], from: PlayerState = initialState) => actions.reduce(reduce, from);
const summary = (machine: string, o: Partial<MachineSummary> = {}): MachineSummary => ({ machine, state: 'ready', queueLength: 0, spectators: 0, ...o });
const snapshot = (machine: string, o: Partial<QueueSnapshot> = {}): QueueSnapshot => ({ machine, state: 'ready', current: null, waiting: [], ...o });
const msg = (m: PlayerMessage): Action => ({ type: 'player', message: m });
const slot = (machine: string, position: number): Action => ({ type: 'slot', slot: { machine, position, queueLength: position + 1, etaSeconds: position * 30 } });

t.test('lobby: machines sorted, a single machine is selected, later snapshots update counts and state', async (t) => {
  let s = run([{ type: 'lobby', machines: [summary('claw-2', { queueLength: 3, spectators: 4 }), summary('claw-1')] }]);
  t.same(s.order, ['claw-1', 'claw-2']);
  t.equal(s.selected, undefined, 'two machines: the player chooses');
  t.equal(s.machines['claw-2']!.queueLength, 3);
  t.equal(s.machines['claw-2']!.spectators, 4);
  s = run([{ type: 'lobby', machines: [summary('claw-1')] }]);
  t.equal(s.selected, 'claw-1', 'one machine: shown at once');
  s = run([
    { type: 'queue', snapshot: snapshot('claw-1', { waiting: [{ name: 'a', position: 0 }, { name: 'b', position: 1 }] }) },
    { type: 'status', machine: 'claw-1', status: { state: 'controlled', player: 'z', since: 1 } },
  ], s);
  t.equal(s.machines['claw-1']!.queueLength, 2);
  t.equal(s.machines['claw-1']!.state, 'controlled');
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { state: 'paused' }) }], s);
  t.equal(s.machines['claw-1']!.state, 'paused', 'an operator pause wins over the node status');
  s = run([{ type: 'lobby', machines: [summary('claw-1', { state: 'ready', spectators: 9 })] }], s);
  t.equal(s.machines['claw-1']!.state, 'paused', 'a lobby refresh does not undo what the topics say');
  t.equal(s.machines['claw-1']!.spectators, 9);
});

t.test('topics for a machine not in the lobby yet add it', async (t) => {
  const s = run([{ type: 'status', machine: 'claw-9', status: { state: 'ready', since: 1 } }]);
  t.same(s.order, ['claw-9']);
  t.equal(s.machines['claw-9']!.state, 'ready');
});

t.test('videoUrl from the machine list (extension field) is kept', async (t) => {
  const s = run([{ type: 'lobby', machines: [{ ...summary('claw-1'), videoUrl: 'https://cam/x.mjpg' } as MachineSummary] }]);
  t.equal(s.machines['claw-1']!.videoUrl, 'https://cam/x.mjpg');
});

t.test('a whole turn: join → waiting → position 0 → get_ready → confirm → playing → drop → result', async (t) => {
  let s = run([{ type: 'identity', authid: 'p1', name: 'Ann' }, { type: 'join', machine: 'claw-1' }]);
  t.same(s.phase, { kind: 'joining', machine: 'claw-1' });
  t.ok(holdsPlace(s.phase));
  s = run([slot('claw-1', 2)], s);
  t.same(s.phase, { kind: 'waiting', machine: 'claw-1', position: 2, etaSeconds: 60 });
  s = run([msg({ type: 'position', machine: 'claw-1', position: 0, etaSeconds: 5 })], s);
  t.equal(s.phase.kind === 'waiting' && s.phase.position, 0);
  s = run([msg({ type: 'get_ready', machine: 'claw-1', deadline: 99 })], s);
  t.same(s.phase, { kind: 'get_ready', machine: 'claw-1', deadline: 99, confirming: false });
  s = run([{ type: 'ready_sent' }], s);
  t.equal(s.phase.kind === 'get_ready' && s.phase.confirming, true, 'the button shows it is confirming');
  s = run([{ type: 'ready_confirmed' }], s);
  t.same(s.phase, { kind: 'starting', machine: 'claw-1' });
  s = run([msg({ type: 'control', control: true, machine: 'claw-1', topic: 'claw.machine.claw-1.control.p1', endsAt: 500 })], s);
  t.same(s.phase, { kind: 'playing', machine: 'claw-1', topic: 'claw.machine.claw-1.control.p1', endsAt: 500, dropped: false });
  s = run([{ type: 'dropped' }], s);
  t.equal(s.phase.kind === 'playing' && s.phase.dropped, true);
  s = run([msg({ type: 'control', control: false, machine: 'claw-1', result: 'win' })], s);
  t.same(s.phase, { kind: 'result', machine: 'claw-1', result: 'win' });
  t.notOk(holdsPlace(s.phase), 'a finished turn holds no place');
  s = run([{ type: 'dismiss' }], s);
  t.same(s.phase, { kind: 'idle' });
});

t.test('races: a late request_slot answer never undoes get_ready or a turn', async (t) => {
  const base = run([{ type: 'join', machine: 'claw-1' }]);
  let s = run([msg({ type: 'get_ready', machine: 'claw-1', deadline: 5 }), slot('claw-1', 0)], base);
  t.equal(s.phase.kind, 'get_ready', 'get_ready published before the call result arrived');
  s = run([{ type: 'ready_confirmed' }, slot('claw-1', 0)], s);
  t.equal(s.phase.kind, 'starting');
  s = run([msg({ type: 'control', control: true, machine: 'claw-1', topic: 't', endsAt: 1 }), slot('claw-1', 0), msg({ type: 'position', machine: 'claw-1', position: 0, etaSeconds: 0 })], s);
  t.equal(s.phase.kind, 'playing', 'neither a slot answer nor a stale position ends the turn');
});

t.test('a control message wins even if get_ready was missed (e.g. reload)', async (t) => {
  const s = run([slot('claw-1', 0), msg({ type: 'control', control: true, machine: 'claw-1', topic: 't', endsAt: 1 })], run([{ type: 'join', machine: 'claw-1' }]));
  t.equal(s.phase.kind, 'playing');
});

t.test('a slot answer after leaving or after the result is ignored', async (t) => {
  let s = run([{ type: 'join', machine: 'claw-1' }, slot('claw-1', 1), { type: 'left' }]);
  t.same(s.phase, { kind: 'removed', machine: 'claw-1', reason: 'left' });
  s = run([slot('claw-1', 1)], s);
  t.equal(s.phase.kind, 'removed');
  s = run([{ type: 'slot', slot: { machine: 'claw-1', position: 0, queueLength: 1, etaSeconds: 0 } }], initialState);
  t.same(s.phase, { kind: 'idle' }, 'not joining: nothing to apply');
});

t.test('removal by the backend (kicked, grace expired, ready timeout)', async (t) => {
  for (const reason of ['kicked', 'grace_expired', 'timeout'] as const) {
    const s = run([{ type: 'join', machine: 'claw-1' }, slot('claw-1', 3), msg({ type: 'removed', machine: 'claw-1', reason })]);
    t.same(s.phase, { kind: 'removed', machine: 'claw-1', reason }, reason);
    t.notOk(holdsPlace(s.phase));
  }
});

t.test('join failures go back to idle with the reason; ready failures let the player retry', async (t) => {
  let s = run([{ type: 'join', machine: 'claw-1' }, { type: 'join_failed', machine: 'claw-1', error: 'full' }]);
  t.same(s.phase, { kind: 'idle' });
  t.equal(s.error, 'full');
  s = run([{ type: 'join', machine: 'claw-1' }], s);
  t.equal(s.error, undefined, 'a new attempt clears the old error');
  s = run([msg({ type: 'get_ready', machine: 'claw-1', deadline: 5 }), { type: 'ready_sent' }, { type: 'ready_failed', error: 'offline' }], s);
  t.same(s.phase, { kind: 'get_ready', machine: 'claw-1', deadline: 5, confirming: false });
  t.equal(s.error, 'offline');
});

t.test('joining the machine we already queue for changes nothing (double click)', async (t) => {
  const s = run([{ type: 'join', machine: 'claw-1' }, slot('claw-1', 2)]);
  t.equal(run([{ type: 'join', machine: 'claw-1' }], s), s);
});

t.test('events: newest first, at most 8, cleared when switching machines', async (t) => {
  let s = initialState;
  for (let i = 0; i < 10; i++) s = reduce(s, { type: 'event', event: { type: 'turn_ended', machine: 'claw-1', player: `p${i}`, result: 'lose', at: i } });
  t.equal(s.events.length, 8);
  t.equal(s.events[0]!.text, 'p9: lose');
  t.equal(reduce(s, { type: 'event', event: { type: 'turn_started', machine: 'claw-1', player: 'Bo', at: 11 } }).events[0]!.text, 'Bo started a turn');
  s = reduce(s, { type: 'select', machine: 'claw-2' });
  t.same(s.events, []);
});

t.test('phaseMachine and holdsPlace', async (t) => {
  t.equal(phaseMachine({ kind: 'idle' }), undefined);
  t.equal(phaseMachine({ kind: 'waiting', machine: 'm', position: 0, etaSeconds: 0 }), 'm');
  t.ok(holdsPlace({ kind: 'starting', machine: 'm' }));
  t.notOk(holdsPlace({ kind: 'result', machine: 'm', result: 'lose' }));
});
