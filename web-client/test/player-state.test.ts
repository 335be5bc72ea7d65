// The player page's state machine: lobby, queue, turn phases, and the
// ordering races between call results and published messages.
import t from 'tap';
import type { MachineSummary, PlayerMessage, QueueSnapshot } from '@clawgate/protocol';
import {
  BASE_TITLE, holdsPlace, initialState, pageTitle, phaseFor, phaseMachine, placeShown, readyPrompt, reduce, type Action, type PlayerState,
} from '../src/logic/player-state.js';

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

// ---- issue 14: a turn and a place belong to the player, the prompt can't be missed, honest waiting ----

const me = { type: 'identity', authid: 'p1', name: 'Ann' } as const satisfies Action;
const playingSlot = (machine: string): Action => ({ type: 'slot', slot: { machine, position: 0, queueLength: 2, etaSeconds: 0, playing: true } as never });
const lines = (o: { z?: number; x?: number; y?: number; holding?: boolean; drop?: boolean; prize?: boolean } = {}): Action => ({
  type: 'lines', machine: 'claw-1',
  lines: {
    outputs: { up: false, down: false, left: false, right: false, drop: o.drop ?? false, coin: false },
    inputs: { prize: o.prize ?? false },
    claw: { x: o.x ?? 0.5, y: o.y ?? 0.5, z: o.z ?? 1, holding: o.holding ?? false },
  },
});

t.test('reload during our own turn: the re-join answer (playing: true) is our running turn, not position 0', async (t) => {
  // The reloaded page: identity, the saved queue (joining), the retained snapshot, then request_slot's answer.
  let s = run([me, { type: 'join', machine: 'claw-1' },
    { type: 'queue', snapshot: snapshot('claw-1', { state: 'controlled', current: { name: 'Ann', endsAt: 90_000 }, waiting: [{ name: 'Bo', position: 0 }] }) },
    playingSlot('claw-1')]);
  t.same(s.phase, { kind: 'playing', machine: 'claw-1', topic: 'claw.machine.claw-1.control.p1', endsAt: 90_000, dropped: false, drop: undefined },
    'playing, steering on the protocol\'s control topic, with the time left from the snapshot');
  t.equal(s.selected, 'claw-1');
  t.ok(holdsPlace(s.phase), 'the page keeps reclaiming it on reconnect');

  // The control message the backend re-sends (when it does) wins for topic and time.
  s = run([msg({ type: 'control', control: true, machine: 'claw-1', topic: 'claw.machine.claw-1.control.p1', endsAt: 91_000 })], s);
  t.equal(s.phase.kind === 'playing' && s.phase.endsAt, 91_000, 'control updates endsAt');
  t.equal(run([playingSlot('claw-1')], s), s, 'a second playing answer changes nothing');
  // Positions and ready prompts for the machine we play on are stale.
  t.equal(run([msg({ type: 'position', machine: 'claw-1', position: 0, etaSeconds: 0 })], s).phase.kind, 'playing');
  t.equal(run([msg({ type: 'get_ready', machine: 'claw-1', deadline: 1 })], s).phase.kind, 'playing');
});

t.test('playing: true before the snapshot: endsAt unknown until the snapshot or the control message says', async (t) => {
  let s = run([me, { type: 'join', machine: 'claw-1' }, playingSlot('claw-1')]);
  t.equal(s.phase.kind, 'playing');
  t.equal(s.phase.kind === 'playing' && s.phase.endsAt, undefined, 'not known yet');
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { state: 'controlled', current: { name: 'Someone else', endsAt: 5 } }) }], s);
  t.equal(s.phase.kind === 'playing' && s.phase.endsAt, undefined, 'another player\'s endsAt is not ours');
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { state: 'controlled', current: { name: 'Ann', endsAt: 77_000 } }) }], s);
  t.equal(s.phase.kind === 'playing' && s.phase.endsAt, 77_000, 'our own endsAt from the snapshot');
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { state: 'controlled', current: { name: 'Ann', endsAt: 1 } }) }], s);
  t.equal(s.phase.kind === 'playing' && s.phase.endsAt, 77_000, 'a known endsAt is only replaced by a control message');
  // Authids, when shown (operators' snapshots), decide instead of names.
  const byAuthid = run([me, { type: 'join', machine: 'claw-1' }, playingSlot('claw-1'),
    { type: 'queue', snapshot: snapshot('claw-1', { current: { name: 'Ann', endsAt: 3, authid: 'p2' } as never }) }]);
  t.equal(byAuthid.phase.kind === 'playing' && byAuthid.phase.endsAt, undefined, 'same name, other authid: not us');
});

