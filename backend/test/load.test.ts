// 200 players queueing on 3 machines: every player sees a correct, strictly
// improving position, gets exactly one turn, in the order they queued.
import { sql } from 'kysely';
import { Procedures, type SlotResult, type TurnResult } from '@clawgate/protocol';
import { LEAN, Player, connectOperator, eventually, setup, storeTest, scalar } from './helpers.js';

const MACHINES = ['claw-a', 'claw-b', 'claw-c'];
// 60 in CI's lean pass (Node 20; helpers.ts LEAN): the same checks, a third of the crowd.
const PLAYERS = LEAN ? 60 : 200;

storeTest(`${PLAYERS} players on 3 machines`, async (t, store) => {
  const result = (n: number): TurnResult => (n % 2 ? 'win' : 'lose');
  const { r, player, backend, claws } = await setup(t, MACHINES, {
    store,
    backend: { defaults: { maxQueue: 100, readyWindowSeconds: 60, moveSeconds: 30, graceSeconds: 60 } },
    claw: { autoResult: result, resultAfterMs: 2 },
  });
  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  // Everyone queues while the machines are paused, so a join's position is its place in line.
  for (const m of MACHINES) await op.session.call(Procedures.adminPause, [m]);

  const players: Player[] = [];
  for (let i = 0; i < PLAYERS; i += 20) {
    players.push(...await Promise.all(Array.from({ length: Math.min(20, PLAYERS - i) }, (_, k) => player(`p${i + k}`))));
  }
  const machineOf = (i: number) => MACHINES[i % MACHINES.length]!;
  // Each player confirms the moment they are asked.
  players.forEach((p, i) => {
    p.session.subscribe(`claw.player.${p.authid}`, (args: unknown[] | undefined) => {
      const m = args?.[0] as { type: string };
      if (m.type === 'get_ready') p.call(Procedures.turnReady, [machineOf(i)]).catch(() => {});
    });
  });
  const slots: SlotResult[] = [];
  for (let i = 0; i < PLAYERS; i++) slots.push(await players[i]!.call(Procedures.requestSlot, [machineOf(i)]) as SlotResult);
  const expectedPos = (i: number) => Math.floor(i / MACHINES.length);
  t.same(slots.map((s) => s.position), players.map((_, i) => expectedPos(i)), 'join positions are the order of joining');

  for (const m of MACHINES) await op.session.call(Procedures.adminResume, [m]);
  await eventually(async () => players.every((p) => p.messages.some((x) => x.type === 'control' && !(x as { control: boolean }).control)), 80_000, 'every player played');

  let strictlyImproving = 0;
  let correctStart = 0;
  players.forEach((p, i) => {
    const pos = p.positions(machineOf(i));
    // Only the front ever leaves here, one at a time, so a correct queue tells each player
    // every place from theirs down to 0, once each: strictly improving, none skipped, none repeated.
    const expected = Array.from({ length: expectedPos(i) + 1 }, (_, k) => expectedPos(i) - k);
    const ok = JSON.stringify(pos) === JSON.stringify(expected);
    if (ok) strictlyImproving++;
    else t.fail(`${p.name}: positions ${JSON.stringify(pos)} (expected ${JSON.stringify(expected)})`);
    const order = p.messages.map((x) => x.type === 'control' ? `control:${(x as { control: boolean }).control}` : x.type);
    const firstReady = order.indexOf('get_ready');
    if (firstReady >= 0 && order.indexOf('control:true') > firstReady && order.indexOf('control:false') > order.indexOf('control:true')) correctStart++;
    else t.fail(`${p.name}: message order ${order.join(',')}`);
  });
  t.equal(strictlyImproving, PLAYERS, 'every player saw each position from their place down to 0, strictly improving');
  t.equal(correctStart, PLAYERS, 'get_ready, then control, then the result');

  for (const m of MACHINES) {
    const turns = (await backend.coordinator.turns(m, 500)).reverse();
    const expected = players.filter((_, i) => machineOf(i) === m).map((p) => p.name);
    t.same(turns.map((x) => x.name), expected, `${m}: one turn each, first come first served`);
    t.equal(claws[m]!.starts.length, expected.length);
  }
  t.equal((await scalar(backend, sql`SELECT COUNT(*) FROM queue_entries`)), 0, 'every queue empty');
});
