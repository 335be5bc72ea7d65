// Issue 14: a turn and a place belong to the player, not to a connection.
// Every new session of a player (a second tab, a reload) is told where they
// stand; request_slot {resume: true} reclaims a place without ever joining;
// a player in control who is gone past the turn grace gives the machine back;
// and after a backend restart a ready check does not run out while its
// player is still reconnecting (the recovery window), with a fresh ready
// window once they are back, once.
import { sql } from 'kysely';
import { ClawErrors, Procedures, machineUris, type PlayerMessage, type SlotResult } from '@clawgate/protocol';
import { Player, ScriptedClaw, errorOf, eventually, setup, sleep, startClawRouter, startTestBackend, storeTest, testDatabase, scalar } from './helpers.js';

const M = 'claw-1';
type GetReady = Extract<PlayerMessage, { type: 'get_ready' }>;
type Control = Extract<PlayerMessage, { type: 'control' }>;
const isGetReady = (m: PlayerMessage) => m.type === 'get_ready';
const controlOn = (m: PlayerMessage) => m.type === 'control' && m.control;
const controlOff = (m: PlayerMessage) => m.type === 'control' && !m.control;

storeTest('every new session of the player in control or being asked is told again, and request_slot answers it', async (t, store) => {
  const { player, claws } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 30, moveSeconds: 30, graceSeconds: 30, maxQueue: 50 } } });
  const ann = await player('Ann');
  const bob = await player('Bob');
  await ann.call(Procedures.requestSlot, [M]);
  await bob.call(Procedures.requestSlot, [M]);
  const asked = await ann.waitFor<GetReady>(isGetReady);

  // A second tab of the player being asked: the prompt with the original deadline (the window does not restart).
  const annTab = await ann.secondTab();
  t.teardown(() => annTab.close());
  const slot = await annTab.session.call(Procedures.requestSlot, [M], { resume: true }) as SlotResult;
  t.match(slot, { position: 0, readyDeadline: asked.deadline }, 'the answer carries the ready deadline');
  const again = await eventually(async () => annTab.messages.find(isGetReady) as GetReady | undefined, 10_000, 'get_ready in the second tab');
  t.equal(again.deadline, asked.deadline, 'the original deadline');
  // A reload (every session gone, then back) seconds after the backend started: still the original deadline
  // (a fresh window is only for players the backend has not seen since it attached: after a restart).
  await annTab.close();
  await ann.disconnect();
  const from = ann.messages.length;
  await ann.connect();
  t.equal((await ann.waitFor<GetReady>(isGetReady, from, 10_000, 'get_ready after the reload')).deadline, asked.deadline, 'a reload does not restart the window');
  await ann.call(Procedures.turnReady, [M]);
  const control = await ann.waitFor<Control & { control: true }>(controlOn);
  await eventually(async () => claws[M]!.turn?.player === ann.authid, 10_000, 'Ann playing');

  // Yet another tab during the turn: control with the topic and the turn's end, also without calling anything.
  const third = await ann.secondTab();
  t.teardown(() => third.close());
  const sent = await eventually(async () => third.messages.find(controlOn) as (Control & { control: true }) | undefined, 10_000, 'control in a new tab')
    .catch(() => undefined);
  // The tab subscribes right after its WELCOME, so the push may come before it listens; request_slot always answers.
  const playing = await third.session.call(Procedures.requestSlot, [M], { resume: true }) as SlotResult;
  t.match(playing, { position: 0, playing: true, endsAt: control.endsAt, topic: machineUris(M).control(ann.authid) }, 'the answer: playing, with endsAt and topic');
  const resent = sent ?? await eventually(async () => third.messages.find(controlOn) as (Control & { control: true }) | undefined, 10_000, 'control after request_slot');
  t.same({ topic: resent.topic, endsAt: resent.endsAt }, { topic: control.topic, endsAt: control.endsAt }, 'the same turn: topic and end');
  t.notOk(bob.messages.some(controlOn), 'nobody else is told');
});

storeTest('request_slot {resume: true} never joins: not_in_queue without a place, the same slot with one', async (t, store) => {
  const { player, backend } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 30, moveSeconds: 30, graceSeconds: 30, maxQueue: 50 } } });
  const ann = await player('Ann');
  const cy = await player('Cy');
  await ann.call(Procedures.requestSlot, [M]);
  t.equal(await errorOf(cy.session.call(Procedures.requestSlot, [M], { resume: true })), ClawErrors.notInQueue, 'a place that is gone is said so');
  t.same((await backend.coordinator.queueGet(M)).waiting.map((w) => w.name), ['Ann'], 'and nobody joined');
  const plain = await cy.call(Procedures.requestSlot, [M]) as SlotResult;
  const resumed = await cy.session.call(Procedures.requestSlot, [M], { resume: true }) as SlotResult;
  t.equal(resumed.position, plain.position, 'with a place: the same slot');
  t.equal(resumed.position, 1);
});

