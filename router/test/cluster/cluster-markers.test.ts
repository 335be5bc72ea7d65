// The cluster tables' delete markers (docs/cluster.md, "Tables"): every ended
// session, subscription and registration leaves one in its key-value bucket,
// and keys name sessions, so without a sweep they pile up for ever in
// JetStream and in what every node reads at its start. The first node by name
// sweeps those older than `marker_age`; a node cut off from NATS for half of
// it or more reads its tables again when it is back, since markers it had yet
// to see may be gone. Real nats-server, real router nodes, a real TCP cut.
import t from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect as natsConnect } from '@nats-io/transport-node';
import { connect, sleep, type AutobahnSession } from '../helpers.js';
import { realmToken } from '../../src/cluster/realm-link.js';
import { purgeMarkers } from '../../src/cluster/watched-bucket.js';
import { haveNats, proxiedPair, startNats, startNode, stopNats, type Nats, type Node, until } from './harness.js';

/** Messages in each of a cluster's table buckets (one per key: values and markers). */
async function bucketMessages(node: Node, cluster: string): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(node.router.cluster!.nc);
  const token = realmToken('realm1');
  const out: Record<string, number> = {};
  for (const table of ['sessions', 'subscriptions', 'registrations']) {
    out[table] = (await jsm.streams.info(`KV_${cluster}_${table}_${token}`)).state.messages;
  }
  return out;
}

