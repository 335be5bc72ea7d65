// Machines as the backend sees them, over real sockets: a machine appears when
// its node registers start_turn (registration meta events) and says `ready`;
// it goes offline on its status (testament) and on session loss;
// claw.machines.list counts spectators with the subscription meta API; the
// retained queue snapshot; ETA from the running average of measured turns.
import { sign } from 'node:crypto';
import { sql } from 'kysely';
import { ClawErrors, Procedures, machineUris, type MachineSummary, type QueueSnapshot, type SlotResult } from '@clawgate/protocol';
import { Player, connectOperator, connectSpectator, errorOf, eventually, open, setup, startClawRouter, startTestBackend, type Opened, storeTest, testDatabase, scalar } from './helpers.js';

const M = 'claw-1';
const N = 'claw-late';

async function list(s: Opened): Promise<MachineSummary[]> {
  return await s.session.call(Procedures.machinesList) as MachineSummary[];
}

storeTest('a node appears on registration, is joinable once ready, goes offline on its testament and on session loss', async (t, store) => {
  const r = await startClawRouter([M, N]);
  t.teardown(() => r.stop());
  const db = await testDatabase(t, store);
  const backend = await startTestBackend(r, db, { defaults: { readyWindowSeconds: 60, graceSeconds: 60, moveSeconds: 5, maxQueue: 50 } });
  t.teardown(() => backend.stop());
  const spec = await connectSpectator(r.url);
  t.teardown(() => spec.close());
  t.same(await list(spec), [], 'no machine before any node');
  const p = await Player.join(r, 'Early');
  t.teardown(() => p.disconnect());
  t.equal(await errorOf(p.call(Procedures.requestSlot, [N])), ClawErrors.noSuchMachine, 'never seen: no such machine');

  // The node logs in and registers start_turn, but has not said `ready` yet.
  const key = r.keys[N]!;
  const uris = machineUris(N);
  const node = await open(r.url, {
    authmethods: ['cryptosign'], authid: N, authextra: { pubkey: key.publicKey },
    onchallenge: (_s: unknown, _m: string, extra: { challenge: string }) => sign(null, Buffer.from(extra.challenge, 'hex'), key.privateKey).toString('hex'),
  });
  let nodeOpen = true;
  t.teardown(() => (nodeOpen ? node.close() : undefined));
  await node.session.call('wamp.session.add_testament', [uris.status, [{ state: 'offline', since: Date.now() }], {}], { publish_options: { retain: true } });
  await node.session.register(uris.startTurn, () => ({ topic: uris.control('x'), endsAt: Date.now() + 5000 }));
  const status = (state: string) => node.session.publish(uris.status, [{ state, since: Date.now() }], {}, { retain: true, acknowledge: true });
  await eventually(async () => (await list(spec)).some((m) => m.machine === N), 10_000, 'listed after registering (meta event)');
  t.match((await list(spec)).find((m) => m.machine === N), { state: 'offline', queueLength: 0 }, 'registered, no status yet: offline');
  t.equal(await errorOf(p.call(Procedures.requestSlot, [N])), ClawErrors.machineOffline, 'not joinable before ready');

  await status('ready');
  await eventually(async () => (await list(spec)).find((m) => m.machine === N)?.state === 'ready', 10_000, 'ready');
  t.match(await p.call(Procedures.requestSlot, [N]), { machine: N, position: 0 });
  await p.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'asked to get ready');

  // What the router's testament publishes, while the registration is still there.
  await status('offline');
  await eventually(async () => (await list(spec)).find((m) => m.machine === N)?.state === 'offline', 10_000, 'offline from the status topic');
  t.same((await backend.coordinator.queueGet(N, true)).waiting.map((w) => w.authid), [p.authid], 'the queued player keeps the place');
  t.equal((await scalar(backend, sql`SELECT state FROM queue_entries WHERE machine = ${N}`)), 'waiting', 'the ready check is called off');
  const asked = p.messages.length;
  await status('ready');
  await p.waitFor((m) => m.type === 'get_ready', asked, 10_000, 'asked again once ready');

  // Session loss: the router publishes the testament and drops the registration.
  await node.close();
  nodeOpen = false;
  await eventually(async () => (await list(spec)).find((m) => m.machine === N)?.state === 'offline', 10_000, 'offline after session loss');
  t.equal(await errorOf(Player.join(r, 'Late').then((q) => { t.teardown(() => q.disconnect()); return q.call(Procedures.requestSlot, [N]); })), ClawErrors.machineOffline, 'no new joins');
  t.match((await list(spec)).find((m) => m.machine === N), { queueLength: 1 }, 'the queue is kept while the node is away');
});