t.test('playing: true also overrides a stale get_ready or starting, but not a finished turn', async (t) => {
  const asked = run([me, { type: 'join', machine: 'claw-1' }, msg({ type: 'get_ready', machine: 'claw-1', deadline: 5 })]);
  t.equal(run([playingSlot('claw-1')], asked).phase.kind, 'playing', 'from get_ready');
  t.equal(run([{ type: 'ready_confirmed' }, playingSlot('claw-1')], asked).phase.kind, 'playing', 'from starting');
  const done = run([msg({ type: 'control', control: false, machine: 'claw-1', result: 'lose' })], run([playingSlot('claw-1')], asked));
  t.equal(run([playingSlot('claw-1')], done).phase.kind, 'result', 'a late answer after the result is not news');
  const anonymous = run([{ type: 'join', machine: 'claw-1' }, playingSlot('claw-1')]);
  t.same(anonymous.phase, { kind: 'starting', machine: 'claw-1' }, 'without an identity there is no topic: wait for control');
});

t.test('drop progress from the machine\'s lines, after Space and after a drop the page did not send', async (t) => {
  let s = run([me, { type: 'join', machine: 'claw-1' }, msg({ type: 'control', control: true, machine: 'claw-1', topic: 't', endsAt: 9 }), lines({ z: 1 })]);
  t.equal(s.phase.kind === 'playing' && s.phase.dropped, false, 'steering lines alone are no drop');
  s = run([{ type: 'dropped' }], s);
  t.equal(s.phase.kind === 'playing' && s.phase.drop?.stage, 'sent');
  const stages: string[] = [];
  for (const a of [lines({ z: 1, drop: true }), lines({ z: 0.5 }), lines({ z: 0 }), lines({ z: 0.4, holding: true }), lines({ z: 1, holding: true, x: 0.3, y: 0.3 }), lines({ z: 1, x: 0, y: 0 }), lines({ z: 1, x: 0, y: 0, prize: true })]) {
    s = run([a], s);
    if (s.phase.kind === 'playing') stages.push(s.phase.drop!.stage);
  }
  t.same(stages, ['lowering', 'lowering', 'closing', 'raising', 'returning', 'settling', 'delivered']);
  t.equal(run([{ type: 'dropped' }], s), s, 'a second Space changes nothing');

  // The timer ran out (the node drops by itself) or the page was reloaded mid-drop: the lines say so.
  const auto = run([me, { type: 'join', machine: 'claw-1' }, msg({ type: 'control', control: true, machine: 'claw-1', topic: 't', endsAt: 9 }), lines({ z: 1, drop: true })]);
  t.equal(auto.phase.kind === 'playing' && auto.phase.dropped, true, 'the drop line during our turn marks the turn dropped');
  const reloaded = run([me, { type: 'join', machine: 'claw-1' }, lines({ z: 0.3 }), playingSlot('claw-1')]);
  t.equal(reloaded.phase.kind === 'playing' && reloaded.phase.dropped, true, 'a reload while the claw is down resumes as dropped');
  const other = run([lines({ z: 0.3 })], run([me, { type: 'join', machine: 'claw-2' }, msg({ type: 'control', control: true, machine: 'claw-2', topic: 't', endsAt: 9 })]));
  t.equal(other.phase.kind === 'playing' && other.phase.dropped, false, 'another machine\'s lines are not our drop');
});

