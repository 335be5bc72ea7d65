// Turn lifecycle over real sockets: the real router (claw config), the real
// backend on a temp SQLite file, players with tickets from POST /api/session,
// and a scripted claw node.
import { sql } from 'kysely';
import { ClawErrors, Procedures, machineUris, type QueueSnapshot, type SlotResult } from '@clawgate/protocol';
import { connectOperator, connectSpectator, errorOf, eventually, setup, storeTest, query } from './helpers.js';

const M = 'claw-1';

storeTest('full turns: win, then lose; everyone moves up; results recorded', async (t, store) => {
  const { claws, backend, player } = await setup(t, [M], { store });
  const claw = claws[M]!;
  const alice = await player('Alice');
  const bob = await player('Bob');

  const a = await alice.call(Procedures.requestSlot, [M]) as SlotResult;
  t.equal(a.position, 0, 'first in line');
  // Alice is asked to get ready at once: the machine is ready.
  const ready = await alice.waitFor((m) => m.type === 'get_ready');
  t.ok((ready as { deadline: number }).deadline > Date.now(), 'deadline in the future');
  const b = await bob.call(Procedures.requestSlot, [M]) as SlotResult;
  t.equal(b.position, 1, 'Bob behind Alice');
  t.equal(b.queueLength, 2);
  t.same(await bob.call(Procedures.requestSlot, [M]), b, 'request_slot is idempotent');

  t.same(await alice.call(Procedures.turnReady, [M]), { machine: M, confirmed: true });
  const control = await alice.waitFor((m) => m.type === 'control' && (m as { control: boolean }).control);
  t.equal((control as { topic: string }).topic, machineUris(M).control(alice.authid), 'her own control topic');
  t.same(claw.starts[0], { player: alice.authid, moveSeconds: 5, name: 'Alice', turn: 1 }, 'start_turn args: the backend\'s turn id (the first turn of a new database)');
  await bob.waitFor((m) => m.type === 'position' && (m as { position: number }).position === 0, 0, 10_000, 'Bob at the front');

  const snap = await alice.call(Procedures.queueGet, [M]) as QueueSnapshot;
  t.equal(snap.current?.name, 'Alice');
  t.same(snap.waiting.map(({ etaAt: _eta, ...w }) => w), [{ name: 'Bob', position: 0 }], 'no authids for players');
  t.ok(snap.waiting[0]!.etaAt! >= Date.now(), 'Bob\'s wait estimate: after Alice\'s turn');
  t.equal(snap.paused, false, 'the snapshot says whether the machine is paused');

  claw.finish('win');
  const end = await alice.waitFor((m) => m.type === 'control' && !(m as { control: boolean }).control);
  t.equal((end as { result: string }).result, 'win');
  await bob.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'Bob get_ready');
  await bob.call(Procedures.turnReady, [M]);
  await eventually(async () => claw.turn?.player === bob.authid, 10_000, 'Bob\'s turn');
  claw.finish('lose');
  const bobEnd = await bob.waitFor((m) => m.type === 'control' && !(m as { control: boolean }).control);
  t.equal((bobEnd as { result: string }).result, 'lose');

  await eventually(async () => (await backend.coordinator.turns(M, 10)).every((r) => r.result !== null) && (await backend.coordinator.turns(M, 10)).length === 2, 10_000, 'turns recorded');
  const turns = (await backend.coordinator.turns(M, 10));
  t.same(turns.map((r) => [r.name, r.result]), [['Bob', 'lose'], ['Alice', 'win']], 'turns table, newest first');
  t.ok(turns.every((r) => r.endedAt !== null && r.startedAt! <= r.endedAt!), 'every turn has an end');
  t.ok(turns[1]!.endsAt !== null, 'endsAt from start_turn');
  const empty = await alice.call(Procedures.queueGet, [M]) as QueueSnapshot;
  t.same(empty.waiting, []);
  t.equal(empty.current, null);
  t.same(bob.positions(M), [1, 0], 'Bob was told 1, then 0');
});