storeTest('a player in control who is gone past the turn grace gives the machine back; one back in time keeps the turn', async (t, store) => {
  const { player, claws, backend } = await setup(t, [M], {
    store,
    backend: { defaults: { readyWindowSeconds: 30, moveSeconds: 60, graceSeconds: 30, maxQueue: 50 }, presence: { turnGraceSeconds: 1.5 } },
  });
  const claw = claws[M]!;
  const ann = await player('Ann');
  const bob = await player('Bob');
  await ann.call(Procedures.requestSlot, [M]);
  await bob.call(Procedures.requestSlot, [M]);
  await ann.waitFor(isGetReady);
  await ann.call(Procedures.turnReady, [M]);
  await ann.waitFor(controlOn);

  // A reload: away for less than the grace, back into the turn.
  await ann.disconnect();
  await eventually(async () => claw.releases === 1, 10_000, 'lines released at once');
  await sleep(300);
  const from = ann.messages.length;
  await ann.connect();
  await ann.waitFor(controlOn, from, 10_000, 'control again after the reload');
  await sleep(2500);
  t.equal(claw.turn?.player, ann.authid, 'back within the grace: the turn goes on');
  t.same(claw.ends, [], 'nothing ended it');

  // Gone for good (the tab closed): the turn ends after the grace, the node is told, Bob is asked long before the 60 s timer.
  // Timed from before the close: the backend may see the leave before disconnect() resolves.
  const gone = Date.now();
  await ann.disconnect();
  await bob.waitFor(isGetReady, 0, 15_000, 'Bob asked');
  const waited = Date.now() - gone;
  // 10 ms for the clocks' rounding (Date.now here, a monotonic timer there).
  t.ok(waited >= 1390, `not before the grace (${waited} ms)`);
  t.ok(waited < 10_000, `within the grace and a few seconds (${waited} ms), not the turn's 60 s`);
  t.same(claw.ends, ['skipped'], 'the node was told with end_turn');
  const row = (await backend.coordinator.turns(M, 1))[0]!;
  t.match(row, { kind: 'turn', name: 'Ann', result: 'skipped', endedBy: ann.authid, endReason: 'gone' }, 'recorded: skipped by the player, reason gone');
  t.equal((await backend.coordinator.queueGet(M)).waiting.some((w) => w.name === 'Ann'), false, 'her place is gone with the turn');
});

storeTest('backend restart during a ready check: the check waits for the player reconnecting, a fresh window once they are back (once)', async (t, store) => {
  const r = await startClawRouter([M]);
  t.teardown(() => r.stop());
  const claw = await new ScriptedClaw(r, M).start();
  t.teardown(() => claw.stop());
  const db = await testDatabase(t, store);
  const cfg = { defaults: { readyWindowSeconds: 4, graceSeconds: 60, moveSeconds: 10, maxQueue: 50 }, presence: { recoveryWindowSeconds: 15 } };
  const first = await startTestBackend(r, db, cfg, false);
  const ann = await Player.withTicket(r, 'pann', 'Ann');
  const bob = await Player.withTicket(r, 'pbob', 'Bob');
  t.teardown(async () => { await ann.disconnect(); await bob.disconnect(); });
  await ann.call(Procedures.requestSlot, [M]);
  await bob.call(Procedures.requestSlot, [M]);
  const asked = await ann.waitFor<GetReady>(isGetReady);

  // The whole system goes down (here: the backend, and Ann's page), and stays down past her deadline.
  await first.stop();
  await ann.disconnect();
  await sleep(Math.max(0, asked.deadline - Date.now()) + 500);
  const backend = await startTestBackend(r, db, cfg, false);
  t.teardown(() => backend.stop());
  await sleep(2000);
  const view = (await backend.coordinator.queueGet(M, true));
  t.match(view.waiting[0], { authid: 'pann', readyDeadline: asked.deadline }, 'her deadline passed while she was away: the check still waits for her');

  const from = ann.messages.length;
  const back = Date.now();
  await ann.connect();
  const fresh = await ann.waitFor<GetReady>(isGetReady, from, 10_000, 'the prompt again');
  t.ok(fresh.deadline >= back + 3000 && fresh.deadline <= Date.now() + 4000 + 50, `a fresh ready window of 4 s from her return (${fresh.deadline - back} ms)`);
  const slot = await ann.session.call(Procedures.requestSlot, [M], { resume: true }) as SlotResult;
  t.equal(slot.readyDeadline, fresh.deadline, 'request_slot says the same deadline');

  // Away and back again: no second push.
  await ann.disconnect();
  await sleep(200);
  const from2 = ann.messages.length;
  await ann.connect();
  const same = await ann.waitFor<GetReady>(isGetReady, from2, 10_000, 'the prompt once more');
  t.equal(same.deadline, fresh.deadline, 'at most once per ready check');
  t.same(await ann.call(Procedures.turnReady, [M]), { machine: M, confirmed: true }, 'and she confirms in time');
  await eventually(async () => claw.turn?.player === 'pann', 10_000, 'Ann plays');
  t.equal((await scalar(backend, sql`SELECT ready_extended FROM queue_entries WHERE authid = ${'pann'}`)), 1, 'recorded in SQLite');
});