t.test('the ready prompt across machines: shown wherever the player looks, and "in another queue" only while it is true', async (t) => {
  let s = run([me, { type: 'lobby', machines: [summary('claw-1'), summary('claw-2'), summary('claw-3')] }, { type: 'join', machine: 'claw-2' }, slot('claw-2', 0)]);
  s = run([{ type: 'select', machine: 'claw-3' }], s);
  t.same(phaseFor(s, 'claw-3'), { kind: 'elsewhere', machine: 'claw-3', elsewhere: s.phase }, 'waiting on claw-2 while looking at claw-3');
  t.equal(readyPrompt(s), undefined, 'no prompt while waiting');
  t.equal(pageTitle(s), BASE_TITLE);

  s = run([msg({ type: 'get_ready', machine: 'claw-2', deadline: 12_345 })], s);
  t.equal(s.selected, 'claw-2', 'the prompt brings the machine on screen');
  s = run([{ type: 'select', machine: 'claw-3' }], s);
  t.same(readyPrompt(s), { machine: 'claw-2', deadline: 12_345, confirming: false }, 'the prompt (with its real deadline) while looking at claw-3');
  t.equal(pageTitle(s), '⏰ Get ready! – ClawGate', 'and in the tab title');
  t.equal(phaseFor(s, 'claw-3').kind, 'elsewhere');
  s = run([{ type: 'ready_sent' }], s);
  t.equal(readyPrompt(s)?.confirming, true, 'confirming from anywhere shows on the prompt');
  s = run([{ type: 'ready_failed', error: 'x' }], s);

  // Not confirmed in time: the place is gone, and so is "You are in the queue of claw-2".
  s = run([msg({ type: 'removed', machine: 'claw-2', reason: 'timeout' })], s);
  t.equal(readyPrompt(s), undefined);
  t.equal(pageTitle(s), BASE_TITLE, 'the title is back');
  t.same(phaseFor(s, 'claw-3'), { kind: 'idle' }, 'claw-3 can be joined');
  t.same(phaseFor(s, 'claw-2'), s.phase, 'claw-2 still tells what happened there');
  s = run([{ type: 'join', machine: 'claw-3' }], s);
  t.same(s.phase, { kind: 'joining', machine: 'claw-3' }, 'joining claw-3 works');

  // The same after a result on claw-2.
  const after = run([msg({ type: 'control', control: false, machine: 'claw-2', result: 'lose' }), { type: 'select', machine: 'claw-1' }],
    run([me, { type: 'join', machine: 'claw-2' }, msg({ type: 'control', control: true, machine: 'claw-2', topic: 't', endsAt: 1 })]));
  t.same(phaseFor(after, 'claw-1'), { kind: 'idle' }, 'a result elsewhere does not block another machine');
  t.equal(pageTitle(run([me, { type: 'join', machine: 'claw-2' }, playingSlot('claw-2')])), '🕹 Your turn – ClawGate');
});

t.test('a re-sent get_ready keeps a confirmation in flight and takes the new deadline', async (t) => {
  let s = run([me, { type: 'join', machine: 'claw-1' }, msg({ type: 'get_ready', machine: 'claw-1', deadline: 5 }), { type: 'ready_sent' }]);
  s = run([msg({ type: 'get_ready', machine: 'claw-1', deadline: 8 })], s);
  t.same(s.phase, { kind: 'get_ready', machine: 'claw-1', deadline: 8, confirming: true });
});

t.test('the end of a place on another machine (another tab) does not end the place this page holds', async (t) => {
  const s = run([me, { type: 'join', machine: 'claw-1' }, slot('claw-1', 2)]);
  t.equal(run([msg({ type: 'removed', machine: 'claw-2', reason: 'kicked' })], s), s);
  t.equal(run([msg({ type: 'control', control: false, machine: 'claw-2', result: 'win' })], s), s);
});

