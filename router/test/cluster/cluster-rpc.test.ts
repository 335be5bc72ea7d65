// Stage 3 of the cluster (docs/cluster.md, "RPC"): callers and callees on
// different nodes, with the single node's rules: the registration that
// governs a URI, every invocation policy, progressive results, cancel,
// timeouts, disclosure, errors unchanged; a callee's node going away, and a
// NATS restart.
import t from 'tap';
import { autobahn, callError, connect, eventually, sleep, type AutobahnSession } from '../helpers.js';
import { Wire, type Msg } from '../wire.js';
import { FULL_HELLO } from '../matrix.js';
import { NODE_SLOTS } from '../../src/ids.js';
import { craSignature } from '../../src/auth/wampcra-auth.js';
import { haveNats, startNats, startNodes, stopNats, type Nats, type Node, type NodeOptions, until } from './harness.js';

const ALL = { call: true, register: true, publish: true, subscribe: true };
const OPTS: NodeOptions = {
  cluster: 'rpc',
  realms: [{
    name: 'realm1',
    options: { limits: { max_pending_calls: 3 } },
    roles: [{ name: 'anonymous', permissions: [
      { uri: '', match: 'prefix', allow: ALL, disclose: { caller: false, publisher: false } },
      { uri: 'com.disclosed.', match: 'prefix', allow: ALL, disclose: { caller: true, publisher: false } },
    ] }],
  }],
  transportExtras: { websocket: { ws: { type: 'websocket', options: { max_message_size: 4 * 1024 * 1024 }, auth: {
    ticket: { type: 'static', principals: { 'claw-1': { ticket: 's1', role: 'anonymous' } } },
    anonymous: { type: 'static', role: 'anonymous' },
  } } } },
};

const errorFor = (req: number) => (m: Msg): boolean => m[0] === 8 && m[2] === req;
const isInvocation = (m: Msg): boolean => m[0] === 68;

