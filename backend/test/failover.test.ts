// Several backends on PostgreSQL (real CLI processes): the procedures are
// served by any of them, each machine is owned by one (its /health says
// which), and when the owner is killed (SIGKILL) another takes the machine
// over within 3 s and carries on from the stored state: a turn in progress
// keeps its end time and ends with the node's result, once; a ready check
// keeps its deadline and runs out at it. Also: races between instances
// (coordinators of two in-process backends on one database, called at once).
import pg from 'pg';
import tap from 'tap';
import { ClawErrors, Procedures, type PlayerMessage, type SlotResult } from '@clawgate/protocol';
import { Player, ScriptedClaw, eventually, sleep, startClawRouter, startTestBackend, storeTest, tempDir, testDatabase } from './helpers.js';
import { Instance } from './instances.js';

// Real processes on a real cluster: ~30 s alone, twice that and more on a loaded box.
tap.setTimeout(240_000);

const M = 'claw-1';
type GetReady = Extract<PlayerMessage, { type: 'get_ready' }>;
type Control = Extract<PlayerMessage, { type: 'control' }>;
const isGetReady = (m: PlayerMessage) => m.type === 'get_ready';

/** A coordinator call's outcome: 'resolved', or the claw.error.* it was refused with. */
async function faultOf(p: Promise<unknown>): Promise<string> {
  try { await p; return 'resolved'; } catch (e) { return (e as { uri?: string }).uri ?? String(e); }
}