t.test('a place the backend no longer has is freed, only after a fresh check agrees, and only for the place checked', async (t) => {
  let s = run([me, { type: 'join', machine: 'claw-2' }]);
  const empty = snapshot('claw-2');
  t.equal(placeShown(s, empty), undefined, 'still joining: a snapshot from before our join proves nothing');
  s = run([slot('claw-2', 1)], s);
  t.equal(placeShown(s, empty), false, 'waiting, and the snapshot does not show us');
  t.equal(placeShown(s, snapshot('claw-2', { waiting: [{ name: 'Bo', position: 0 }, { name: 'Ann', position: 1 }] })), true);
  t.equal(placeShown(s, snapshot('claw-1')), undefined, 'another machine\'s snapshot says nothing about this place');

  const epoch = s.placeEpoch;
  const withUs = snapshot('claw-2', { waiting: [{ name: 'Ann', position: 0 }] });
  t.equal(run([{ type: 'place_check', snapshot: withUs, epoch }], s).phase.kind, 'waiting', 'the fresh answer has us: nothing changes');
  const gone = run([{ type: 'place_check', snapshot: empty, epoch }], s);
  t.same(gone.phase, { kind: 'removed', machine: 'claw-2', reason: 'gone' }, 'the fresh answer agrees: the place is gone');
  t.equal(gone.machines['claw-2']!.queue, empty, 'and the answer is applied as a snapshot');
  t.equal(phaseFor(gone, 'claw-3').kind, 'idle', 'so another machine can be joined');

  // Left and joined again while the check was in flight: the old check must not cost the new place.
  const rejoined = run([{ type: 'left' }, { type: 'join', machine: 'claw-2' }, slot('claw-2', 0)], s);
  t.equal(run([{ type: 'place_check', snapshot: empty, epoch }], rejoined).phase.kind, 'waiting', 'a check for an older place is ignored');

  const playing = run([me, { type: 'join', machine: 'claw-2' }, msg({ type: 'control', control: true, machine: 'claw-2', topic: 't', endsAt: 9 })]);
  t.same(run([{ type: 'place_check', snapshot: empty, epoch: playing.placeEpoch }], playing).phase, { kind: 'removed', machine: 'claw-2', reason: 'turn_over' },
    'our turn missing from the backend: it is over');
});

t.test('place epochs: a new place counts up, the same place does not', async (t) => {
  let s = run([me]);
  const e0 = s.placeEpoch;
  s = run([{ type: 'join', machine: 'claw-1' }], s);
  t.equal(s.placeEpoch, e0 + 1, 'join');
  s = run([slot('claw-1', 1), msg({ type: 'position', machine: 'claw-1', position: 0, etaSeconds: 0 }), msg({ type: 'get_ready', machine: 'claw-1', deadline: 1 })], s);
  t.equal(s.placeEpoch, e0 + 1, 'the same place moving on');
  s = run([msg({ type: 'removed', machine: 'claw-1', reason: 'timeout' }), msg({ type: 'position', machine: 'claw-1', position: 3, etaSeconds: 0 })], s);
  t.equal(s.placeEpoch, e0 + 2, 'a place learnt from a message (another tab joined) is a new one');
});

t.test('paused: shown in the lobby also during a turn when the backend says so, and the pause note\'s inputs', async (t) => {
  let s = run([{ type: 'lobby', machines: [summary('claw-1')] },
    { type: 'status', machine: 'claw-1', status: { state: 'controlled', player: 'Bo', since: 1 } },
    { type: 'queue', snapshot: snapshot('claw-1', { state: 'controlled', current: { name: 'Bo', endsAt: 9 } }) }]);
  t.equal(s.machines['claw-1']!.state, 'controlled');
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { state: 'controlled', current: { name: 'Bo', endsAt: 9 }, paused: true } as never) }], s);
  t.equal(s.machines['claw-1']!.state, 'paused', 'paused: true during a turn (backend field) shows Paused');
  t.equal(s.machines['claw-1']!.paused, true);
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { state: 'controlled', current: { name: 'Bo', endsAt: 9 } }) }], s);
  t.equal(s.machines['claw-1']!.state, 'paused', 'a snapshot without the field keeps what was known');
  s = run([{ type: 'status', machine: 'claw-1', status: { state: 'ready', since: 2 } }, { type: 'queue', snapshot: snapshot('claw-1', { state: 'ready' }) }], s);
  t.equal(s.machines['claw-1']!.state, 'ready', '`ready` from the backend means not paused');
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { state: 'paused' }) }], s);
  t.equal(s.machines['claw-1']!.state, 'paused', '`paused` state (backend today, node ready)');
  s = run([{ type: 'status', machine: 'claw-1', status: { state: 'offline', since: 3 } }], s);
  t.equal(s.machines['claw-1']!.state, 'offline', 'offline says more than paused');
  s = run([{ type: 'lobby', machines: [summary('claw-2', { state: 'controlled', paused: true } as never)] }], s);
  t.equal(s.machines['claw-2']!.state, 'paused', 'the machine list\'s paused field (before any snapshot)');
});