t.test('RPC across nodes', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  let nats!: Nats;
  let nodes!: Node[];
  t.before(async () => { nats = await startNats(); nodes = await startNodes(3, nats.url, OPTS); });
  t.teardown(async () => { for (const n of nodes) await n.stop().catch(() => undefined); await stopNats(nats); });
  const open = async (i: number): Promise<AutobahnSession> => {
    const c = await connect({ port: nodes[i]!.port });
    t.teardown(() => { try { c.connection.close(); } catch { /* closed */ } });
    return c.session as AutobahnSession;
  };
  const wire = async (i: number, authid?: string): Promise<Wire> => {
    const w = await Wire.open({ port: nodes[i]!.port, path: '/ws', serializer: 'json', codec: 'autobahn', waitMs: 5000 });
    t.teardown(() => w.close());
    if (authid === undefined) { await w.join('realm1', FULL_HELLO); return w; }
    await w.send([1, 'realm1', { ...FULL_HELLO, roles: { ...FULL_HELLO.roles, callee: { features: { ...FULL_HELLO.roles.callee.features, registration_revocation: true } } }, authmethods: ['ticket'], authid }]);
    await w.next(4);
    await w.send([5, 's1', {}]);
    w.sessionId = (await w.next(2))[1] as number;
    return w;
  };

  t.test('session and publication ids carry their node\'s slot, also with several nodes in one process', async (t) => {
    for (let i = 0; i < 2; i++) {
      const s = await open(i);
      const slot = nodes[i]!.router.cluster!.slot;
      t.equal((s.id as number) % NODE_SLOTS, slot, `node ${i + 1}`);
      const pub = await s.publish('com.ids', [], {}, { acknowledge: true }) as { id: number };
      t.equal(pub.id % NODE_SLOTS, slot, `node ${i + 1}'s publication id`);
    }
    t.not(nodes[0]!.router.cluster!.slot, nodes[1]!.router.cluster!.slot);
  });

  t.test('a callee on one node serves callers on the others: results, errors unchanged, disclosure, progressive results', async (t) => {
    const callee = await open(1);
    const seen: unknown[] = [];
    const reg = await callee.register('com.disclosed.add', (args: number[], _k: unknown, d: { caller?: number }) => { seen.push(d.caller); return args[0]! + args[1]!; });
    const caller = await open(0);
    t.equal(await caller.call('com.disclosed.add', [2, 3]), 5);
    t.same(seen, [caller.id], 'caller disclosed to the callee on the other node');
    const other = await open(2);
    t.equal(await other.call('com.disclosed.add', [20, 3]), 23);
    // The registration id is the same on every node (meta event seen where the callee is not).
    t.ok(reg.id > 0);
    // A callee's error reaches the caller unchanged: raw callee, so the URI and arguments are exact.
    const w = await wire(1);
    await w.register('com.errs');
    const p = callError(caller.call('com.errs', [1]));
    const inv = await w.take(isInvocation, 'INVOCATION');
    await w.send([8, 68, inv[1], {}, 'com.app.error.no_coins', ['need more', 2], { coins: 0 }]);
    const e = await p;
    t.same([e.error, e.args, e.kwargs], ['com.app.error.no_coins', ['need more', 2], { coins: 0 }]);
    // Progressive results, in order.
    await w.register('com.prog');
    const log: unknown[] = [];
    const done = new Promise<void>((resolve, reject) => {
      (caller.call('com.prog', [], undefined, { receive_progress: true }) as unknown as { then(a: (r: unknown) => void, b: (e: unknown) => void, c: (p: unknown) => void): void })
        .then((r) => { log.push(['final', r]); resolve(); }, reject, (x) => { log.push(['progress', x]); });
    });
    const inv2 = await w.take((m) => isInvocation(m) && m[1] !== inv[1], 'INVOCATION');
    t.equal((inv2[3] as Record<string, unknown>).receive_progress, true);
    for (let i = 1; i <= 3; i++) await w.send([70, inv2[1], { progress: true }, [i]]);
    await w.send([70, inv2[1], {}, ['end']]);
    await done;
    t.same(log, [['progress', 1], ['progress', 2], ['progress', 3], ['final', 'end']]);
    // Unregistered on its node: gone on the others.
    await callee.unregister(reg);
    await until(async () => (await callError(caller.call('com.disclosed.add', [1, 1]))).error === 'wamp.error.no_such_procedure', 5000, 'unregistered everywhere');
  });

  t.test('single is cluster-wide; exact beats prefix beats wildcard; first/last/roundrobin by registration time', async (t) => {
    const a = await wire(0);
    const b = await wire(1);
    await a.register('com.one');
    const req = b.request();
    await b.send([64, req, {}, 'com.one']);
    const refused = await b.take(errorFor(req), 'ERROR');
    t.equal(refused[4], 'wamp.error.procedure_already_exists', 'a second REGISTER on another node');
    const req2 = b.request();
    await b.send([64, req2, { invoke: 'roundrobin' }, 'com.one']);
    t.equal((await b.take(errorFor(req2), 'ERROR'))[4], 'wamp.error.procedure_exists_with_different_invocation_policy');

    const caller = await open(2);
    const mk = async (i: number, uri: string, options: Record<string, unknown>, answer: string): Promise<void> => {
      const s = await open(i);
      await s.register(uri, () => answer, options);
    };
    await mk(0, 'com.m..x', { match: 'wildcard' }, 'wildcard');
    t.equal(await caller.call('com.m.a.x'), 'wildcard');
    await mk(1, 'com.m.a', { match: 'prefix' }, 'prefix');
    await until(async () => (await caller.call('com.m.a.x')) === 'prefix', 5000, 'prefix beats wildcard');
    await mk(0, 'com.m.a.x', {}, 'exact');
    await until(async () => (await caller.call('com.m.a.x')) === 'exact', 5000, 'exact beats prefix');

    for (const invoke of ['first', 'last', 'roundrobin']) {
      // Registered on nodes 1, 2, 3 in this order.
      for (let i = 0; i < 3; i++) await mk(i, `com.shared.${invoke}`, { invoke }, `n${i + 1}`);
      const from = await open(0);
      await until(async () => (await from.call(`com.shared.${invoke}`)) !== undefined && nodes[0]!.router.findRealm('realm1')!.dealer.observations.lookup(`com.shared.${invoke}`, 'exact')?.callees.length === 3, 5000, 'all three callees known');
      const got: unknown[] = [];
      for (let i = 0; i < 6; i++) got.push(await from.call(`com.shared.${invoke}`));
      if (invoke === 'first') t.same(got, Array(6).fill('n1'), 'first: the earliest registration cluster-wide');
      else if (invoke === 'last') t.same(got, Array(6).fill('n3'), 'last: the latest');
      else t.same([...got].sort(), ['n1', 'n1', 'n2', 'n2', 'n3', 'n3'], 'roundrobin over the callees of all nodes');
    }
  });

  t.test('cancel (skip, killnowait, kill) and timeouts across nodes', async (t) => {
    const callee = await wire(1);
    const caller = await wire(0);
    await callee.register('com.slow');
    const call = async (options: Record<string, unknown> = {}): Promise<{ req: number; inv: Msg }> => {
      const req = caller.request();
      const before = callee.messages.length;
      await caller.send([48, req, options, 'com.slow', []]);
      const inv = await callee.take((m) => isInvocation(m) && callee.messages.indexOf(m) >= before, 'INVOCATION');
      return { req, inv };
    };
    {
      const { req } = await call();
      await caller.send([49, req, { mode: 'skip' }]);
      t.equal((await caller.take(errorFor(req), 'ERROR'))[4], 'wamp.error.canceled', 'skip');
    }
    {
      const { req, inv } = await call();
      await caller.send([49, req, { mode: 'killnowait' }]);
      t.equal((await caller.take(errorFor(req), 'ERROR'))[4], 'wamp.error.canceled', 'killnowait: ERROR at once');
      t.same(await callee.take((m) => m[0] === 69 && m[1] === inv[1], 'INTERRUPT'), [69, inv[1], { mode: 'killnowait' }]);
    }
    {
      const { req, inv } = await call();
      await caller.send([49, req, { mode: 'kill' }]);
      t.same(await callee.take((m) => m[0] === 69 && m[1] === inv[1], 'INTERRUPT'), [69, inv[1], { mode: 'kill' }]);
      await sleep(50);
      t.same(caller.messages.filter(errorFor(req)), [], 'kill: no ERROR before the callee answers');
      await callee.send([8, 68, inv[1], {}, 'com.app.stopped', ['stopped']]);
      t.equal((await caller.take(errorFor(req), 'ERROR'))[4], 'com.app.stopped', 'kill: the callee\'s ERROR');
    }
    {
      const { req, inv } = await call({ timeout: 200 });
      t.equal((inv[3] as Record<string, unknown>).timeout, 200);
      t.equal((await caller.take(errorFor(req), 'ERROR'))[4], 'wamp.error.timeout', 'timeout');
      t.match(await callee.take((m) => m[0] === 69 && m[1] === inv[1], 'INTERRUPT'), [69, inv[1], { mode: 'killnowait', reason: 'wamp.error.timeout' }]);
    }
  });

  t.test('random picks among the callees of every node', async (t) => {
    const got: string[] = [];
    const a = await open(0);
    const b = await open(1);
    await a.register('com.random.p', () => { got.push('n1'); return 1; }, { invoke: 'random' });
    await b.register('com.random.p', () => { got.push('n2'); return 2; }, { invoke: 'random' });
    const caller = await open(2);
    await until(async () => nodes[2]!.router.findRealm('realm1')!.dealer.observations.lookup('com.random.p', 'exact')?.observers.size === 2, 5000, 'both callees known on n3');
    for (let i = 0; i < 50; i++) await caller.call('com.random.p');
    const n1 = got.filter((x) => x === 'n1').length;
    t.equal(got.length, 50, 'every call answered once');
    // All 50 to one callee by chance: 2 in 2^50.
    t.ok(n1 > 0 && n1 < 50, `both nodes' callees got calls (n1 ${n1}, n2 ${50 - n1})`);
  });

  t.test('an answer larger than NATS max_payload: the caller gets a clear ERROR, the callee and everybody else carry on', async (t) => {
    const callee = await Wire.open({ port: nodes[1]!.port, path: '/ws', serializer: 'json', codec: 'autobahn', waitMs: 5000 });
    t.teardown(() => callee.close());
    await callee.join('realm1');
    await callee.register('com.huge.answer');
    const caller = await open(0);
    const bystander = await open(2);
    await bystander.register('com.bystander', () => 'still here');
    await until(async () => nodes[0]!.router.findRealm('realm1')!.dealer.observations.lookup('com.huge.answer', 'exact') !== undefined, 5000, 'callee known on n1');
    const pending = callError(caller.call('com.huge.answer', ['result']));
    const inv = await callee.take(isInvocation, 'INVOCATION');
    await callee.send([70, inv[1], {}, ['x'.repeat(1100 * 1024)]]);
    const e = await pending;
    t.equal(e.error, 'clawgate.error.payload_too_large', 'the caller gets payload_too_large instead of the result');
    t.match(String(e.args[0]), /the callee's answer is too large to reach the caller's cluster node \(\d+ bytes; NATS max_payload \d+\)/);
    const errs = callError(caller.call('com.huge.answer', ['error']));
    const inv2 = await callee.take(isInvocation, 'second INVOCATION');
    await callee.send([8, 68, inv2[1], {}, 'com.app.failed', ['y'.repeat(1100 * 1024)]]);
    t.equal((await errs).error, 'clawgate.error.payload_too_large', 'an ERROR answer over max_payload too');
    // The callee's session is untouched: it answers the next call; the others' too; every node still serves.
    const next = caller.call('com.huge.answer', ['small']);
    const inv3 = await callee.take(isInvocation, 'third INVOCATION');
    await callee.send([70, inv3[1], {}, ['small result']]);
    t.equal(await next, 'small result', 'the same callee answers the next call');
    t.equal(await caller.call('com.bystander'), 'still here', 'another node\'s callee unaffected');
    for (const n of nodes) t.equal(n.router.cluster!.state().nats, 'connected', `${n.name} still connected to NATS`);
    t.equal(await (await open(1)).call('wamp.session.count') as number > 0, true, 'the callee\'s node serves new sessions');
  });

  t.test('bounds: calls to other nodes count as pending calls; a call over NATS max_payload; progressive call invocations in order', async (t) => {
    const PROG = { roles: {
      caller: { features: { call_canceling: true, progressive_call_results: true, progressive_call_invocations: true } },
      callee: { features: { call_canceling: true, progressive_call_results: true, progressive_call_invocations: true } },
    } };
    const callee = await Wire.open({ port: nodes[1]!.port, path: '/ws', serializer: 'json', codec: 'autobahn', waitMs: 5000 });
    t.teardown(() => callee.close());
    await callee.join('realm1', PROG);
    await callee.register('com.bound');
    const caller = await Wire.open({ port: nodes[0]!.port, path: '/ws', serializer: 'json', codec: 'autobahn', waitMs: 5000 });
    t.teardown(() => caller.close());
    await caller.join('realm1', PROG);
    const reqs: number[] = [];
    for (let i = 0; i < 3; i++) { const r = caller.request(); reqs.push(r); await caller.send([48, r, {}, 'com.bound', [i]]); }
    const invs: Msg[] = [];
    for (let i = 0; i < 3; i++) invs.push(await callee.take((m) => isInvocation(m) && (m[4] as number[])[0] === i, `INVOCATION ${i}`));
    const fourth = caller.request();
    await caller.send([48, fourth, {}, 'com.bound', [3]]);
    t.equal((await caller.take(errorFor(fourth), 'ERROR'))[4], 'clawgate.error.too_many_pending_calls', 'the fourth call in flight to another node is refused (max_pending_calls 3)');
    for (const m of invs) await callee.send([70, m[1], {}, ['ok']]);
    for (const r of reqs) await caller.take((m) => m[0] === 50 && m[1] === r, 'RESULT');

    const big = caller.request();
    await caller.send([48, big, {}, 'com.bound', ['x'.repeat(1100 * 1024)]]);
    const e = await caller.take(errorFor(big), 'ERROR');
    t.equal(e[4], 'clawgate.error.payload_too_large');
    t.match(String((e[5] as string[])[0]), /NATS max_payload/);

    // Chunks of a progressive call, then the last one, reach the callee on the other node in order under one INVOCATION id.
    const prog = caller.request();
    await caller.send([48, prog, { progress: true }, 'com.bound', ['a']]);
    await caller.send([48, prog, { progress: true }, 'com.bound', ['b']]);
    await caller.send([48, prog, {}, 'com.bound', ['c']]);
    const chunks: Msg[] = [];
    for (let i = 0; i < 3; i++) chunks.push(await callee.take(isInvocation, `chunk ${i + 1}`));
    t.same(chunks.map((m) => [(m[3] as Record<string, unknown>).progress === true, m[4]]), [[true, ['a']], [true, ['b']], [false, ['c']]]);
    t.equal(new Set(chunks.map((m) => m[1])).size, 1, 'one INVOCATION id');
    await callee.send([70, chunks[0]![1], {}, ['abc']]);
    t.same((await caller.take((m) => m[0] === 50 && m[1] === prog, 'RESULT')).slice(3), [['abc']]);
  });

  t.test('a callee that takes no INTERRUPT: a timeout or cancel on the caller\'s node ends the call on the callee\'s node too', async (t) => {
    const callee = await Wire.open({ port: nodes[1]!.port, path: '/ws', serializer: 'json', codec: 'autobahn', waitMs: 5000 });
    t.teardown(() => callee.close());
    await callee.join('realm1', { roles: { callee: {} } });
    await callee.register('com.plain');
    const caller = await wire(0);
    const onB = nodes[1]!.router.findRealm('realm1')!;
    const session = onB.sessions.get(callee.sessionId)!;
    const timed = caller.request();
    await caller.send([48, timed, { timeout: 100 }, 'com.plain', []]);
    await callee.take(isInvocation, 'INVOCATION');
    t.equal((await caller.take(errorFor(timed), 'ERROR'))[4], 'wamp.error.timeout');
    const killed = caller.request();
    await caller.send([48, killed, {}, 'com.plain', []]);
    await callee.take(isInvocation, 'INVOCATION');
    await caller.send([49, killed, { mode: 'kill' }]);
    t.equal((await caller.take(errorFor(killed), 'ERROR'))[4], 'wamp.error.canceled', 'kill to a callee without call_canceling: as skip');
    await eventually(() => onB.dealer.serving(session) === 0, 5000, 'nothing held on the callee\'s node');
    t.same(callee.messages.filter((m) => m[0] === 69), [], 'no INTERRUPT to a callee that did not announce call_canceling');
  });

  t.test('force_reregister takes over a registration of the same authid on another node', async (t) => {
    const old = await wire(1, 'claw-1');
    const oldReg = await old.register('com.taken');
    const nu = await wire(0, 'claw-1');
    await nu.register('com.taken', { force_reregister: true });
    t.same(await old.take((m) => m[0] === 67 && m[1] === 0, 'UNREGISTERED'), [67, 0, { registration: oldReg, reason: 'replaced by a force_reregister of the same authid' }], 'the old callee on the other node is told');
    const caller = await open(2);
    await eventually(() => nodes[2]!.router.findRealm('realm1')!.dealer.observations.lookup('com.taken', 'exact')?.callees.length === 1
      && nodes[1]!.router.findRealm('realm1')!.dealer.observations.lookup('com.taken', 'exact')?.callees.every((c) => c.id === nu.sessionId), 5000, 'taken over everywhere');
    const p = caller.call('com.taken');
    const inv = await nu.take(isInvocation, 'INVOCATION on the new callee');
    await nu.send([70, inv[1], {}, ['new']]);
    t.equal(await p, 'new');
  });

  t.test('wamp.session.* answer for the cluster: count, get, kill and kill_by_authid reach sessions on other nodes', async (t) => {
    const victim = await wire(1);
    const c1 = await wire(1, 'claw-1');
    const c2 = await wire(2, 'claw-1');
    const killer = await open(0);
    await until(async () => {
      const ids = (await killer.call('wamp.session.list')) as number[];
      return [victim.sessionId, c1.sessionId, c2.sessionId].every((id) => ids.includes(id!));
    }, 5000, 'the other nodes\' sessions listed on n1');
    t.ok((await killer.call('wamp.session.count')) as number >= 4, 'counted');
    t.match(await killer.call('wamp.session.get', [c2.sessionId]), { session: c2.sessionId, authid: 'claw-1', authmethod: 'ticket' });
    t.equal((await callError(killer.call('wamp.session.get', [12345]))).error, 'wamp.error.no_such_session');
    await killer.call('wamp.session.kill', [victim.sessionId], { reason: 'com.app.kicked', message: 'go away' });
    t.same(await victim.take((m) => m[0] === 6, 'GOODBYE'), [6, { message: 'go away' }, 'com.app.kicked'], 'the session on n2 is ended by its node');
    const killed = (await killer.call('wamp.session.kill_by_authid', ['claw-1'])) as number[];
    t.ok(killed.includes(c1.sessionId!) && killed.includes(c2.sessionId!), 'kill_by_authid names the sessions of both other nodes');
    await c1.take((m) => m[0] === 6, 'GOODBYE on n2');
    await c2.take((m) => m[0] === 6, 'GOODBYE on n3');
    await until(async () => !((await killer.call('wamp.session.list')) as number[]).includes(c2.sessionId!), 5000, 'gone from the list');
  });
});