storeTest('ready check not answered: the player is skipped and the next one asked', async (t, store) => {
  const { player } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 1, moveSeconds: 5, graceSeconds: 5, maxQueue: 50 } } });
  const slow = await player('Slow');
  const next = await player('Next');
  // Next confirms the moment it is asked (a short window must not make the test flaky on a busy machine).
  const confirmed: unknown[] = [];
  await next.session.subscribe(`claw.player.${next.authid}`, (args: unknown[] | undefined) => {
    if ((args?.[0] as { type: string }).type === 'get_ready') next.call(Procedures.turnReady, [M]).then((r) => confirmed.push(r), (e) => confirmed.push(e));
  });
  await slow.call(Procedures.requestSlot, [M]);
  await next.call(Procedures.requestSlot, [M]);
  await slow.waitFor((m) => m.type === 'get_ready');
  const removed = await slow.waitFor((m) => m.type === 'removed', 0, 10_000, 'removed');
  t.equal((removed as { reason: string }).reason, 'timeout');
  await next.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'next asked');
  t.equal(await errorOf(slow.call(Procedures.turnReady, [M])), ClawErrors.notInQueue, 'too late');
  t.same(await eventually(async () => confirmed[0], 10_000, 'confirmation'), { machine: M, confirmed: true }, 'the next player confirmed');
  await next.waitFor((m) => m.type === 'control', 0, 10_000, 'next plays');
});

storeTest('two players race request_slot for the last place', async (t, store) => {
  const { player, backend } = await setup(t, [M], { store, backend: { defaults: { maxQueue: 2, moveSeconds: 5, readyWindowSeconds: 30, graceSeconds: 5 } } });
  const first = await player('First');
  await first.call(Procedures.requestSlot, [M]);
  const racers = [await player('R1'), await player('R2')];
  const outcomes = await Promise.all(racers.map((p) => errorOf(p.call(Procedures.requestSlot, [M]))));
  t.same([...outcomes].sort(), [ClawErrors.queueFull, 'resolved'].sort(), 'exactly one wins the last place');
  const snap = (await backend.coordinator.queueGet(M));
  t.equal(snap.waiting.length + (snap.current ? 1 : 0), 2, 'queue holds 2');
  const winner = racers[outcomes.indexOf('resolved')]!;
  t.same(snap.waiting.map((w) => w.name), ['First', winner.name]);
});

storeTest('the same player from two tabs: one slot, both tabs told, ready from either', async (t, store) => {
  const { player, backend } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 30, moveSeconds: 5, graceSeconds: 5, maxQueue: 50 } } });
  const blocker = await player('Blocker');
  await blocker.call(Procedures.requestSlot, [M]);
  const p = await player('Tabby');
  const tab2 = await p.secondTab();
  t.teardown(() => tab2.close());
  const s1 = await p.call(Procedures.requestSlot, [M]) as SlotResult;
  const s2 = await tab2.session.call(Procedures.requestSlot, [M]) as SlotResult;
  t.equal(s1.position, 1);
  t.same(s2, s1, 'the second tab gets the same slot');
  t.equal((await backend.coordinator.queueGet(M)).waiting.filter((w) => w.name === 'Tabby').length, 1, 'one entry');
  await eventually(async () => tab2.messages.some((m) => m.type === 'position'), 10_000, 'tab 2 hears positions');

  // Closing one tab keeps the place (the player is still there), without a grace timer.
  await tab2.close();
  await blocker.call(Procedures.leave, [M]);
  await p.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'get_ready');
  t.same(await p.call(Procedures.turnReady, [M]), { machine: M, confirmed: true });
});