t.test('delete markers', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  let nats!: Nats;
  t.before(async () => { nats = await startNats(); });
  t.teardown(async () => { await stopNats(nats); });

  t.test('a marker is purged up to itself: a value written to its key afterwards stays', async (t) => {
    const nc = await natsConnect({ servers: nats.url });
    t.teardown(() => nc.close());
    const kv = await new Kvm(nc).create('purge_race', { history: 1 });
    await kv.put('k', 'first');
    const marker = await kv.delete('k').then(() => kv.get('k'));
    t.equal(marker?.operation, 'DEL', 'the delete left a marker');
    // Written again between a sweep's read (which saw the marker) and its purge.
    await kv.put('k', 'again');
    await kv.put('other', 'x');
    await kv.delete('other');
    const otherMarker = await kv.get('other');
    const jsm = await jetstreamManager(nc);
    const { purged } = await purgeMarkers(jsm, 'purge_race', [{ key: 'k', revision: marker!.revision }, { key: 'other', revision: otherMarker!.revision }]);
    t.equal(purged, 1, 'only the marker still there went');
    t.equal((await kv.get('k'))?.string(), 'again', 'the value written after the marker stays');
    t.equal(await kv.get('other'), null, 'the other key is gone, marker and all');
    t.equal((await jsm.streams.info('KV_purge_race')).state.messages, 1, 'one message left in the bucket');
  });

  t.test('the first node by name sweeps the markers older than marker_age; live entries stay, and the cluster serves on', async (t) => {
    // marker_age 1 s: swept every 333 ms, each marker 1 to 1.33 s after its delete.
    const n1 = await startNode('n1', nats.url, { cluster: 'swept', markerAge: 1 });
    const n2 = await startNode('n2', nats.url, { cluster: 'swept', markerAge: 1 });
    t.teardown(async () => { await n2.stop(); await n1.stop(); });
    await until(async () => n1.router.cluster!.state().nodes.length === 2 && n2.router.cluster!.state().nodes.length === 2, 10_000, 'the nodes see each other');

    // What stays: a session on n2 with a subscription and a registration.
    const keeper = await connect({ port: n2.port });
    t.teardown(() => keeper.connection.close());
    const events: unknown[] = [];
    await keeper.session.subscribe('com.kept.topic', (args: unknown[]) => { events.push(args[0]); });
    await keeper.session.register('com.kept.proc', (args: unknown[]) => `kept ${String(args[0])}`);

    // What churns: 20 sessions on n1, each with a subscription and a registration of its own, gone at once.
    for (let i = 0; i < 20; i++) {
      const c = await connect({ port: n1.port });
      await c.session.subscribe(`com.churn.topic.${i}`, () => undefined);
      await c.session.register(`com.churn.proc.${i}`, () => i);
      c.connection.close();
    }
    // Each table holds the keeper's entries only once the markers are swept (registrations: the callee's entry and the `single` claim).
    await until(async () => {
      const m = await bucketMessages(n1, 'swept');
      return m.sessions === 1 && m.subscriptions === 1 && m.registrations === 2;
    }, 15_000, 'the churned sessions\' markers swept');
    const { markersCleared: byN1 } = n1.router.cluster!.counters;
    t.ok(byN1 >= 80, `n1 swept the markers of 20 sessions, subscriptions and registrations (${byN1})`);

    // The cluster as before, from n1 to the keeper on n2.
    const caller = await connect({ port: n1.port });
    t.teardown(() => caller.connection.close());
    t.equal(await caller.session.call('com.kept.proc', ['x']), 'kept x', 'a call to the kept registration crosses');
    t.equal(await caller.session.call('wamp.session.count'), 2, 'n1 counts the keeper and itself');
    t.ok(await caller.session.call('wamp.subscription.lookup', ['com.kept.topic']), 'the kept subscription is known on n1');
    t.equal(await caller.session.call('wamp.registration.lookup', ['com.churn.proc.3']), null, 'a churned one is not');
    await caller.session.publish('com.kept.topic', ['after the sweep'], {}, { acknowledge: true });
    await until(async () => events.length === 1, 5000, 'the event delivered');
    t.same(events, ['after the sweep']);
  });

  t.test('a node cut off from NATS for half of marker_age or more reads its tables again: no ghost of what ended meanwhile', async (t) => {
    const { proxy, n1, n2, stop } = await proxiedPair(nats, 'n2', { cluster: 'cut', markerAge: 1 });
    t.teardown(stop);

    const stays = await connect({ port: n1.port });
    t.teardown(() => stays.connection.close());
    await stays.session.register('com.cut.stays', () => 'here');
    const ends = await connect({ port: n1.port });
    await ends.session.subscribe('com.cut.ghost.topic', () => undefined);
    await ends.session.register('com.cut.ghost.proc', () => 'ghost');
    const observer = await connect({ port: n2.port });
    t.teardown(() => observer.connection.close());
    const o = observer.session as AutobahnSession;
    await until(async () => (await o.call('wamp.registration.lookup', ['com.cut.ghost.proc'])) !== null, 5000, 'n2 sees the registrations');
    t.equal(await o.call('wamp.session.count'), 3, 'n2 counts three sessions');

    // n2 loses NATS; meanwhile the session ends on n1 and its markers are swept (1 s old, sweeps every 333 ms).
    await proxy.cut();
    await until(async () => n2.router.cluster!.state().nats === 'reconnecting', 5000, 'n2 without NATS');
    ends.connection.close();
    await until(async () => (await bucketMessages(n1, 'cut')).sessions === 2, 10_000, 'the ended session\'s marker swept');
    await sleep(300);
    await proxy.restore();
    await until(async () => n2.router.cluster!.state().nats === 'connected' && n2.router.cluster!.state().nodes.length === 2, 10_000, 'n2 back, seeing n1');

    // n2's view: the ended session and its subscription and registration are gone; what lives is there.
    await until(async () => (await o.call('wamp.session.count')) === 2, 5000, 'n2 counts the two live sessions');
    // Each table is read again on its own (reconcile), after this node wrote its own entries again.
    await until(async () => (await o.call('wamp.registration.lookup', ['com.cut.ghost.proc'])) === null, 5000, 'the ended registration gone on n2');
    await until(async () => (await o.call('wamp.subscription.lookup', ['com.cut.ghost.topic'])) === null, 5000, 'the ended subscription gone on n2');
    t.equal(await o.call('com.cut.stays'), 'here', 'the live registration on n1 is called from n2');
    t.ok(n2.router.cluster!.counters.entriesReconciled >= 3, `n2 found the session, subscription and registration gone (${n2.router.cluster!.counters.entriesReconciled})`);
  });
});