storeTest('backend restart mid-turn, the node lost too: the turn is abandoned, the player first, and asked with a full window once back; one who never comes back is timed out at the end of the window', async (t, store) => {
  const r = await startClawRouter([M]);
  t.teardown(() => r.stop());
  let claw = await new ScriptedClaw(r, M).start();
  const db = await testDatabase(t, store);
  const cfg = { defaults: { readyWindowSeconds: 2, graceSeconds: 60, moveSeconds: 30, maxQueue: 50 }, presence: { recoveryWindowSeconds: 8 } };
  const first = await startTestBackend(r, db, cfg, false);
  const ann = await Player.withTicket(r, 'pann', 'Ann');
  const bob = await Player.withTicket(r, 'pbob', 'Bob');
  const cy = await Player.withTicket(r, 'pcy', 'Cy');
  t.teardown(async () => { await ann.disconnect(); await bob.disconnect(); await cy.disconnect(); });
  for (const p of [ann, bob, cy]) await p.call(Procedures.requestSlot, [M]);
  await ann.waitFor(isGetReady);
  await ann.call(Procedures.turnReady, [M]);
  await ann.waitFor(controlOn);

  // `npm start` stopping: the claw nodes first (the turn is abandoned, Ann back to the front), then the backend; pages lose the router.
  await claw.stop();
  await ann.waitFor(controlOff, 0, 10_000, 'abandoned');
  await first.stop();
  await ann.disconnect();
  await bob.disconnect();
  // Timed from before the start: the backend's recovery window runs from its own start, and a
  // loaded machine can take seconds to get the node back too (7121 ms measured from after it once).
  const restarted = Date.now();
  const backend = await startTestBackend(r, db, cfg, false);
  t.teardown(() => backend.stop());
  claw = await new ScriptedClaw(r, M).start();
  t.teardown(() => claw.stop());
  await eventually(async () => (await backend.coordinator.queueGet(M, true)).waiting[0]?.readyDeadline, 10_000, 'Ann asked (while away)');
  // (Players with tickets signed here have no name row: they are shown by authid.)
  t.same((await backend.coordinator.queueGet(M)).waiting.map((w) => w.name), ['pann', 'pbob', 'pcy'], 'Ann first again, the queue as it was');
  await sleep(3000); // past her 2 s window
  t.equal((await backend.coordinator.queueGet(M, true)).waiting[0]?.authid, 'pann', 'still asked: she may be reconnecting');

  const from = ann.messages.length;
  await ann.connect();
  const fresh = await ann.waitFor<GetReady>(isGetReady, from, 10_000, 'the prompt once she is back');
  t.ok(fresh.deadline - Date.now() > 1000, 'with (nearly) a whole ready window');
  await ann.call(Procedures.turnReady, [M]);
  await eventually(async () => claw.turn?.player === 'pann', 10_000, 'Ann gets her turn again');
  t.match((await backend.coordinator.turns(M, 5)).find((x) => x.kind === 'turn' && x.result === 'abandoned'), { authid: 'pann', endReason: 'node_lost' });

  // Bob never comes back: asked after Ann's turn, his check runs out at the end of the recovery window, not before; Cy is next.
  claw.finish('lose');
  await eventually(async () => (await backend.coordinator.queueGet(M, true)).waiting[0]?.readyDeadline !== undefined && (await backend.coordinator.queueGet(M, true)).waiting[0]?.authid === 'pbob', 10_000, 'Bob asked');
  await cy.waitFor(isGetReady, 0, 20_000, 'Cy asked after Bob timed out');
  const at = Date.now() - restarted;
  t.ok(at >= 7500, `not before the recovery window's end (${at} ms after the restart)`);
  t.match((await backend.coordinator.turns(M, 10)).find((x) => x.kind === 'removed'), { authid: 'pbob', reason: 'timeout' }, 'a no-show');
});
