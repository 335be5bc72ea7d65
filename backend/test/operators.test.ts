// Issue 14, what operators see and do: kick with a block against rejoining
// (claw.error.blocked, bounded storage), no-shows, kicks and grace expiries
// in claw.admin.turns (bounded), the pause flag during a turn, who is being
// asked (readyDeadline), honest wait estimates, and the log line of a claw
// node that stops cleanly (info) or is lost (warn).
import { sql } from 'kysely';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startClawNode } from '@clawgate/claw-node';
import { ClawErrors, Procedures, type AdminTurnRow, type MachineSummary, type PlayerMessage, type QueueSnapshot, type SlotResult } from '@clawgate/protocol';
import { startBackend } from '../src/service.js';
import { ScriptedClaw, backendConfig, connectOperator, errorOf, eventually, setup, sleep, startClawRouter, tempDir, type ClawKey, storeTest, testDatabase, scalar, column } from './helpers.js';

const M = 'claw-1';
const M2 = 'claw-2';
const calm = { readyWindowSeconds: 30, moveSeconds: 30, graceSeconds: 30, maxQueue: 50 };
type Removed = Extract<PlayerMessage, { type: 'removed' }>;

/** The error of a rejected call, with its kwargs. */
async function refusal(p: Promise<unknown>): Promise<{ error: string; args: unknown[]; kwargs: Record<string, unknown> }> {
  try { await p; } catch (e) { return e as { error: string; args: unknown[]; kwargs: Record<string, unknown> }; }
  throw new Error('the call was not refused');
}

storeTest('kick with a block: the player is told until when, request_slot says claw.error.blocked until then, on that machine only', async (t, store) => {
  const { player, r, backend } = await setup(t, [M, M2], { store, backend: { defaults: calm, kicks: { maxBlockMinutes: 60, maxBlocks: 2 } } });
  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  const [ann, bob, cy, dee] = [await player('Ann'), await player('Bob'), await player('Cy'), await player('Dee')];
  for (const p of [ann, bob, cy, dee]) await p.call(Procedures.requestSlot, [M]);

  for (const bad of [-1, 'ten', 61, { minutes: 5 }]) {
    t.equal(await errorOf(op.session.call(Procedures.adminKick, [M, bob.authid], { blockMinutes: bad })), ClawErrors.invalidArgument, `blockMinutes ${JSON.stringify(bad)} refused`);
  }
  t.equal((await backend.coordinator.queueGet(M)).waiting.length, 4, 'refused kicks changed nothing');

  const before = Date.now();
  const kicked = await op.session.call(Procedures.adminKick, [M, bob.authid], { blockMinutes: 10 }) as { kicked: string; blockedUntil: number };
  t.equal(kicked.kicked, 'Bob');
  t.ok(kicked.blockedUntil >= before + 600_000 && kicked.blockedUntil <= Date.now() + 600_000, 'blocked for 10 minutes');
  const told = await bob.waitFor<Removed>((m) => m.type === 'removed');
  t.same(told, { type: 'removed', machine: M, reason: 'kicked', blockedUntil: kicked.blockedUntil }, 'the kicked player is told until when');
  const no = await refusal(bob.call(Procedures.requestSlot, [M]));
  t.equal(no.error, ClawErrors.blocked, 'rejoining is refused with a clear error');
  t.same(no.kwargs, { until: kicked.blockedUntil }, 'which says until when');
  t.match(String(no.args[0]), /an operator removed you from the queue of claw-1; you can join it again at/);
  t.match(await bob.call(Procedures.requestSlot, [M2]) as SlotResult, { machine: M2, position: 0 }, 'other machines are not blocked');

  // A short block runs out.
  await op.session.call(Procedures.adminKick, [M, cy.authid], { blockMinutes: 0.02 });
  t.equal(await errorOf(cy.call(Procedures.requestSlot, [M])), ClawErrors.blocked);
  await sleep(1400);
  t.match(await cy.call(Procedures.requestSlot, [M]) as SlotResult, { machine: M }, 'after the block: joins again');
  // Without a block, a kicked player may rejoin at once (as before).
  await op.session.call(Procedures.adminKick, [M, ann.authid]);
  t.match(await ann.call(Procedures.requestSlot, [M]) as SlotResult, { machine: M }, 'no block: back at once');

  // Bounded: at most kicks.maxBlocks (2) blocks are kept, the ones ending soonest go first.
  await op.session.call(Procedures.adminKick, [M, dee.authid], { blockMinutes: 30 });
  await op.session.call(Procedures.adminKick, [M, ann.authid], { blockMinutes: 20 });
  t.equal((await scalar(backend, sql`SELECT COUNT(*) FROM blocks`)), 2, 'two blocks kept');
  t.same((await column(backend, sql`SELECT authid FROM blocks ORDER BY until`)), [ann.authid, dee.authid], 'the 10-minute block (Bob) went first');
});