storeTest('operator: pause/resume, skip the current turn, kick a waiting player; audited', async (t, store) => {
  const { player, claws, backend, r } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 30, moveSeconds: 5, graceSeconds: 5, maxQueue: 50 } } });
  const claw = claws[M]!;
  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  const a = await player('A');
  const b = await player('B');
  const c = await player('C');
  await op.session.call(Procedures.adminPause, [M]);
  for (const p of [a, b, c]) await p.call(Procedures.requestSlot, [M]);
  const listed = await op.session.call(Procedures.machinesList) as { machine: string; state: string; queueLength: number; spectators: number }[];
  t.match(listed, [{ machine: M, state: 'paused', queueLength: 3 }]);
  t.notOk(a.messages.some((m) => m.type === 'get_ready'), 'no ready check while paused');

  const opView = await op.session.call(Procedures.queueGet, [M]) as { waiting: { authid?: string }[] };
  t.same(opView.waiting.map((w) => w.authid), [a.authid, b.authid, c.authid], 'operators see authids');

  await op.session.call(Procedures.adminResume, [M]);
  await a.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'A asked after resume');
  await a.call(Procedures.turnReady, [M]);
  await eventually(async () => claw.turn?.player === a.authid, 10_000, 'A playing');

  const skipped = await op.session.call(Procedures.adminSkip, [M]);
  t.match(skipped, { machine: M, skipped: 'A' });
  const end = await a.waitFor((m) => m.type === 'control' && !(m as { control: boolean }).control);
  t.equal((end as { result: string }).result, 'skipped');
  t.same(claw.ends, ['skipped'], 'the node was told to end the turn');

  t.match(await op.session.call(Procedures.adminKick, [M, c.authid]), { machine: M, kicked: 'C' });
  const kicked = await c.waitFor((m) => m.type === 'removed');
  t.equal((kicked as { reason: string }).reason, 'kicked');
  t.equal(await errorOf(op.session.call(Procedures.adminKick, [M, c.authid])), ClawErrors.notInQueue, 'kick twice: not in queue');

  const settings = await op.session.call(Procedures.adminSettings, [M, { graceSeconds: 1, moveSeconds: 7 }]) as Record<string, unknown>;
  t.match(settings, { machine: M, graceSeconds: 1, moveSeconds: 7, readyWindowSeconds: 30 });
  t.equal(await errorOf(op.session.call(Procedures.adminSettings, [M, { moveSeconds: -1 }])), ClawErrors.invalidArgument);

  // claw.admin.turns lists removals too (issue 14): the kick of C is the newest row, A's skipped turn the newest turn.
  const turns = await op.session.call(Procedures.adminTurns, [], { limit: 5 }) as { kind: string; name: string; result: string; endedBy: string }[];
  t.match(turns.find((r) => r.kind === 'turn'), { name: 'A', result: 'skipped', endedBy: 'operator', endReason: 'skip' });
  t.match(turns[0], { kind: 'removed', name: 'C', reason: 'kicked', endedBy: 'operator', result: null });
  const audit = (await query(backend, sql`SELECT action, actor, target FROM admin_actions ORDER BY id`));
  t.same(audit, [
    { action: 'pause', actor: 'operator', target: null },
    { action: 'resume', actor: 'operator', target: null },
    { action: 'skip', actor: 'operator', target: a.authid },
    { action: 'kick', actor: 'operator', target: c.authid },
    { action: 'settings', actor: 'operator', target: null },
  ], 'every operator action audited');
  // Players may not call admin procedures (router permissions).
  t.equal(await errorOf(b.call(Procedures.adminSkip, [M])), 'wamp.error.not_authorized');
});

