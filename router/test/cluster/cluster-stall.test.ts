// A node that stalls (docs/cluster.md, "Membership"): its JavaScript thread
// blocked for 3 s, as a long GC pause or CPU starvation does. The others take
// it for gone after 2 s and delete its entries (its sessions, callees and
// `single` claims); it sees no one leave and its NATS connection never drops.
// Its late heartbeat tells it, and it writes them again: its callee is
// called from the other node, its session counted, and its `single`
// registration still refuses a second callee. A node whose messages are held
// up on their way to NATS (a congested link: its connection stays up, it
// still hears the others) is taken for gone the same way without being
// stalled itself: the deletes of its live entries tell it. And when the others let
// another callee take a `single` registration meanwhile (a node cut off from
// NATS for a while), the node gives its own up when it is back: one callee,
// not two. Real nats-server, a real node process, a real block of its event
// loop (stall-hook.mjs), a real TCP cut.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Kvm } from '@nats-io/kv';
import { callError, connect } from '../helpers.js';
import { realmToken } from '../../src/cluster/realm-link.js';
import { haveNats, proxiedPair, spawnNode, startNats, startNode, stopNats, until } from './harness.js';

const HOOK = fileURLToPath(new URL('./stall-hook.mjs', import.meta.url));

t.test('a stalled node writes its entries again', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const nats = await startNats();
  t.teardown(() => stopNats(nats));
  const n1 = await spawnNode('n1', nats.url, {
    cluster: 'stall',
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${HOOK}`.trim(), STALL_MS: '3000' },
  });
  t.teardown(async () => { n1.kill('SIGKILL'); await n1.exited; });
  const n2 = await startNode('n2', nats.url, { cluster: 'stall' });
  t.teardown(() => n2.stop());
  await until(async () => n2.router.cluster!.state().nodes.length === 2, 10_000, 'n2 sees n1');

  const callee = await connect({ port: n1.port });
  t.teardown(() => callee.connection.close());
  let calleeClosed = false;
  void callee.closed.then(() => { calleeClosed = true; });
  await callee.session.register('com.stall.proc', () => 'from n1');
  const caller = await connect({ port: n2.port });
  t.teardown(() => caller.connection.close());
  await until(async () => (await caller.session.call('com.stall.proc').catch(() => null)) === 'from n1', 5000, 'the call crosses');
  t.equal(await caller.session.call('wamp.session.count'), 2, 'n2 counts both sessions');

  // n1 stalls for 3 s: n2 takes it for gone (and deletes its entries), then hears it again.
  // Waited for by its count (the gap in n2's node list lasts a second at most, and a busy test could miss it).
  const lost = n2.router.cluster!.counters.lostSessions;
  n1.kill('SIGUSR2');
  await until(async () => n2.router.cluster!.counters.lostSessions > lost, 8000, 'n2 takes n1 for gone (its session lost)');
  await until(async () => n2.router.cluster!.state().nodes.length === 2, 6000, 'n2 hears n1 again');

  // n1 wrote its entries again: within a few seconds the cluster has them, and keeps them.
  await until(async () => (await caller.session.call('com.stall.proc').catch(() => null)) === 'from n1', 5000, 'the call to n1\'s callee works again');
  await until(async () => (await caller.session.call('wamp.session.count')) === 2, 5000, 'n2 counts n1\'s session again');
  await new Promise((r) => setTimeout(r, 3000)); // past any late delete of a node that saw n1 go late
  t.equal(await caller.session.call('com.stall.proc'), 'from n1', 'still called 3 s later');
  t.equal(await caller.session.call('wamp.session.count'), 2, 'still counted 3 s later');
  const other = await connect({ port: n2.port });
  t.teardown(() => other.connection.close());
  const table = await new Kvm(n2.router.cluster!.nc).open(`stall_registrations_${realmToken('realm1')}`);
  const claims: unknown[] = [];
  for await (const k of await table.keys('single.>')) claims.push((await table.get(k))?.json());
  t.match(claims, [{ node: 'n1' }], 'n1\'s `single` claim is in the table again (the others deleted it with its entries)');
  t.equal(claims.length, 1, 'one claim');
  t.equal((await callError(other.session.register('com.stall.proc', () => 'from n2'))).error, 'wamp.error.procedure_already_exists',
    'the single registration still refuses a second callee on another node (its claim was made again)');
  t.notOk(calleeClosed, 'the callee\'s session on n1 lived through the stall');

  // Frozen whole (SIGSTOP, 3 s): after SIGCONT its timers run before it reads the others' heartbeats, and it must not
  // take n2 for gone (fire on_leave for n2's sessions, delete their entries) for its own stall.
  const leaves: number[] = [];
  await callee.session.subscribe('wamp.session.on_leave', (args: unknown[]) => { leaves.push(args[0] as number); });
  const lost2 = n2.router.cluster!.counters.lostSessions;
  n1.kill('SIGSTOP');
  await until(async () => n2.router.cluster!.counters.lostSessions > lost2, 8000, 'n2 takes the frozen n1 for gone');
  await new Promise((r) => setTimeout(r, 800));
  n1.kill('SIGCONT');
  await until(async () => (await caller.session.call('com.stall.proc').catch(() => null)) === 'from n1', 6000, 'n1\'s callee called again after SIGCONT');
  await new Promise((r) => setTimeout(r, 3000));
  t.equal(await caller.session.call('com.stall.proc'), 'from n1', 'and 3 s later');
  t.equal(await callee.session.call('wamp.session.count'), 3, 'n1 counts the three sessions (n2\'s two among them)');
  t.notOk(leaves.includes(caller.session.id as number), 'n1 did not take n2\'s sessions for gone after its own freeze');
});

t.test('a `single` registration taken on another node while this node was cut off: this node gives its own up when it is back', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const nats = await startNats();
  t.teardown(() => stopNats(nats));
  const { proxy, n1, n2, stop } = await proxiedPair(nats, 'n1', { cluster: 'split' });
  t.teardown(stop);

  const a = await connect({ port: n1.port });
  t.teardown(() => a.connection.close());
  await a.session.register('com.split.proc', () => 'from n1');
  const x = await connect({ port: n1.port });
  t.teardown(() => x.connection.close());
  const b = await connect({ port: n2.port });
  t.teardown(() => b.connection.close());
  await until(async () => (await b.session.call('com.split.proc').catch(() => null)) === 'from n1', 5000, 'n2 reaches n1\'s callee');

  // n1 cut off: n2 takes it for gone, and a callee on n2 takes the procedure.
  await proxy.cut();
  await until(async () => n2.router.cluster!.state().nodes.length === 1, 6000, 'n2 takes n1 for gone');
  await until(async () => (await b.session.register('com.split.proc', () => 'from n2').then(() => true, () => false)), 5000, 'the procedure registered on n2');

  // n1 back: its claim is n2's callee's now, so it revokes its own; every call goes to n2's callee.
  await proxy.restore();
  await until(async () => n1.router.cluster!.state().nats === 'connected' && n1.router.cluster!.state().nodes.length === 2, 10_000, 'n1 back');
  await until(async () => (await x.session.call('com.split.proc').catch(() => null)) === 'from n2', 5000, 'a call on n1 goes to n2\'s callee');
  for (let i = 0; i < 5; i++) t.equal(await x.session.call('com.split.proc'), 'from n2', `call ${i} from n1: n2's callee`);
  t.equal(await b.session.call('com.split.proc'), 'from n2', 'a call on n2: n2\'s callee');
  const id = await x.session.call('wamp.registration.lookup', ['com.split.proc']);
  t.equal((await x.session.call('wamp.registration.list_callees', [id]) as unknown[]).length, 1, 'one callee on n1\'s view');
  t.equal((await b.session.call('wamp.registration.list_callees', [id]) as unknown[]).length, 1, 'one callee on n2\'s view');
  const table = await new Kvm(n2.router.cluster!.nc).open(`split_registrations_${realmToken('realm1')}`);
  const claims: unknown[] = [];
  for await (const k of await table.keys('single.>')) claims.push((await table.get(k))?.json());
  t.match(claims, [{ node: 'n2' }], 'the claim is n2\'s');
  t.equal(claims.length, 1, 'one claim');
});

t.test('a node whose messages to NATS are held up for 3 s (not stalled, still hearing the others) repairs what the others deleted', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const nats = await startNats();
  t.teardown(() => stopNats(nats));
  const { proxy, n1, n2, stop } = await proxiedPair(nats, 'n1', { cluster: 'held' });
  t.teardown(stop);

  const callee = await connect({ port: n1.port });
  t.teardown(() => callee.connection.close());
  await callee.session.register('com.held.proc', () => 'from n1');
  await callee.session.subscribe('com.held.topic', () => undefined);
  const caller = await connect({ port: n2.port });
  t.teardown(() => caller.connection.close());
  await until(async () => (await caller.session.call('com.held.proc').catch(() => null)) === 'from n1', 5000, 'the call crosses');
  // A call from n1 to a callee on n2 that never answers, in flight when n2 takes n1 for gone.
  await caller.session.register('com.held.never', () => new Promise(() => { /* never answers */ }));
  await until(async () => (await callee.session.call('wamp.registration.lookup', ['com.held.never'])) !== null, 5000, 'n1 sees the registration on n2');
  const pending = callError(callee.session.call('com.held.never'));
  // n1's own meta subscribers: its subscriber never leaves, whatever n2 deletes.
  const unsubscribed: unknown[] = [];
  await callee.session.subscribe('wamp.subscription.on_unsubscribe', (args: unknown[]) => { unsubscribed.push(args); });

  const lost = n2.router.cluster!.counters.lostSessions;
  proxy.hold();
  await until(async () => n2.router.cluster!.counters.lostSessions > lost, 8000, 'n2 takes n1 for gone (its session lost)');
  t.equal(n1.router.cluster!.state().nodes.length, 2, 'n1 still hears n2 (it saw no one leave)');
  t.equal((await pending).error, 'clawgate.error.cluster_unavailable', 'n1\'s call in flight on n2 ends with ERROR (n2 told it), not a hang');
  await new Promise((r) => setTimeout(r, 2500)); // n2's late deletes of n1's session entries go out too
  proxy.release();
  await until(async () => n2.router.cluster!.state().nodes.length === 2, 6000, 'n2 hears n1 again');
  await until(async () => (await caller.session.call('com.held.proc').catch(() => null)) === 'from n1', 6000, 'the call to n1\'s callee works again');
  await until(async () => (await caller.session.call('wamp.session.count')) === 2, 6000, 'n2 counts n1\'s session again');
  await until(async () => (await caller.session.call('wamp.subscription.lookup', ['com.held.topic'])) !== null, 6000, 'n2 knows n1\'s subscriber again');
  await new Promise((r) => setTimeout(r, 3000));
  t.equal(await caller.session.call('com.held.proc'), 'from n1', 'still called 3 s later');
  t.equal(await caller.session.call('wamp.session.count'), 2, 'still counted 3 s later');
  t.same(unsubscribed, [], 'no on_unsubscribe on n1 for its own subscriber');
  const other = await connect({ port: n2.port });
  t.teardown(() => other.connection.close());
  t.equal((await callError(other.session.register('com.held.proc', () => 'from n2'))).error, 'wamp.error.procedure_already_exists', 'n1 keeps the procedure');
});