storeTest('claw.machines.list counts spectators (subscription meta API); the retained queue snapshot', async (t, store) => {
  const { r, player } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 60, graceSeconds: 60, moveSeconds: 5, maxQueue: 50 } } });
  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  t.match(await list(op), [{ machine: M, state: 'ready', queueLength: 0, spectators: 0 }], 'nobody watching (the backend\'s own pattern subscription does not count)');

  const watchers: Opened[] = [];
  t.teardown(async () => { for (const w of watchers) await w.close(); });
  for (let i = 0; i < 3; i++) {
    const w = await connectSpectator(r.url);
    watchers.push(w);
    await w.session.subscribe(machineUris(M).status, () => {});
  }
  const watching = await player('Watcher');
  await watching.session.subscribe(machineUris(M).status, () => {});
  await eventually(async () => (await list(op))[0]!.spectators === 4, 10_000, '4 subscribers of the status topic');
  await watchers.pop()!.close();
  await eventually(async () => (await list(op))[0]!.spectators === 3, 10_000, 'one left: 3');

  await op.session.call(Procedures.adminPause, [M]);
  const names = ['A', 'B', 'C'];
  for (const n of names) await (await player(n)).call(Procedures.requestSlot, [M]);
  // A late subscriber gets the snapshot the backend retained on its last change.
  const late = await connectSpectator(r.url);
  t.teardown(() => late.close());
  let retained: QueueSnapshot | undefined;
  await late.session.subscribe(machineUris(M).queue, (args: unknown[] | undefined) => { retained = args?.[0] as QueueSnapshot; }, { get_retained: true });
  await eventually(async () => retained, 10_000, 'retained snapshot');
  t.same(retained, { machine: M, state: 'paused', current: null, waiting: names.map((name, position) => ({ name, position })), paused: true }, 'what claw.queue.get says, no authids (and no wait estimate while paused)');
  t.same(retained, await late.session.call(Procedures.queueGet, [M]));
  t.match(await list(op), [{ machine: M, state: 'paused', queueLength: 3 }]);
});

storeTest('ETA: one planned turn per player ahead, from the running average of measured turns', async (t, store) => {
  const { r, player, backend, claws } = await setup(t, [M], { store, backend: { defaults: { readyWindowSeconds: 60, graceSeconds: 60, moveSeconds: 5, maxQueue: 50 } } });
  const op = await connectOperator(r.url);
  t.teardown(() => op.close());
  await op.session.call(Procedures.adminPause, [M]);
  const [a, b, c] = [await player('A'), await player('B'), await player('C')];
  const slots = [] as SlotResult[];
  for (const p of [a, b, c]) slots.push(await p.call(Procedures.requestSlot, [M]) as SlotResult);
  // Issue 14: each player ahead also takes time to confirm (5 s before any was measured).
  t.same(slots.map((s) => s.etaSeconds), [0, 20, 40], 'before any measured turn: 5 s to confirm + moveSeconds + 10 s per player ahead');
  t.same(c.messages.filter((m) => m.type === 'position').map((m) => (m as { etaSeconds: number }).etaSeconds), [40], 'the position message carries the same ETA');
  t.ok(slots.every((s) => s.etaAt === undefined), 'while paused no time is promised (etaAt absent)');

  await op.session.call(Procedures.adminResume, [M]);
  await a.waitFor((m) => m.type === 'get_ready');
  await a.call(Procedures.turnReady, [M]);
  await eventually(async () => claws[M]!.turn?.player === a.authid, 10_000, 'A playing');
  claws[M]!.finish('lose');
  await b.waitFor((m) => m.type === 'get_ready', 0, 10_000, 'B asked');
  const avg = (await scalar(backend, sql`SELECT avg_turn_ms FROM machines WHERE id = ${M}`)) as number;
  t.ok(avg > 0 && avg < 15_000, `the measured turn replaced the guess (${avg} ms)`);
  const slot = await c.call(Procedures.requestSlot, [M]) as SlotResult;
  t.equal(slot.position, 1);
  t.equal(slot.etaSeconds, Math.round(avg / 1000), 'one measured average per player ahead');
});
