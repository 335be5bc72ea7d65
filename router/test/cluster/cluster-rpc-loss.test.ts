// Calls when a node or NATS goes away (docs/cluster.md, "RPC"): a callee's
// node cut off from the cluster (its NATS connection closed: what a kill or
// a network cut looks like to the others) takes its registrations with it
// and the calls in flight to it end with ERROR; during a NATS outage calls
// to other nodes fail at once and local calls work; afterwards the
// registrations are resynchronised.
import t from 'tap';
import { callError, connect, eventually, sleep, within, type AutobahnSession } from '../helpers.js';
import { haveNats, spawnNode, startNats, startNodes, stopNats, type Nats, type Node, until } from './harness.js';

t.test('calls and lost nodes', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  let nats!: Nats;
  let nodes!: Node[];
  t.before(async () => { nats = await startNats(); nodes = await startNodes(3, nats.url, { cluster: 'loss' }); });
  t.teardown(async () => { for (const n of nodes) await n.stop().catch(() => undefined); await stopNats(nats); });
  const open = async (i: number): Promise<AutobahnSession> => {
    const c = await connect({ port: nodes[i]!.port });
    t.teardown(() => { try { c.connection.close(); } catch { /* closed */ } });
    return c.session as AutobahnSession;
  };

  t.test('a node cut off: in-flight calls get ERROR, its registrations go with meta events, its sessions\' on_leave and testaments fire on the others', async (t) => {
    const callee = await open(2);
    await callee.register('com.hang', () => new Promise(() => { /* never answers */ }));
    await callee.call('wamp.session.add_testament', ['com.lastwill', ['bye from n3'], { k: 1 }]);
    await callee.call('wamp.session.add_testament', ['com.lastwill', ['detached'], {}], { scope: 'detached' });
    const watcher = await open(0);
    const unregs: unknown[] = [];
    const leaves: unknown[][] = [];
    const wills: unknown[] = [];
    await watcher.subscribe('wamp.registration.on_delete', (a: unknown[]) => { unregs.push(a); });
    await watcher.subscribe('wamp.session.on_leave', (a: unknown[]) => { leaves.push(a); });
    await watcher.subscribe('com.lastwill', (a: unknown[]) => { wills.push(a[0]); });
    // A subscription held only by n3's session: its on_unsubscribe and on_delete come on the others when n3 goes.
    const subGone: unknown[][] = [];
    const lonely = (await callee.subscribe('com.only.on.n3', () => { /* none */ })).id as number;
    for (const e of ['on_unsubscribe', 'on_delete']) await watcher.subscribe(`wamp.subscription.${e}`, (a: unknown[]) => { if (a[1] === lonely) subGone.push([e, ...a]); });
    // A subscriber on the third node too: each subscriber gets each on_leave once.
    const other = await open(1);
    const otherLeaves: unknown[] = [];
    await other.subscribe('wamp.session.on_leave', (a: unknown[]) => { if (a[0] === callee.id) otherLeaves.push(a); });
    const caller = await open(0);
    // The session table is cluster-wide: n1 answers about n3's session.
    await until(async () => ((await caller.call('wamp.session.list')) as number[]).includes(callee.id as number), 5000, 'n3\'s session listed on n1');
    t.match(await caller.call('wamp.session.get', [callee.id]), { session: callee.id, authrole: 'anonymous' }, 'wamp.session.get of a session on another node');
    await eventually(() => nodes[0]!.router.findRealm('realm1')!.dealer.observations.lookup('com.hang', 'exact') !== undefined, 5000, 'registration known');
    const inFlight = callError(caller.call('com.hang'));
    await sleep(100);
    const cut = Date.now();
    await nodes[2]!.router.cluster!.nc.close();
    await eventually(() => leaves.some((a) => a[0] === callee.id) && wills.length === 2, 6000, 'on_leave and testaments of n3\'s session on n1');
    t.ok(Date.now() - cut < 4000, `on_leave within the issue's 3 s (and a margin for a loaded machine): ${Date.now() - cut} ms`);
    t.same(wills.sort(), ['bye from n3', 'detached'], 'both testaments published, once each');
    await eventually(() => otherLeaves.length === 1, 3000, 'on_leave on n2 too');
    await sleep(300);
    t.equal(leaves.filter((a) => a[0] === callee.id).length, 1, 'one on_leave per subscriber');
    t.equal(otherLeaves.length, 1);
    t.notOk(((await caller.call('wamp.session.list')) as number[]).includes(callee.id as number), 'the lost session is no longer listed');
    const e = await within(inFlight, 5000, 'the ERROR for the call in flight');
    t.equal(e.error, 'clawgate.error.cluster_unavailable');
    t.match(String(e.args[0]), /router node "n3" is gone/);
    await eventually(() => unregs.length === 1, 5000, 'on_delete for the registration of the gone node');
    await eventually(() => subGone.length === 2, 5000, 'on_unsubscribe and on_delete for the subscription of the gone node');
    t.same(subGone, [['on_unsubscribe', callee.id, lonely], ['on_delete', callee.id, lonely]], 'the lost node\'s subscription: on_unsubscribe, then on_delete, on n1');
    t.equal((await callError(caller.call('com.hang'))).error, 'wamp.error.no_such_procedure');
  });

  t.test('kill -9 of a node process with calls in flight: ERROR, not a hang; its session\'s on_leave and testament on the others', async (t) => {
    const proc = await spawnNode('k9', nats.url, { cluster: 'loss' });
    t.teardown(() => proc.kill('SIGKILL'));
    const c = await connect({ port: proc.port });
    await c.session.register('com.k9', () => new Promise(() => { /* never answers */ }));
    await c.session.call('wamp.session.add_testament', ['com.k9.will', ['k9 gone']]);
    const k9id = c.session.id as number;
    const caller = await open(1);
    const leaves: unknown[] = [];
    const wills: unknown[] = [];
    await caller.subscribe('wamp.session.on_leave', (a: unknown[]) => { if (a[0] === k9id) leaves.push(a); });
    await caller.subscribe('com.k9.will', (a: unknown[]) => { wills.push(a[0]); });
    await until(async () => ((await caller.call('wamp.session.list')) as number[]).includes(k9id), 5000, 'k9\'s session in the table');
    await until(async () => nodes[1]!.router.findRealm('realm1')!.dealer.observations.lookup('com.k9', 'exact') !== undefined, 5000, 'registration known');
    const calls = [1, 2, 3].map(() => callError(caller.call('com.k9')));
    await sleep(100);
    const killed = Date.now();
    proc.kill('SIGKILL');
    const errors = await within(Promise.all(calls), 6000, 'the ERRORs for the calls in flight');
    t.same(errors.map((e) => e.error), Array(3).fill('clawgate.error.cluster_unavailable'), `every call in flight answered (${Date.now() - killed} ms after the kill)`);
    await eventually(() => leaves.length === 1 && wills.length === 1, 5000, 'on_leave and testament of the killed node\'s session');
    t.same(wills, ['k9 gone'], `the testament of a session of the killed process (${Date.now() - killed} ms after the kill)`);
    await proc.exited;
  });

  t.test('NATS restart: cross-node calls fail fast meanwhile, local ones work; afterwards all work again', async (t) => {
    const remote = await open(1);
    await remote.register('com.remote', () => 'remote');
    const local = await open(0);
    await local.register('com.local', () => 'local');
    const caller = await open(0);
    await until(async () => (await caller.call('com.remote').catch(() => undefined)) === 'remote', 5000, 'remote call works');
    const created: string[] = [];
    const metaWatcher = await open(1); // n3 was cut off by the first test
    await metaWatcher.subscribe('wamp.subscription.on_create', (a: unknown[]) => { created.push((a[1] as { uri: string }).uri); });
    await nats.stop();
    await eventually(() => nodes[0]!.router.cluster!.state().nats !== 'connected', 5000, 'n1 sees NATS gone');
    const started = Date.now();
    const e = await callError(caller.call('com.remote'));
    t.equal(e.error, 'clawgate.error.cluster_unavailable', `a clear error (${JSON.stringify(e.args)})`);
    // Generous: without the fail-fast it would wait for ever (no call timeout); the membership takes 2 s to drop a node.
    t.ok(Date.now() - started < 3000, 'at once, not when a timeout or the membership would end it');
    t.equal(await caller.call('com.local'), 'local', 'local calls keep working');
    // A subscription made during the outage: announced on the other nodes once NATS is back (its entry written then).
    await local.subscribe('com.during.outage', () => { /* none */ });
    await nats.restart();
    await until(async () => (await caller.call('com.remote').catch(() => undefined)) === 'remote', 15_000, 'cross-node calls again after the restart');
    const fromB = await open(1);
    await until(async () => (await fromB.call('com.local').catch(() => undefined)) === 'local', 15_000, 'and the other way');
    t.pass('cross-node calls work both ways after the restart');
    // The table's watcher carries on: a registration made after the restart reaches the other node.
    await remote.register('com.after', () => 'after');
    await until(async () => (await caller.call('com.after').catch(() => undefined)) === 'after', 10_000, 'a registration made after the restart');
    await eventually(() => created.includes('com.during.outage'), 15_000, 'on_create on n2 for the subscription made on n1 during the outage');
    t.pass('a subscription made during the outage is announced on the other nodes afterwards');
  });
});