storeTest('kicking the player in control with a block ends the turn (skipped, reason kick) and records the kick', async (t, store) => {
  const { player, r, claws, backend } = await setup(t, [M], { store, backend: { defaults: calm } });
  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  const fay = await player('Fay');
  await fay.call(Procedures.requestSlot, [M]);
  await fay.waitFor((m) => m.type === 'get_ready');
  await fay.call(Procedures.turnReady, [M]);
  await eventually(async () => claws[M]!.turn?.player === fay.authid, 10_000, 'Fay plays');
  const k = await op.session.call(Procedures.adminKick, [M, fay.authid], { blockMinutes: 5 }) as { blockedUntil: number };
  await fay.waitFor((m) => m.type === 'control' && !m.control);
  t.same(await fay.waitFor<Removed>((m) => m.type === 'removed'), { type: 'removed', machine: M, reason: 'kicked', blockedUntil: k.blockedUntil });
  t.same(claws[M]!.ends, ['skipped'], 'the node was told');
  const rows = await op.session.call(Procedures.adminTurns, [M]) as AdminTurnRow[];
  t.match(rows.find((x) => x.kind === 'turn'), { name: 'Fay', result: 'skipped', endedBy: 'operator', endReason: 'kick' });
  t.match(rows.find((x) => x.kind === 'removed'), { name: 'Fay', reason: 'kicked', endedBy: 'operator', blockedUntil: k.blockedUntil });
  t.equal(await errorOf(fay.call(Procedures.requestSlot, [M])), ClawErrors.blocked);
  t.equal((await backend.coordinator.queueGet(M)).current, null);
});

storeTest('claw.admin.turns: no-shows, kicks and grace expiries beside the turns, newest first; bounded', async (t, store) => {
  const { player, r, claws } = await setup(t, [M], {
    store,
    backend: { defaults: { readyWindowSeconds: 1, moveSeconds: 30, graceSeconds: 1, maxQueue: 50 }, history: { maxRemovals: 3 } },
  });
  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  await op.session.call(Procedures.adminPause, [M]);
  const [slow, kicked, away, late, gus] = [await player('Slow'), await player('Kicked'), await player('Away'), await player('Late'), await player('Gus')];
  for (const p of [slow, kicked, away, gus]) await p.call(Procedures.requestSlot, [M]);
  await op.session.call(Procedures.adminKick, [M, kicked.authid]);
  await away.disconnect();
  // Gus confirms the moment he is asked; Slow never does.
  await gus.session.subscribe(`claw.player.${gus.authid}`, (args: unknown[] | undefined) => {
    if ((args?.[0] as { type: string }).type === 'get_ready') gus.call(Procedures.turnReady, [M]).catch(() => {});
  });
  await op.session.call(Procedures.adminResume, [M]);
  await eventually(async () => claws[M]!.turn?.player === gus.authid, 15_000, 'Gus plays after the no-show (and Away expired)');
  claws[M]!.finish('win');
  await gus.waitFor((m) => m.type === 'control' && !m.control);

  const rows = await op.session.call(Procedures.adminTurns, [M], { limit: 10 }) as AdminTurnRow[];
  const shown = rows.map((x) => x.kind === 'turn' ? `${x.name}: ${x.result}` : `${x.name}: ${x.reason}`);
  t.same(new Set(shown), new Set(['Gus: win', 'Slow: timeout', 'Kicked: kicked', 'Away: grace_expired']), `every kind listed (${shown.join(', ')})`);
  t.equal(shown[0], 'Gus: win', 'newest first');
  const slowRow = rows.find((x) => x.name === 'Slow')!;
  t.match(slowRow, { kind: 'removed', reason: 'timeout', result: null, startedAt: null, endedBy: null });
  t.ok(typeof slowRow.endedAt === 'number', 'with when');
  t.match(rows.find((x) => x.name === 'Gus'), { kind: 'turn', endReason: 'node' });
  const times = rows.map((x) => x.endedAt ?? x.startedAt!);
  t.same([...times].sort((a, b) => b - a), times, 'ordered by time, newest first');

  // Bounded: history.maxRemovals (3): a fourth removal drops the oldest.
  await late.call(Procedures.requestSlot, [M]);
  await op.session.call(Procedures.adminKick, [M, late.authid]);
  const after = await op.session.call(Procedures.adminTurns, [M], { limit: 10 }) as AdminTurnRow[];
  t.equal(after.filter((x) => x.kind === 'removed').length, 3, 'at most 3 removals kept');
  t.ok(after.some((x) => x.name === 'Late'), 'the newest kept');
});