t.test('a reload reclaims a place only if the backend still has it (request_slot would join anew)', async (t) => {
  // After a reload the page restores the saved place as a resumed join.
  const reloaded = run([me, { type: 'join', machine: 'claw-1', resumed: true }]);
  const epoch = reloaded.placeEpoch;
  t.equal(placeShown(reloaded, snapshot('claw-1')), false, 'a resumed join must be in the snapshot');
  t.equal(placeShown(run([me, { type: 'join', machine: 'claw-1' }]), snapshot('claw-1')), undefined, 'a new join need not be yet');
  t.same(run([{ type: 'place_check', snapshot: snapshot('claw-1'), epoch }], reloaded).phase, { kind: 'removed', machine: 'claw-1', reason: 'gone' },
    'removed while away: said so');
  t.same(run([{ type: 'place_check', snapshot: snapshot('claw-1'), epoch, wasPlaying: true }], reloaded).phase, { kind: 'removed', machine: 'claw-1', reason: 'turn_over' },
    'the turn ended while the page reloaded');
  const still = run([{ type: 'place_check', snapshot: snapshot('claw-1', { current: { name: 'Ann', endsAt: 50 } }), epoch }], reloaded);
  t.same(still.phase, { kind: 'joining', machine: 'claw-1', resumed: true }, 'still ours: reclaim it');
  t.equal(run([playingSlot('claw-1')], still).phase.kind === 'playing' && run([playingSlot('claw-1')], still).phase.kind, 'playing');
});

t.test('playing: true with the turn\'s endsAt and topic in the answer (optional backend fields) takes them', async (t) => {
  const s = run([me, { type: 'join', machine: 'claw-1', resumed: true },
    { type: 'slot', slot: { machine: 'claw-1', position: 0, queueLength: 1, etaSeconds: 0, playing: true, endsAt: 4321, topic: 'claw.machine.claw-1.control.p1' } as never }]);
  t.same(s.phase, { kind: 'playing', machine: 'claw-1', topic: 'claw.machine.claw-1.control.p1', endsAt: 4321, dropped: false, drop: undefined });
});

// ---- issue 14: the backend's new fields ----

t.test('the exact check: not_in_queue frees the place (gone, or the turn over), only for the place asked about', async (t) => {
  const reloaded = run([me, { type: 'join', machine: 'claw-1', resumed: true }]);
  const epoch = reloaded.placeEpoch;
  t.same(run([{ type: 'place_gone', machine: 'claw-1', epoch }], reloaded).phase, { kind: 'removed', machine: 'claw-1', reason: 'gone' });
  t.same(run([{ type: 'place_gone', machine: 'claw-1', epoch, wasPlaying: true }], reloaded).phase, { kind: 'removed', machine: 'claw-1', reason: 'turn_over' });
  t.equal(run([{ type: 'place_gone', machine: 'claw-1', epoch: epoch - 1 }], reloaded), reloaded, 'an answer about an older place changes nothing');
  t.equal(run([{ type: 'place_gone', machine: 'claw-2', epoch }], reloaded), reloaded, 'nor one about another machine');
  const playing = run([me, { type: 'join', machine: 'claw-1' }, msg({ type: 'control', control: true, machine: 'claw-1', topic: 't', endsAt: 9 })]);
  t.equal(run([{ type: 'place_gone', machine: 'claw-1', epoch: playing.placeEpoch }], playing).phase.kind === 'removed'
    && (run([{ type: 'place_gone', machine: 'claw-1', epoch: playing.placeEpoch }], playing).phase as { reason: string }).reason, 'turn_over');
  const idle = run([me]);
  t.equal(run([{ type: 'place_gone', machine: 'claw-1', epoch: idle.placeEpoch }], idle), idle, 'no place: nothing to free');
});

