// Game integrity: turns, queue entries and node events are matched by authid
// and turn id, never by display name. The attack from issue 13 (rename
// mid-turn, then drop) end to end with the real router, the real backend and
// a real claw node on the simulated driver; then stale and forged node events
// for other turns, an old node without turn ids, and a node that says
// `ready` without reporting the turn's end.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startClawNode } from '@clawgate/claw-node';
import { Procedures, type QueueSnapshot, type TurnResult } from '@clawgate/protocol';
import { Player, ScriptedClaw, eventually, setup, sleep, startClawRouter, startTestBackend, tempDir, type ClawKey, storeTest, testDatabase } from './helpers.js';

const M = 'claw-1';

/** The key file a claw node reads: the Ed25519 seed, hex. */
function keyFile(dir: string, key: ClawKey): string {
  const seed = Buffer.from(key.privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const file = join(dir, `${M}.key`);
  writeFileSync(file, seed.toString('hex'));
  chmodSync(file, 0o600);
  return file;
}

const control = (on: boolean) => (m: { type: string }) => m.type === 'control' && (m as unknown as { control: boolean }).control === on;

storeTest('rename mid-turn, then drop: the turn ends normally, the player behind is asked next, nothing is abandoned', async (t, store) => {
  const dir = tempDir(t);
  const r = await startClawRouter([M]);
  t.teardown(() => r.stop());
  // A real node: simulated cabinet, fast drop cycle; the turn ends by itself after moveSeconds.
  const node = await startClawNode({
    router: { url: r.url, realm: 'claw', auth: 'cryptosign' },
    machine: M, key: keyFile(dir, r.keys[M]!), driver: 'simulated', logLevel: 'silent',
    timings: { coinPulseMs: 50, coinGapMs: 100, dropPulseMs: 50, dropGapMs: 100, dropCycleSeconds: 0.5, prizeWindowSeconds: 0.3, prizeDebounceMs: 10 },
    simulator: { seed: 5, speed: 1, lowerMs: 100, grabMs: 50, raiseMs: 100, releaseMs: 50, prizePulseMs: 50, maxGrabProbability: 0 },
    reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
  });
  t.teardown(() => node.stop());
  const db = await testDatabase(t, store);
  const backend = await startTestBackend(r, db, { defaults: { moveSeconds: 1, readyWindowSeconds: 10, graceSeconds: 30, maxQueue: 50 } });
  t.teardown(() => backend.stop());
  await eventually(async () => (await backend.coordinator.machines()).find((m) => m.machine === M)?.state === 'ready', 15_000, 'the node is ready');

  const cheater = await Player.join(r, 'Cheater');
  const honest = await Player.join(r, 'Honest');
  t.teardown(async () => { await cheater.disconnect(); await honest.disconnect(); });
  await cheater.call(Procedures.requestSlot, [M]);
  await honest.call(Procedures.requestSlot, [M]);
  await cheater.waitFor((m) => m.type === 'get_ready');
  await cheater.call(Procedures.turnReady, [M]);
  await cheater.waitFor(control(true));

  // The attack: rename with the cookie (same authid, new name) during the turn, then drop.
  const res = await fetch(`${r.http}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: cheater.cookie }, body: JSON.stringify({ name: 'Renamed' }) });
  t.equal(((await res.json()) as { authid: string }).authid, cheater.authid, 'the rename kept the authid');
  const snap = (await backend.coordinator.queueGet(M, true));
  t.equal(snap.current?.name, 'Cheater', 'the running turn keeps the name it started with');
  t.same(snap.waiting.map((w) => w.name), ['Honest']);
  await cheater.disconnect();

  // The node ends the turn by itself (auto-drop, no prize): turn_ended under the old name, with authid and turn id.
  await honest.waitFor((m) => m.type === 'get_ready', 0, 20_000, 'the player behind is asked next');
  const turns = (await backend.coordinator.turns(M, 10));
  t.equal(turns.length, 1, 'one turn so far');
  t.match(turns[0], { authid: cheater.authid, name: 'Cheater', result: 'lose', endedBy: null }, 'the node\'s result is recorded');
  t.notOk(turns.some((x) => x.result === 'abandoned'), 'no turn abandoned');
  t.same((await backend.coordinator.queueGet(M, true)).waiting.map((w) => w.authid), [honest.authid], 'the cheater is out of the queue, not back at the front');

  // The honest player's turn runs normally.
  await honest.call(Procedures.turnReady, [M]);
  await honest.waitFor(control(true));
  await honest.waitFor(control(false), 0, 20_000, 'the honest turn ends');
  t.same((await backend.coordinator.turns(M, 10)).map((x) => [x.authid, x.result]), [[honest.authid, 'lose'], [cheater.authid, 'lose']]);
});

storeTest('stale and forged node events for other turns are ignored; the turn in progress is never ended or abandoned by them', async (t, store) => {
  const { r, backend, claws, player } = await setup(t, [M], { store });
  const claw = claws[M]!;
  const a = await player('Ann');
  const b = await player('Ben');
  await a.call(Procedures.requestSlot, [M]);
  await b.call(Procedures.requestSlot, [M]);
  await a.waitFor((m) => m.type === 'get_ready');
  await a.call(Procedures.turnReady, [M]);
  await a.waitFor(control(true));
  const turn = claw.turn!.turnId!;
  t.ok(turn > 0, 'start_turn carried the turn id');
  const ended = (result: TurnResult, extra: Record<string, unknown>) => claw.event({ type: 'turn_ended', player: 'Ann', result, ...extra });

  await ended('win', { turn: turn + 100, authid: a.authid }); // a turn that is not this one
  await ended('abandoned', { turn: turn + 1, authid: b.authid }); // the next turn id, not given yet
  await ended('win', { turn, authid: b.authid }); // this turn id, someone else's authid
  await ended('abandoned', { authid: b.authid }); // no turn id, someone else's authid
  await claw.status('controlled', 'Ben', { authid: b.authid, turn: turn + 100 }); // a status naming another turn
  await sleep(300);
  t.equal(a.messages.filter(control(false)).length, 0, 'Ann was told nothing');
  t.match((await backend.coordinator.queueGet(M, true)).current, { authid: a.authid }, 'Ann still plays');
  t.equal((await backend.coordinator.turns(M, 1))[0]!.result, null, 'no result recorded');
  t.same((await backend.coordinator.queueGet(M, true)).waiting.map((w) => w.authid), [b.authid]);

  claw.finish('win');
  const end = await a.waitFor(control(false));
  t.equal((end as { result: string }).result, 'win', 'the real turn_ended (this turn id, this authid) ends it');
  await b.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'Ben is asked next');
  t.same((await backend.coordinator.turns(M, 5)).map((x) => x.result), ['win']);

  // During Ben's turn, a late copy of Ann's turn_ended (her turn id) is stale: Ben plays on.
  await b.call(Procedures.turnReady, [M]);
  await b.waitFor(control(true));
  t.equal(claw.turn?.turnId, turn + 1, 'Ben\'s turn has the next id');
  await ended('abandoned', { turn, authid: a.authid });
  await ended('abandoned', { player: a.authid }); // an old node naming Ann by authid
  await sleep(300);
  t.equal(b.messages.filter(control(false)).length, 0, 'Ben was told nothing');
  t.match((await backend.coordinator.queueGet(M, true)).current, { authid: b.authid });
  claw.finish('lose');
  t.equal(((await b.waitFor(control(false))) as { result: string }).result, 'lose');
  t.same((await backend.coordinator.turns(M, 5)).map((x) => x.result), ['lose', 'win'], 'no turn abandoned');
  void r;
});

storeTest('an old node without turn ids: its turn_ended under the old name still ends the renamed player\'s turn with the node\'s result', async (t, store) => {
  const { r, backend, claws, player } = await setup(t, [M], { store, claw: { legacy: true } });
  const claw = claws[M]!;
  const cheater = await player('Cheater');
  const honest = await player('Honest');
  await cheater.call(Procedures.requestSlot, [M]);
  await honest.call(Procedures.requestSlot, [M]);
  await cheater.waitFor((m) => m.type === 'get_ready');
  await cheater.call(Procedures.turnReady, [M]);
  await cheater.waitFor(control(true));
  const res = await fetch(`${r.http}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: cheater.cookie }, body: JSON.stringify({ name: 'Renamed' }) });
  t.equal(res.status, 200);
  await cheater.disconnect();
  claw.finish('lose'); // {type: turn_ended, player: "Cheater", result: "lose"} (no authid, no turn), then `ready`
  await honest.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'the player behind is asked next');
  t.match((await backend.coordinator.turns(M, 1))[0], { authid: cheater.authid, result: 'lose' });
  t.same((await backend.coordinator.queueGet(M, true)).waiting.map((w) => w.authid), [honest.authid], 'the cheater is not back at the front');
});