storeTest('error paths: a clear claw.error.* and no state change', async (t, store) => {
  const { player, backend, r } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 30, moveSeconds: 5, graceSeconds: 5, maxQueue: 50 } } });
  const front = await player('Front');
  const p = await player('P');
  await front.call(Procedures.requestSlot, [M]);
  const before = JSON.stringify((await query(backend, sql`SELECT * FROM queue_entries ORDER BY id`)));
  const turnsBefore = JSON.stringify((await query(backend, sql`SELECT * FROM turns`)));

  t.equal(await errorOf(p.call(Procedures.requestSlot, ['no-such-machine'])), ClawErrors.noSuchMachine, 'unknown machine');
  t.equal(await errorOf(p.call(Procedures.queueGet, ['no-such-machine'])), ClawErrors.noSuchMachine, 'unknown machine (get)');
  t.equal(await errorOf(p.call(Procedures.leave, [M])), ClawErrors.notInQueue, 'leave when not queued');
  t.equal(await errorOf(p.call(Procedures.turnReady, [M])), ClawErrors.notInQueue, 'ready when not queued');
  for (const bad of [[], [42], ['Bad.Id'], [{ machine: 7 }], [null]]) {
    t.equal(await errorOf(p.call(Procedures.requestSlot, bad)), ClawErrors.invalidArgument, `malformed ${JSON.stringify(bad)}`);
  }
  await p.call(Procedures.requestSlot, [M]);
  const mid = JSON.stringify((await query(backend, sql`SELECT * FROM queue_entries ORDER BY id`)));
  t.equal(await errorOf(p.call(Procedures.turnReady, [M])), ClawErrors.notYourTurn, 'ready when not at the front');
  t.equal(JSON.stringify((await query(backend, sql`SELECT * FROM queue_entries ORDER BY id`))), mid, 'ready refused: nothing changed');
  await p.call(Procedures.leave, [M]);

  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  t.equal(await errorOf(op.session.call(Procedures.adminKick, [M])), ClawErrors.invalidArgument, 'kick without authid');
  t.equal(await errorOf(op.session.call(Procedures.adminPause, ['nope'])), ClawErrors.noSuchMachine);
  t.equal(JSON.stringify((await query(backend, sql`SELECT * FROM queue_entries ORDER BY id`))), before, 'queue unchanged by refusals');
  t.equal(JSON.stringify((await query(backend, sql`SELECT * FROM turns`))), turnsBefore, 'turns unchanged');

  // A spectator may look but not queue.
  const spec = await connectSpectator(r.url);
  t.teardown(() => spec.close());
  const list = await spec.session.call(Procedures.machinesList) as { spectators: number }[];
  t.equal(list.length, 1);
  t.equal(await errorOf(spec.session.call(Procedures.requestSlot, [M])), 'wamp.error.not_authorized');
});

storeTest('rate limit per player', async (t, store) => {
  const { player } = await setup(t, [M], { store, backend: { rateLimit: { calls: 3, perSeconds: 60 } } });
  const p = await player('Spammy');
  for (let i = 0; i < 3; i++) await p.call(Procedures.requestSlot, [M]);
  t.equal(await errorOf(p.call(Procedures.requestSlot, [M])), ClawErrors.rateLimited);
  const other = await player('Calm');
  t.match(await other.call(Procedures.requestSlot, [M]), { position: 1 }, 'others unaffected');
});

storeTest('a lost session\'s stale offline testament (router cluster: published after the node is back) neither ends the turn nor takes the machine offline', async (t, store) => {
  const { claws, player } = await setup(t, [M], { store });
  const claw = claws[M]!;
  const spec = await connectSpectator(claws[M]!.r.url);
  t.teardown(() => spec.close());
  const alice = await player('Alice');
  await alice.call(Procedures.requestSlot, [M]);
  await alice.waitFor((m) => m.type === 'get_ready');
  await alice.call(Procedures.turnReady, [M]);
  await alice.waitFor((m) => m.type === 'control' && (m as { control: boolean }).control);
  await eventually(async () => claw.turn?.player === alice.authid, 10_000, 'Alice\'s turn on the node');
  // What the other router nodes publish when they see the claw's old node gone: the testament its old session set
  // when it opened (offline, no reason, `since` before everything the new session said).
  await claw.session.publish(machineUris(M).status, [{ state: 'offline', since: Date.now() - 60_000 }], {}, { retain: true, acknowledge: true });
  // Handled within milliseconds; without the rule the turn ends and the machine is listed offline (nothing said after it).
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(claw.ends.length, 0, 'no end_turn sent to the node');
  t.equal(alice.messages.some((m) => m.type === 'control' && !(m as { control: boolean }).control), false, 'Alice keeps control');
  const listed = (await spec.session.call(Procedures.machinesList) as { machine: string; state: string }[]).find((m) => m.machine === M);
  t.not(listed?.state, 'offline', 'the machine is not listed offline');
  t.equal(((await alice.call(Procedures.queueGet, [M])) as QueueSnapshot).current?.name, 'Alice', 'her turn is the current one');
  // A fresh offline from the node (its `since` after the status held) is taken as always: the turn ends.
  await claw.session.publish(machineUris(M).status, [{ state: 'offline', since: Date.now() }], {}, { retain: true, acknowledge: true });
  const end = await alice.waitFor((m) => m.type === 'control' && !(m as { control: boolean }).control, 0, 10_000, 'control ends on a fresh offline');
  t.equal((end as { result: string }).result, 'abandoned');
});
