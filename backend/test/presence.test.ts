// Presence over real sockets: grace period keep and expiry, a reload with
// the cookie, a player lost mid-turn, a claw lost mid-turn.
import { Procedures, type QueueSnapshot, type SlotResult } from '@clawgate/protocol';
import { Player, ScriptedClaw, eventually, setup, sleep, storeTest } from './helpers.js';

const M = 'claw-1';
const quick = { defaults: { graceSeconds: 1, readyWindowSeconds: 30, moveSeconds: 5, maxQueue: 50 } };

storeTest('grace period: a player back in time (reload with the cookie) keeps the place; one who is not is removed', async (t, store) => {
  const { player, r, backend } = await setup(t, [M], { store, backend: { defaults: { graceSeconds: 3, readyWindowSeconds: 30, moveSeconds: 5, maxQueue: 50 } } });
  const front = await player('Front');
  const keeper = await player('Keeper');
  const leaver = await player('Leaver');
  const last = await player('Last');
  for (const p of [front, keeper, leaver, last]) await p.call(Procedures.requestSlot, [M]);

  // Keeper reloads the page: POST /api/session with the cookie gives the same authid back.
  await keeper.disconnect();
  await leaver.disconnect();
  const again = await Player.join(r, 'Keeper', keeper.cookie);
  t.teardown(() => again.disconnect());
  t.equal(again.authid, keeper.authid, 'same authid after a reload');
  const pos = await again.waitFor((m) => m.type === 'position', 0, 10_000, 'position republished on return');
  t.equal((pos as { position: number }).position, 1, 'still second');
  t.match(await again.call(Procedures.requestSlot, [M]), { position: 1 }, 'request_slot: same slot');

  // Leaver does not come back: removed after the grace period; Last moves up.
  await eventually(async () => !(await backend.coordinator.queueGet(M)).waiting.some((w) => w.name === 'Leaver'), 10_000, 'Leaver removed');
  await last.waitFor((m) => m.type === 'position' && (m as { position: number }).position === 2, 0, 10_000, 'Last moves up');
  t.same((await backend.coordinator.queueGet(M)).waiting.map((w) => w.name), ['Front', 'Keeper', 'Last']);
  await sleep(3500);
  t.same((await backend.coordinator.queueGet(M)).waiting.map((w) => w.name), ['Front', 'Keeper', 'Last'], 'the returned player is not removed later');
});

storeTest('grace expiry of the player being asked to get ready', async (t, store) => {
  const { player, backend } = await setup(t, [M], { store, backend: quick });
  const a = await player('A');
  const b = await player('B');
  await a.call(Procedures.requestSlot, [M]);
  await b.call(Procedures.requestSlot, [M]);
  await a.waitFor((m) => m.type === 'get_ready');
  await a.disconnect();
  await b.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'B asked once A is gone for good');
  t.same((await backend.coordinator.queueGet(M)).waiting.map((w) => w.name), ['B']);
});

storeTest('player lost mid-turn: the node releases control at once, the turn goes on, and the player may come back into it', async (t, store) => {
  const { player, claws, backend } = await setup(t, [M], { store, backend: quick });
  const claw = claws[M]!;
  const p = await player('Runner');
  const q = await player('Next');
  await p.call(Procedures.requestSlot, [M]);
  await q.call(Procedures.requestSlot, [M]);
  await p.waitFor((m) => m.type === 'get_ready');
  await p.call(Procedures.turnReady, [M]);
  await p.waitFor((m) => m.type === 'control');
  await p.disconnect();
  await eventually(async () => claw.releases === 1, 10_000, 'release called');
  t.equal(claw.ends.length, 0, 'no end_turn: the turn is not ended');
  t.ok(claw.turn, 'the node still runs the turn');
  await sleep(1500); // past the grace period: a player in control is not removed by it
  t.equal((await backend.coordinator.queueGet(M)).current?.name, 'Runner', 'still the current turn');

  await p.connect();
  const back = await p.waitFor((m) => m.type === 'control' && (m as { control: boolean }).control, 0, 10_000, 'control republished');
  t.ok((back as { endsAt: number }).endsAt > 0);
  claw.finish('lose');
  const end = await p.waitFor((m) => m.type === 'control' && !(m as { control: boolean }).control);
  t.equal((end as { result: string }).result, 'lose', 'the turn ended normally, by the node');
  await q.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'next player asked');
});

storeTest('claw lost mid-turn: the turn is abandoned and the player goes back to the front', async (t, store) => {
  const { player, claws, backend, r } = await setup(t, [M], { store, backend: quick });
  const claw = claws[M]!;
  const p = await player('Unlucky');
  const q = await player('Second');
  await p.call(Procedures.requestSlot, [M]);
  await q.call(Procedures.requestSlot, [M]);
  await p.waitFor((m) => m.type === 'get_ready');
  await p.call(Procedures.turnReady, [M]);
  await p.waitFor((m) => m.type === 'control');
  const from = p.messages.length;
  await claw.stop();
  const end = await p.waitFor((m) => m.type === 'control' && !(m as { control: boolean }).control, from);
  t.equal((end as { result: string }).result, 'abandoned');
  const pos = await p.waitFor((m) => m.type === 'position', from);
  t.equal((pos as { position: number }).position, 0, 'back at the front');
  await eventually(async () => (await backend.coordinator.machines())[0]?.state === 'offline', 10_000, 'machine offline');
  const snap = await q.call(Procedures.queueGet, [M]) as QueueSnapshot;
  t.same(snap.waiting.map((w) => w.name), ['Unlucky', 'Second']);
  t.equal(snap.state, 'offline');
  t.match((await backend.coordinator.turns(M, 1))[0], { name: 'Unlucky', result: 'abandoned' });

  // The node comes back: the same player is asked first.
  const back = await new ScriptedClaw(r, M).start();
  t.teardown(() => back.stop());
  await p.waitFor((m) => m.type === 'get_ready', from, 10_000, 'asked again when the node is back');
  t.match(await q.call(Procedures.requestSlot, [M]) as SlotResult, { position: 1 });
});