storeTest('the snapshot and the machine list say paused also during a turn; who is asked, until when; wait estimates', async (t, store) => {
  const { player, r, claws } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 20, moveSeconds: 30, graceSeconds: 30, maxQueue: 50 } } });
  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  const [ann, bob, cy] = [await player('Ann'), await player('Bob'), await player('Cy')];
  for (const p of [ann, bob, cy]) await p.call(Procedures.requestSlot, [M]);
  const asked = await ann.waitFor<Extract<PlayerMessage, { type: 'get_ready' }>>((m) => m.type === 'get_ready');
  let snap = await bob.call(Procedures.queueGet, [M]) as QueueSnapshot;
  t.equal(snap.waiting[0]!.readyDeadline, asked.deadline, 'the entry being asked carries its deadline');
  t.notOk('readyDeadline' in snap.waiting[1]!, 'the others do not');
  const bobSlot = await bob.call(Procedures.requestSlot, [M]) as SlotResult;
  const cySlot = await cy.call(Procedures.requestSlot, [M]) as SlotResult;
  t.ok(bobSlot.etaAt! > Date.now() && cySlot.etaAt! > bobSlot.etaAt!, 'wait estimates grow with the place in line');
  t.ok(cySlot.etaAt! - bobSlot.etaAt! >= 30_000, 'one more player ahead: at least a turn more (30 s move phase)');
  t.equal((await bob.call(Procedures.requestSlot, [M]) as SlotResult).etaAt, bobSlot.etaAt, 'the estimate holds still while nothing changes');
  t.equal(snap.waiting[1]!.etaAt, bobSlot.etaAt, 'the snapshot has the same estimate');

  await ann.call(Procedures.turnReady, [M]);
  await eventually(async () => claws[M]!.turn?.player === ann.authid, 10_000, 'Ann plays');
  await op.session.call(Procedures.adminPause, [M]);
  snap = await bob.call(Procedures.queueGet, [M]) as QueueSnapshot;
  t.equal(snap.state, 'controlled', 'state stays the node\'s during the turn');
  t.equal(snap.paused, true, 'paused says the pause');
  t.ok(snap.waiting.every((w) => w.etaAt === undefined), 'no estimate while paused');
  t.notOk('etaAt' in (await bob.call(Procedures.requestSlot, [M]) as SlotResult), 'nor in request_slot');
  const list = await op.session.call(Procedures.machinesList) as MachineSummary[];
  t.match(list, [{ machine: M, state: 'controlled', paused: true }], 'the machine list too');
  await op.session.call(Procedures.adminResume, [M]);
  snap = await bob.call(Procedures.queueGet, [M]) as QueueSnapshot;
  t.equal(snap.paused, false);
  t.ok(snap.waiting[0]!.etaAt! <= asked.deadline + 30_000 + 10_000, 'Bob: at most what is left of the turn and a drop cycle');

  // A player ahead who is away (likely not to confirm) costs their ready window, not a turn.
  await bob.disconnect();
  await sleep(200);
  snap = await cy.call(Procedures.queueGet, [M]) as QueueSnapshot;
  t.ok(snap.waiting[1]!.etaAt! - snap.waiting[0]!.etaAt! <= 20_000 + 100, `Bob away: Cy waits about his ready window longer than him (${snap.waiting[1]!.etaAt! - snap.waiting[0]!.etaAt!} ms)`);
});

/** The key file a claw node reads: the Ed25519 seed, hex. */
function keyFile(dir: string, key: ClawKey): string {
  const file = join(dir, `${M}.key`);
  writeFileSync(file, Buffer.from(key.privateKey.export({ format: 'jwk' }).d!, 'base64url').toString('hex'));
  chmodSync(file, 0o600);
  return file;
}

storeTest('a claw node that stops cleanly is logged at info; one that is lost at warn', async (t, store) => {
  const dir = tempDir(t);
  const r = await startClawRouter([M, M2]);
  t.teardown(() => r.stop());
  const lines: { level: number; msg: string; machine?: string }[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  const db = await testDatabase(t, store);
  const backend = await startBackend(backendConfig(r.url, db, { logLevel: 'info' }), { log: pino({ level: 'info' }, sink) });
  t.teardown(() => backend.stop());
  await backend.ready();
  const node = await startClawNode({
    router: { url: r.url, realm: 'claw', auth: 'cryptosign' }, machine: M, key: keyFile(dir, r.keys[M]!), driver: 'simulated', logLevel: 'silent',
  });
  const lost = await new ScriptedClaw(r, M2).start();
  await eventually(async () => (await backend.coordinator.machines()).every((m) => m.state === 'ready') && (await backend.coordinator.machines()).length === 2, 15_000, 'both nodes ready');

  await node.stop();
  const clean = await eventually(async () => lines.find((l) => l.machine === M && /claw node unregistered/.test(l.msg)), 10_000, 'the clean stop logged');
  t.equal(clean.level, 30, 'a clean stop: info');
  await lost.stop(); // its session just ends: the router's testament says offline, without a reason
  const gone = await eventually(async () => lines.find((l) => l.machine === M2 && /claw node unregistered/.test(l.msg)), 10_000, 'the lost node logged');
  t.equal(gone.level, 40, 'a lost node: warn');
  t.notOk(lines.some((l) => l.machine === M && l.level >= 40), 'nothing at warn for the node that stopped cleanly');
});