t.test('wamp.registration.* answer for the cluster; remove_callee reaches a callee of another node', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const nats = await startNats();
  const nodes = await startNodes(2, nats.url, { ...OPTS, cluster: 'rpcmeta' });
  t.teardown(async () => { for (const n of nodes) await n.stop().catch(() => undefined); await stopNats(nats); });
  const a = await connect({ port: nodes[0]!.port });
  const b = await connect({ port: nodes[1]!.port });
  t.teardown(() => { a.connection.close(); b.connection.close(); });
  const ra = await a.session.register('com.meta.p', () => 'a', { invoke: 'roundrobin' });
  const rb = await b.session.register('com.meta.p', () => 'b', { invoke: 'roundrobin' });
  const onB: unknown[] = [];
  await b.session.subscribe('wamp.registration.on_unregister', (args: unknown[]) => { onB.push(args); });
  t.equal(ra.id, rb.id);
  await until(async () => (await a.session.call('wamp.registration.count_callees', [ra.id])) === 2, 5000, 'two callees seen from node 1');
  t.same(((await b.session.call('wamp.registration.list_callees', [ra.id])) as number[]).sort(), [a.session.id, b.session.id].sort());
  t.equal(await b.session.call('wamp.registration.lookup', ['com.meta.p']), ra.id);
  t.equal(await a.session.call('wamp.registration.match', ['com.meta.p']), ra.id);
  t.ok(((await a.session.call('wamp.registration.list')) as { exact: number[] }).exact.includes(ra.id));
  // From node 1, take node 2's callee off: it is told on its node, and it is gone everywhere.
  await a.session.call('wamp.registration.remove_callee', [ra.id, b.session.id]);
  await until(async () => (await a.session.call('wamp.registration.count_callees', [ra.id])) === 1
    && (await b.session.call('wamp.registration.count_callees', [ra.id])) === 1, 5000, 'removed everywhere');
  await eventually(() => onB.length > 0, 5000, 'on_unregister on node 2');
  await sleep(100);
  t.same(onB, [[b.session.id, ra.id]], 'on_unregister once on node 2');
  for (let i = 0; i < 3; i++) t.equal(await b.session.call('com.meta.p'), 'a');
});