t.test('a reclaim answer with readyDeadline is the prompt with its real deadline; during the prompt it takes a pushed one', async (t) => {
  const reloaded = run([me, { type: 'join', machine: 'claw-1', resumed: true }]);
  const asked = run([{ type: 'slot', slot: { machine: 'claw-1', position: 0, queueLength: 2, etaSeconds: 0, readyDeadline: 777 } }], reloaded);
  t.same(asked.phase, { kind: 'get_ready', machine: 'claw-1', deadline: 777, confirming: false });
  t.equal(pageTitle(asked), '⏰ Get ready! – ClawGate');
  const confirming = run([{ type: 'ready_sent' }, { type: 'slot', slot: { machine: 'claw-1', position: 0, queueLength: 2, etaSeconds: 0, readyDeadline: 999 } }], asked);
  t.same(confirming.phase, { kind: 'get_ready', machine: 'claw-1', deadline: 999, confirming: true }, 'a pushed deadline, the confirmation still in flight');
  const starting = run([{ type: 'ready_confirmed' }, { type: 'slot', slot: { machine: 'claw-1', position: 0, queueLength: 2, etaSeconds: 0, readyDeadline: 999 } }], confirming);
  t.equal(starting.phase.kind, 'starting', 'a late answer never undoes the confirmation');
});

t.test('the wait: etaAt from the position message, the answer and every snapshot (at our position); absent means unknown', async (t) => {
  let s = run([me, { type: 'join', machine: 'claw-1' }, { type: 'slot', slot: { machine: 'claw-1', position: 1, queueLength: 3, etaSeconds: 60, etaAt: 5000 } }]);
  t.same(s.phase, { kind: 'waiting', machine: 'claw-1', position: 1, etaSeconds: 60, etaAt: 5000 });
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { waiting: [{ name: 'Bo', position: 0, etaAt: 1000 }, { name: 'Ann', position: 1, etaAt: 4200 }] }) }], s);
  t.equal(s.phase.kind === 'waiting' && s.phase.etaAt, 4200, 'the snapshot\'s estimate for our position');
  s = run([{ type: 'queue', snapshot: snapshot('claw-1', { paused: true, waiting: [{ name: 'Bo', position: 0 }, { name: 'Ann', position: 1 }] }) }], s);
  t.same(s.phase, { kind: 'waiting', machine: 'claw-1', position: 1, etaSeconds: 60 }, 'none while paused: unknown, not an old one');
  s = run([msg({ type: 'position', machine: 'claw-1', position: 0, etaSeconds: 12, etaAt: 3000 })], s);
  t.same(s.phase, { kind: 'waiting', machine: 'claw-1', position: 0, etaSeconds: 12, etaAt: 3000 });
  const other = run([{ type: 'queue', snapshot: snapshot('claw-2', { waiting: [{ name: 'Ann', position: 0, etaAt: 1 }] }) }], s);
  t.equal(other.phase, s.phase, 'another machine\'s snapshot says nothing about our wait');
});

t.test('kicked with a block: the removal says until when', async (t) => {
  const s = run([me, { type: 'join', machine: 'claw-1' }, slot('claw-1', 1), msg({ type: 'removed', machine: 'claw-1', reason: 'kicked', blockedUntil: 123_456 })]);
  t.same(s.phase, { kind: 'removed', machine: 'claw-1', reason: 'kicked', blockedUntil: 123_456 });
  t.same(run([me, { type: 'join', machine: 'claw-1' }, slot('claw-1', 1), msg({ type: 'removed', machine: 'claw-1', reason: 'kicked' })]).phase,
    { kind: 'removed', machine: 'claw-1', reason: 'kicked' }, 'without a block, as before');
});