async function db(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

storeTest('kill -9 of the owner mid-turn and mid-ready-check: another instance takes over within 3 s and carries on', async (t) => {
  const dir = tempDir(t);
  const database = await testDatabase(t, 'postgres') as { url: string };
  const r = await startClawRouter([M]);
  t.teardown(() => r.stop());
  const claw = await new ScriptedClaw(r, M).start();
  t.teardown(() => claw.stop());
  const cfg = { defaults: { readyWindowSeconds: 20, moveSeconds: 60, graceSeconds: 120, maxQueue: 50 }, presence: { recoveryWindowSeconds: 0 } };
  const a = await Instance.create('a', dir, r.url, database, cfg);
  const b = await Instance.create('b', dir, r.url, database, cfg);
  t.teardown(async () => { await a.kill(); await b.kill(); });
  await a.start();
  await b.start();
  await a.up();
  await b.up();
  const pgc = await db(database.url);
  t.teardown(() => pgc.end());
  const owner = async () => (await pgc.query<{ owner: string | null }>('SELECT owner FROM machine_leases WHERE machine = $1', [M])).rows[0]?.owner;
  const byHealth = async () => {
    const [ha, hb] = await Promise.all([a.health(), b.health()]);
    return { a: ha?.owns ?? [], b: hb?.owns ?? [] };
  };
  await eventually(async () => { const o = await byHealth(); return o.a.includes(M) !== o.b.includes(M); }, 15_000, 'one instance owns the machine');
  const first = (await byHealth()).a.includes(M) ? a : b;
  const other = first === a ? b : a;
  t.equal(await owner(), (await first.health())!.instance, '/health names the owner the store has');
  t.not((await first.health())!.instance, (await other.health())!.instance, 'two instances');

  const ann = await Player.withTicket(r, 'pann', 'Ann');
  const bob = await Player.withTicket(r, 'pbob', 'Bob');
  const cy = await Player.withTicket(r, 'pcy', 'Cy');
  t.teardown(async () => { for (const p of [ann, bob, cy]) await p.disconnect(); });
  // Several calls: round-robin spreads them over both instances; all see one queue.
  t.match(await ann.call(Procedures.requestSlot, [M]), { position: 0 });
  t.match(await bob.call(Procedures.requestSlot, [M]), { position: 1 });
  t.match(await bob.call(Procedures.requestSlot, [M]), { position: 1 }, 'asked again (maybe of the other instance): the same place');
  await ann.waitFor(isGetReady);
  await ann.call(Procedures.turnReady, [M]);
  const on = await ann.waitFor<Control>((m) => m.type === 'control' && m.control, 0, 15_000, 'control');
  await eventually(() => claw.turn?.player === 'pann', 10_000, 'Ann plays');
  const turnId = claw.turn!.turnId!;

  // 1. The owner dies mid-turn.
  const killedAt = Date.now();
  await first.kill();
  await eventually(async () => (await other.health())?.owns.includes(M), 10_000, 'the other instance owns the machine');
  const took = Date.now() - killedAt;
  t.ok(took < 3000, `taken over ${took} ms after the kill (within 3 s)`);
  t.equal(await owner(), (await other.health())!.instance);
  const row = (await pgc.query('SELECT ends_at, result FROM turns WHERE id = $1', [turnId])).rows[0] as { ends_at: string; result: string | null };
  t.equal(Number(row.ends_at), on.type === 'control' && on.control ? on.endsAt : -1, 'the turn keeps its end time');
  t.equal(row.result, null, 'and runs on');
  t.match(await cy.call(Procedures.requestSlot, [M]), { position: 1 }, 'a player\'s next call is served by the survivor');
  // The killed one comes back now (as the standby): a start can take many seconds on a loaded box, longer than a ready window.
  await first.start();
  await first.up();
  const from = ann.messages.length;
  claw.finish('win');
  const off = await ann.waitFor<Control>((m) => m.type === 'control' && !m.control, from, 10_000, 'the result');
  t.equal(off.type === 'control' && !off.control ? off.result : undefined, 'win', 'the node\'s result, from the new owner');
  await sleep(500);
  t.equal(ann.messages.slice(from).filter((m) => m.type === 'control' && !m.control).length, 1, 'told once');
  t.same((await pgc.query('SELECT id::int AS id, result, end_reason FROM turns ORDER BY id')).rows, [{ id: turnId, result: 'win', end_reason: 'node' }], 'one turn, ended once, with the node\'s result');

  // 2. The owner (now the survivor) dies while Bob is being asked: the deadline holds.
  const asked = await bob.waitFor<GetReady>(isGetReady, 0, 15_000, 'Bob asked');
  const killed2 = Date.now();
  const bobFrom = bob.messages.length;
  await other.kill();
  await eventually(async () => (await first.health())?.owns.includes(M), 10_000, 'the restarted instance owns the machine');
  t.ok(Date.now() - killed2 < 3000, `taken over ${Date.now() - killed2} ms after the kill`);
  const again = await bob.waitFor<GetReady>(isGetReady, bobFrom, 10_000, 'Bob told again');
  t.equal(again.deadline, asked.deadline, 'the ready check keeps its deadline');
  t.equal(Number((await pgc.query("SELECT ready_deadline FROM queue_entries WHERE authid = 'pbob'")).rows[0]?.ready_deadline), asked.deadline);
  const removed = await bob.waitFor((m) => m.type === 'removed', bobFrom, 20_000, 'Bob removed');
  const at = Date.now();
  t.match(removed, { reason: 'timeout' });
  t.ok(at >= asked.deadline - 50 && at <= asked.deadline + 3000, `removed at the deadline (${at - asked.deadline} ms after it)`);
  await cy.waitFor(isGetReady, 0, 10_000, 'Cy asked next');
  t.same((await first.stop()).code, 0, 'SIGTERM: clean exit');
}, { stores: ['postgres'] });

storeTest('races between instances on one database: the last place, two ends of one turn, a kick against a ready', async (t) => {
  const database = await testDatabase(t, 'postgres');
  const r = await startClawRouter([M]);
  t.teardown(() => r.stop());
  const claw = await new ScriptedClaw(r, M).start();
  t.teardown(() => claw.stop());
  const cfg = { defaults: { readyWindowSeconds: 30, moveSeconds: 60, graceSeconds: 120, maxQueue: 3 } };
  const one = await startTestBackend(r, database, cfg);
  t.teardown(() => one.stop());
  const two = await startTestBackend(r, database, cfg, false);
  t.teardown(() => two.stop());
  const cs = [one.coordinator, two.coordinator];
  const players = await Promise.all(['pa', 'pb', 'pc', 'pd'].map((a) => Player.withTicket(r, a)));
  t.teardown(async () => { for (const p of players) await p.disconnect(); });

  // Two players ask two instances for the last place at once, many times over.
  for (let round = 0; round < 5; round++) {
    for (const a of ['pa', 'pb', 'pc', 'pd']) await cs[0]!.leave(a, M).catch(() => undefined);
    await cs[0]!.requestSlot('pa', M);
    await cs[1]!.requestSlot('pb', M);
    const outcomes = await Promise.all([faultOf(cs[0]!.requestSlot('pc', M)), faultOf(cs[1]!.requestSlot('pd', M))]);
    t.same([...outcomes].sort(), [ClawErrors.queueFull, 'resolved'].sort(), `round ${round}: exactly one takes the last place`);
    t.equal((await cs[1]!.queueGet(M)).waiting.length + ((await cs[1]!.queueGet(M)).current ? 1 : 0), 3);
  }
  for (const a of ['pa', 'pb', 'pc', 'pd']) await cs[0]!.leave(a, M).catch(() => undefined);

  // A turn ended by two instances at once (the player leaves on one, an operator skips on the other): one end, one result.
  await cs[0]!.requestSlot('pa', M);
  await cs[1]!.requestSlot('pb', M);
  await eventually(async () => (await cs[0]!.queueGet(M, true)).waiting[0]?.readyDeadline, 10_000, 'pa asked');
  await cs[1]!.ready('pa', M);
  await eventually(() => claw.turn?.player === 'pa', 10_000, 'pa plays');
  const ends = await Promise.all([faultOf(cs[0]!.leave('pa', M)), faultOf(cs[1]!.skip(M, 'operator'))]);
  t.ok(ends.includes('resolved'), `one of them ended it (${ends.join(', ')})`);
  const turns = await cs[0]!.turns(M, 10);
  t.equal(turns.filter((x) => x.kind === 'turn').length, 1, 'one turn');
  t.match(turns.find((x) => x.kind === 'turn'), { authid: 'pa', result: 'skipped' }, 'ended once');
  await eventually(() => claw.ends.length >= 1, 10_000, 'the node told');
  await sleep(300);
  t.same(claw.ends, ['skipped'], 'end_turn called once');

  // A kick against a ready, at once on two instances: either the turn starts and the kick ends it, or the kick wins; never a turn for a removed player.
  await eventually(async () => (await cs[0]!.queueGet(M, true)).waiting[0]?.readyDeadline, 10_000, 'pb asked');
  const [kick, ready] = await Promise.all([faultOf(cs[0]!.kick(M, 'pb', 'operator')), faultOf(cs[1]!.ready('pb', M))]);
  t.equal(kick, 'resolved', 'the kick goes through');
  t.ok(ready === 'resolved' || ready === ClawErrors.notInQueue, `the ready: ${ready}`);
  await sleep(500);
  t.equal((await cs[1]!.queueGet(M, true)).current, null, 'nobody plays');
  t.notOk(claw.turn, 'the node runs no turn');
  const rows = await cs[0]!.turns(M, 10);
  t.ok(rows.filter((x) => x.kind === 'turn').every((x) => x.result !== null), 'every turn has a result');
  t.ok(rows.some((x) => x.kind === 'removed' && x.authid === 'pb' && x.reason === 'kicked'), 'the kick is recorded');
}, { stores: ['postgres'] });

storeTest('a single SQLite backend owns every machine and says so; a second one on the same file is refused', async (t) => {
  const database = await testDatabase(t, 'sqlite');
  const r = await startClawRouter([M, 'claw-2']);
  t.teardown(() => r.stop());
  for (const m of [M, 'claw-2']) { const c = await new ScriptedClaw(r, m).start(); t.teardown(() => c.stop()); }
  const one = await startTestBackend(r, database, { http: { port: 0 } });
  t.teardown(() => one.stop());
  await eventually(() => one.health().owns.length === 2, 10_000, 'owns both machines');
  const res = await fetch(`http://127.0.0.1:${one.httpPort}/health`);
  t.equal(res.status, 200);
  t.match(await res.json(), { status: 'ok', store: 'sqlite', owns: [M, 'claw-2'] });
  const mounted = await fetch(`${r.http}/api/backend/health`);
  t.match(await mounted.json(), { status: 'ok', owns: [M, 'claw-2'] }, 'the same data where the backend is mounted on the router');
  await t.rejects(startTestBackend(r, database, {}, false), /in use by another clawgate-backend/);
  const z = await Player.withTicket(r, 'pz');
  t.teardown(() => z.disconnect());
  const slot = await z.call(Procedures.requestSlot, [M]) as SlotResult;
  t.equal(slot.position, 0, 'the first backend still serves');
}, { stores: ['sqlite'] });