t.test('a dynamic authorizer registered on one node decides for the sessions of another', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const nats = await startNats();
  const opts: NodeOptions = {
    cluster: 'rpcauthz',
    realms: [{ name: 'realm1', roles: [
      { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: ALL }] },
      { name: 'dyn', authorizer: 'com.example.authorize' },
    ] }],
    transportExtras: { websocket: { ws: { type: 'websocket', auth: {
      ticket: { type: 'static', principals: { carol: { ticket: 'c', role: 'dyn' } } },
      wampcra: { type: 'dynamic', authenticator: 'com.example.authenticate' },
      anonymous: { type: 'static', role: 'anonymous' },
    } } } },
  };
  const nodes = await startNodes(2, nats.url, opts);
  t.teardown(async () => { for (const n of nodes) await n.stop().catch(() => undefined); await stopNats(nats); });
  const svc = await connect({ port: nodes[0]!.port });
  t.teardown(() => svc.connection.close());
  const asked: string[] = [];
  await svc.session.register('com.example.authorize', (args: unknown[]) => { asked.push(`${args[2] as string} ${args[1] as string}`); return (args[1] as string).startsWith('com.app.'); });
  await svc.session.register('com.app.echo', (args: unknown[]) => args[0]);
  await until(async () => nodes[1]!.router.findRealm('realm1')!.dealer.observations.lookup('com.example.authorize', 'exact') !== undefined, 5000, 'authorizer known on node 2');
  const w = await Wire.open({ port: nodes[1]!.port, path: '/ws', serializer: 'json', codec: 'autobahn', waitMs: 5000 });
  t.teardown(() => w.close());
  await w.send([1, 'realm1', { ...FULL_HELLO, authmethods: ['ticket'], authid: 'carol' }]);
  await w.next(4);
  await w.send([5, 'c', {}]);
  await w.next(2);
  const ok = await w.call(w.request(), 'com.app.echo', ['hi']);
  t.same([ok[0], ok[3]], [50, ['hi']], 'allowed by the authorizer on the other node');
  const denied = await w.call(w.request(), 'com.other.x');
  t.equal(denied[4], 'wamp.error.not_authorized', 'denied by it');
  t.same(asked, ['call com.app.echo', 'call com.other.x']);

  // A dynamic authenticator registered on node 1 authenticates a WAMP-CRA HELLO on node 2.
  const authCalls: unknown[][] = [];
  await svc.session.register('com.example.authenticate', (args: unknown[]) => {
    authCalls.push(args);
    if (args[1] === 'dave') return { secret: 'dave-secret', role: 'anonymous', extra: { via: 'n1' } };
    throw new autobahn.Error('com.example.unknown_user', ['unknown user']);
  });
  await until(async () => nodes[1]!.router.findRealm('realm1')!.dealer.observations.lookup('com.example.authenticate', 'exact') !== undefined, 5000, 'authenticator known on node 2');
  const cra = async (authid: string, secret: string): Promise<Msg> => {
    const c = await Wire.open({ port: nodes[1]!.port, path: '/ws', serializer: 'json', codec: 'autobahn', waitMs: 5000 });
    t.teardown(() => c.close());
    await c.send([1, 'realm1', { ...FULL_HELLO, authmethods: ['wampcra'], authid }]);
    const ch = await c.next();
    if (ch[0] !== 4) return ch;
    await c.send([5, craSignature(secret, (ch[2] as { challenge: string }).challenge), {}]);
    return c.next();
  };
  const welcome = await cra('dave', 'dave-secret');
  t.equal(welcome[0], 2, 'WELCOME on node 2 after the authenticator on node 1 gave the secret');
  t.match(welcome[2], { authid: 'dave', authrole: 'anonymous', authmethod: 'wampcra', authprovider: 'dynamic', authextra: { via: 'n1' } });
  t.same(authCalls.map((a) => [a[0], a[1]]), [['realm1', 'dave']], 'called once with (realm, authid, details)');
  t.equal((await cra('dave', 'wrong-secret'))[0], 3, 'a wrong signature is refused');
  t.equal((await cra('mallory', 'x'))[0], 3, 'an authid the authenticator refuses is refused');
});