t.test('the prizes a machine publishes are kept across the lines messages that leave them out', async (t) => {
  const claw = { x: 0.5, y: 0.5, z: 1, holding: false };
  const base = { outputs: { up: false, down: false, left: false, right: false, drop: false, coin: false }, inputs: { prize: false } };
  let s = run([{ type: 'lines', machine: 'claw-1', lines: { ...base, claw, prizes: [{ x: 0.2, y: 0.3 }] } }]);
  t.same(s.machines['claw-1']!.prizes, [{ x: 0.2, y: 0.3 }]);
  s = run([{ type: 'lines', machine: 'claw-1', lines: { ...base, claw: { ...claw, x: 0.6 } } }], s);
  t.same(s.machines['claw-1']!.prizes, [{ x: 0.2, y: 0.3 }], 'a motion update keeps them');
  s = run([{ type: 'lines', machine: 'claw-1', lines: { ...base, claw, prizes: [] } }], s);
  t.same(s.machines['claw-1']!.prizes, [], 'an empty list is news (all caught)');
});

// ---- issue 20: catching up from the event history after a reconnect ----

const controlOn = msg({ type: 'control', control: true, machine: 'claw-1', topic: 'claw.machine.claw-1.control.p1', endsAt: 9000 });
const playingAnn = run([me, { type: 'join', machine: 'claw-1' }, slot('claw-1', 0), msg({ type: 'get_ready', machine: 'claw-1', deadline: 100 }),
  { type: 'ready_sent' }, { type: 'ready_confirmed' }, controlOn, { type: 'dropped' }]);
const catchUp = (...messages: PlayerMessage[]): Action => ({ type: 'catch_up', messages });

t.test('catch-up: the result of a turn that ended while the page was away is shown, whichever answer comes first', async (t) => {
  t.equal(playingAnn.phase.kind, 'playing');
  const result = { kind: 'result', machine: 'claw-1', result: 'win' };
  t.same(run([catchUp({ type: 'control', control: false, machine: 'claw-1', result: 'win' })], playingAnn).phase, result, 'history first');
  // The reclaim answered not_in_queue first: "your turn ended while you were away", then the history says how.
  const gone = run([{ type: 'place_gone', machine: 'claw-1', epoch: playingAnn.placeEpoch, wasPlaying: true }], playingAnn);
  t.same(gone.phase, { kind: 'removed', machine: 'claw-1', reason: 'turn_over' });
  t.same(run([catchUp({ type: 'control', control: false, machine: 'claw-1', result: 'win' })], gone).phase, result, 'reclaim first');
  const shown = run([catchUp({ type: 'control', control: false, machine: 'claw-1', result: 'win' })], playingAnn);
  t.equal(run([{ type: 'place_gone', machine: 'claw-1', epoch: playingAnn.placeEpoch, wasPlaying: true }], shown), shown, 'a later not_in_queue leaves the result alone');
});

t.test('catch-up: applied in order up to the newest, so the last word is the newest message', async (t) => {
  const waiting = run([me, { type: 'join', machine: 'claw-1' }, slot('claw-1', 3)]);
  // Away while the queue moved twice; the new session got the re-sent position 1 live before the history answered.
  const live = run([msg({ type: 'position', machine: 'claw-1', position: 1, etaSeconds: 30 })], waiting);
  const after = run([catchUp(
    { type: 'position', machine: 'claw-1', position: 2, etaSeconds: 60 },
    { type: 'position', machine: 'claw-1', position: 1, etaSeconds: 30 },
  )], live);
  t.same(after.phase, { kind: 'waiting', machine: 'claw-1', position: 1, etaSeconds: 30 }, 'not moved back to position 2');
  // Asked and timed out while away: the page says so, and the prompt that came and went is not the new state.
  const noShow = run([catchUp(
    { type: 'position', machine: 'claw-1', position: 0, etaSeconds: 5 },
    { type: 'get_ready', machine: 'claw-1', deadline: 500 },
    { type: 'removed', machine: 'claw-1', reason: 'timeout' },
  )], waiting);
  t.same(noShow.phase, { kind: 'removed', machine: 'claw-1', reason: 'timeout' });
  t.equal(run([catchUp()], waiting), waiting, 'nothing missed: no change');
});