storeTest('a node that says ready without reporting the turn\'s end: the turn ends `timeout`, the player is not put back; a node that restarts still abandons it', async (t, store) => {
  const { r, backend, claws, player } = await setup(t, [M], { store });
  const claw = claws[M]!;
  const a = await player('Ann');
  const b = await player('Ben');
  await a.call(Procedures.requestSlot, [M]);
  await b.call(Procedures.requestSlot, [M]);
  await a.waitFor((m) => m.type === 'get_ready');
  await a.call(Procedures.turnReady, [M]);
  await a.waitFor(control(true));
  claw.turn = undefined; // the node forgets the turn and says nothing about it
  await claw.status('ready');
  const end = await a.waitFor(control(false));
  t.equal((end as { result: string }).result, 'timeout');
  await b.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'Ben is asked next');
  t.same((await backend.coordinator.queueGet(M, true)).waiting.map((w) => w.authid), [b.authid], 'Ann is not back at the front');

  // A restart (a new node session) mid-turn is still a lost turn: abandoned, the player back at the front.
  await b.call(Procedures.turnReady, [M]);
  await b.waitFor(control(true));
  const from = b.messages.length;
  await claw.stop();
  const lost = await b.waitFor(control(false), from);
  t.equal((lost as { result: string }).result, 'abandoned');
  const back = await new ScriptedClaw(r, M).start();
  t.teardown(() => back.stop());
  await b.waitFor((m) => m.type === 'get_ready', from, 10_000, 'Ben is asked again when the node is back');
  const snap = await a.call(Procedures.queueGet, [M]) as QueueSnapshot;
  t.equal(snap.waiting.length, 1);
});