t.test('catch-up: old messages replayed after stronger facts of the new session do not move the page back', async (t) => {
  // The reclaim's answer (playing: true) came first; the history holds the prompt and the control message before it.
  const resumed = run([me, { type: 'join', machine: 'claw-1', resumed: true }, { type: 'slot', slot: { machine: 'claw-1', position: 0, queueLength: 1, etaSeconds: 0, playing: true, endsAt: 9000 } as never }]);
  t.equal(resumed.phase.kind, 'playing');
  const replayed = run([catchUp(
    { type: 'position', machine: 'claw-1', position: 0, etaSeconds: 5 },
    { type: 'get_ready', machine: 'claw-1', deadline: 500 },
    { type: 'control', control: true, machine: 'claw-1', topic: 'claw.machine.claw-1.control.p1', endsAt: 9000 },
  )], resumed);
  t.equal(replayed.phase.kind, 'playing', 'still playing: a stale position or prompt does not undo the turn');
  t.same(run([catchUp({ type: 'get_ready', machine: 'claw-1', deadline: 500 })], playingAnn).phase, playingAnn.phase, 'a stale prompt keeps the turn and its drop');
  const confirming = run([me, { type: 'join', machine: 'claw-1' }, msg({ type: 'get_ready', machine: 'claw-1', deadline: 100 }), { type: 'ready_sent' }, { type: 'ready_confirmed' }]);
  t.same(run([catchUp({ type: 'position', machine: 'claw-1', position: 0, etaSeconds: 0 }, { type: 'get_ready', machine: 'claw-1', deadline: 100 })], confirming).phase,
    { kind: 'starting', machine: 'claw-1' }, 'confirmed: the replayed prompt does not ask again');
  const otherMachine = run([catchUp({ type: 'control', control: false, machine: 'claw-2', result: 'lose' })], playingAnn);
  t.equal(otherMachine.phase, playingAnn.phase, 'a result on another machine (another tab\'s queue) does not end this turn');
});

t.test('catch-up: a replayed turn event cannot change what the topics say about a machine', async (t) => {
  const s = run([
    { type: 'status', machine: 'claw-1', status: { state: 'ready', since: 200 } },
    { type: 'queue', snapshot: snapshot('claw-1', { waiting: [{ name: 'Bo', position: 0 }] }) },
  ]);
  const after = run([{ type: 'event', event: { type: 'turn_started', machine: 'claw-1', player: 'Old', at: 100 }, publication: 1 }], s);
  t.equal(after.machines, s.machines, 'status, queue and the shown state are untouched (turn events only fill the recent list)');
  t.equal(after.events[0]!.text, 'Old started a turn');
});

t.test('recent events: live and history merged once each, newest first', async (t) => {
  const ev = (player: string, at: number, publication?: number): Action => ({ type: 'event', event: { type: 'turn_ended', machine: 'claw-1', player, result: 'lose', at }, ...(publication !== undefined ? { publication } : {}) });
  let s = run([ev('live', 50, 5)]);
  // The history at load (oldest first), with the live one again.
  s = run([ev('a', 10, 1), ev('b', 20, 2), ev('live', 50, 5)], s);
  t.same(s.events.map((e) => e.text), ['live: lose', 'b: lose', 'a: lose'], 'in time order, the repeat taken once');
  t.equal(run([ev('live', 50)], s), s, 'without a publication id, the same machine, time and text is a repeat');
  for (let i = 0; i < 8; i++) s = run([ev(`n${i}`, 100 + i, 100 + i)], s);
  t.equal(s.events.length, 8);
  t.equal(run([ev('older', 1, 99)], s), s, 'an event older than the whole list is not added');
});
