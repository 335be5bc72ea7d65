// The event history on a cluster (docs/cluster.md, "Event history"): a
// subscriber on any node reads the same events, whatever node published
// them, also events published before its node started and by nodes that are
// gone, within the entry's limit; one publisher's events in the order
// published.
import t from 'tap';
import { connect, type AutobahnSession } from '../helpers.js';
import { haveNats, spawnNode, startNats, startNode, startNodes, stopNats, until, type Nats, type Node, type NodeOptions } from './harness.js';

const ALL = { call: true, register: true, publish: true, subscribe: true };
const LIMIT = 6;
const OPTS: NodeOptions = {
  cluster: 'history',
  realms: [{
    name: 'realm1',
    options: { limits: { publish_rate: null } },
    roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: ALL, disclose: { caller: false, publisher: false } }] }],
    store: { type: 'memory', 'event-history': [
      { uri: 'com.h.', match: 'prefix', limit: LIMIT },
      { uri: 'com.order.', match: 'prefix', limit: 1000 },
    ] },
  }],
};

interface Item { publication: number; topic: string; timestamp: string; args: unknown[]; kwargs: Record<string, unknown> }

t.test('event history across nodes', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  let nats!: Nats;
  const nodes: Node[] = [];
  t.before(async () => { nats = await startNats(); nodes.push(...await startNodes(2, nats.url, OPTS)); });
  t.teardown(async () => { for (const n of nodes) await n.stop().catch(() => undefined); await stopNats(nats); });
  const open = async (n: Node): Promise<AutobahnSession> => {
    const c = await connect({ port: n.port, serializer: 'cbor' });
    t.teardown(() => { try { c.connection.close(); } catch { /* closed */ } });
    return c.session as AutobahnSession;
  };
  /** get_events through a subscription of `s` to (uri, prefix), newest first. */
  const history = async (s: AutobahnSession, uri: string, limit = 100): Promise<Item[]> => {
    const sub = await s.subscribe(uri, () => undefined, { match: 'prefix' });
    try { return await s.call('wamp.subscription.get_events', [sub.id, limit]) as Item[]; } finally { await sub.unsubscribe(); }
  };
  const argsOf = (items: Item[]): unknown[] => items.map((e) => e.args[0]);
  /** Waits until `n`'s history of `uri` reads `want` (events from other nodes arrive a moment after PUBLISHED). */
  const arrived = async (n: Node, uri: string, want: unknown[]): Promise<void> => {
    const s = await open(n);
    await until(async () => JSON.stringify(argsOf(await history(s, uri))) === JSON.stringify(want), 5000, `${n.name}'s history`);
  };

  t.test('every node reads the events of every node, also one started later and after the publisher\'s node is gone', async (t) => {
    const [n1, n2] = nodes;
    const p1 = await open(n1!);
    const p2 = await open(n2!);
    // Between publishers, the order is the one each node saw: each waits until the other's event has arrived (causal order).
    await p1.publish('com.h.x', ['a1', new Uint8Array([0, 255])], { k: 1 }, { acknowledge: true });
    await arrived(n2!, 'com.h.', ['a1']);
    await p2.publish('com.h.y', ['b1'], {}, { acknowledge: true });
    await arrived(n1!, 'com.h.', ['b1', 'a1']);
    await p1.publish('com.h.x', ['a2'], {}, { acknowledge: true });
    await p1.publish('com.h.x', ['hidden'], {}, { acknowledge: true, eligible_authrole: ['nobody'] });
    await p2.publish('com.other', ['not kept'], {}, { acknowledge: true });
    const want = ['a2', 'b1', 'a1'];
    // Each node's rings have what arrived: the other node's events come over the event subject, a moment after PUBLISHED.
    await arrived(n1!, 'com.h.', want);
    await arrived(n2!, 'com.h.', want);
    const on1 = await history(await open(n1!), 'com.h.');
    const on2 = await history(await open(n2!), 'com.h.');
    t.same(argsOf(on1), want, 'the publisher\'s node: both nodes\' events, newest first, the whitelisted one left out');
    t.same(argsOf(on2), want, 'the other node: the same');
    t.same([...(on2[2]!.args[1] as Uint8Array)], [0, 255], 'binary values as published');
    t.same(on2[2]!.kwargs, { k: 1 });
    t.same(on1.map((e) => e.publication), on2.map((e) => e.publication), 'the same publications');

    // A node started now reads them from the cluster's streams.
    const n3 = await startNode('n3', nats.url, OPTS);
    nodes.push(n3);
    const on3 = await history(await open(n3), 'com.h.');
    t.same(argsOf(on3), want, 'a node started later: the events published before it started');
    t.same(on3.map((e) => e.publication), on1.map((e) => e.publication), 'with the same publication ids');
    t.equal(on3[0]!.topic, 'com.h.x');
    t.match(on3[0]!.timestamp, /^\d{4}-\d\d-\d\dT/, 'and their timestamps');

    // The publisher's node gone: its events stay, also for a node started after it left.
    nodes.splice(nodes.indexOf(n1!), 1);
    await n1!.stop();
    const n4 = await startNode('n4', nats.url, OPTS);
    nodes.push(n4);
    t.same(argsOf(await history(await open(n4), 'com.h.')), want, 'a node started after the publisher\'s node left');
    t.same(argsOf(await history(await open(n2!), 'com.h.')), want, 'and a node that saw it live');
  });

  t.test('the entry\'s limit bounds every node and the stream', async (t) => {
    const [, n2] = nodes;
    const n3 = nodes.find((n) => n.name === 'n3')!;
    const pa = await open(n2!);
    const pb = await open(n3);
    for (let i = 0; i < 5; i++) await pa.publish('com.h.l', [`A${i}`], {}, { acknowledge: true });
    // The whitelisted event of the first test is kept too (and counts against the limit), shown to nobody.
    await arrived(n3, 'com.h.', ['A4', 'A3', 'A2', 'A1', 'A0']);
    for (let i = 0; i < 5; i++) await pb.publish('com.h.l', [`B${i}`], {}, { acknowledge: true });
    const want = ['B4', 'B3', 'B2', 'B1', 'B0', 'A4'];
    t.equal(want.length, LIMIT);
    await arrived(n2!, 'com.h.', want);
    await arrived(n3, 'com.h.', want);
    t.same(argsOf(await history(await open(n2!), 'com.h.')), want, 'the last LIMIT events');
    t.same(argsOf(await history(await open(n3), 'com.h.')), want, 'the same on the other publisher\'s node');
    const n5 = await startNode('n5', nats.url, OPTS);
    nodes.push(n5);
    t.same(argsOf(await history(await open(n5), 'com.h.')), want, 'a new node reads no more than the limit (NATS trimmed the stream)');
  });

  t.test('order: one publisher\'s events on alternating topics, read on a node started afterwards', async (t) => {
    const pub = await open(nodes[0]!);
    const N = 600;
    for (let i = 0; i < N; i++) pub.publish(i % 2 === 0 ? 'com.order.a' : 'com.order.b', [i]);
    await pub.publish('com.order.a', [N], {}, { acknowledge: true });
    await arrived(nodes[1]!, 'com.order.', Array.from({ length: 100 }, (_, i) => N - i));
    const late = await startNode('n6', nats.url, OPTS);
    nodes.push(late);
    const reader = await open(late);
    const sub = await reader.subscribe('com.order.', () => undefined, { match: 'prefix' });
    const items = await reader.call('wamp.subscription.get_events', [sub.id, 100]) as Item[];
    t.same(argsOf(items), Array.from({ length: 100 }, (_, i) => N - i), 'the newest 100, newest first, in publish order');
    const live = await open(nodes[1]!);
    const sub2 = await live.subscribe('com.order.', () => undefined, { match: 'prefix' });
    const seen = await live.call('wamp.subscription.get_events', [sub2.id, 100]) as Item[];
    t.same(seen.map((e) => e.publication), items.map((e) => e.publication), 'the same as on a node that received them live');
  });
});

// Persistent subscriptions on a cluster (docs/cluster.md, "Persistent
// subscriptions"): every node knows every one and keeps its events while no
// node holds it, so a session that comes back on another node gets what it
// missed, in order; list and drop answer for the cluster.
const TICKETS = { alice: { ticket: 'alice-t', role: 'user' }, pub: { ticket: 'pub-t', role: 'user' } };
const PERSIST: NodeOptions = {
  cluster: 'persist',
  realms: [{
    name: 'realm1',
    options: { limits: { publish_rate: null, max_persistent_events: 5 } },
    roles: [{ name: 'user', permissions: [{ uri: '', match: 'prefix', allow: ALL }] }],
    store: { type: 'memory', 'event-history': [{ uri: 'com.p.k9.hist', match: 'exact', limit: 10 }] },
  }],
  transportExtras: { websocket: { ws: { type: 'websocket', auth: { ticket: { type: 'static', principals: TICKETS } } } } },
};

t.test('persistent subscriptions across nodes', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  let nats!: Nats;
  const nodes: Node[] = [];
  t.before(async () => { nats = await startNats(); nodes.push(...await startNodes(3, nats.url, PERSIST)); });
  t.teardown(async () => { for (const n of nodes) await n.stop().catch(() => undefined); await stopNats(nats); });
  const login = async (n: Node, authid: keyof typeof TICKETS) => {
    const c = await connect({ port: n.port, extra: { authmethods: ['ticket'], authid, onchallenge: () => TICKETS[authid].ticket } });
    t.teardown(() => { try { c.connection.close(); } catch { /* closed */ } });
    return c;
  };
  const registry = (n: Node) => n.router.realm('realm1')!.broker.persistent;
  const listed = (n: Node) => registry(n).list('alice', 100) as { name: string; detached: string | null; sessions: number[]; events: number }[];
  const inbox = (n: Node, name: string) => listed(n).find((p) => p.name === name);
  /** alice subscribes to `topic` as persistent subscription `name` and records the events' first arguments. */
  const hold = async (n: Node, topic: string, name: string, into: unknown[]) => {
    const c = await login(n, 'alice');
    await c.session.subscribe(topic, (args: unknown[]) => { into.push(args[0]); }, { x_persistent: { name, ttl: 60 } });
    return c;
  };

  t.test('a session that comes back on another node gets what it missed, in order, then live events', async (t) => {
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    const first: unknown[] = [];
    const c1 = await hold(n1, 'com.p.t', 'inbox', first);
    await until(async () => inbox(n2, 'inbox')?.sessions.length === 1 && inbox(n3, 'inbox')?.sessions.length === 1, 5000, 'every node knows it is held');
    const p3 = (await login(n3, 'pub')).session;
    const p1 = (await login(n1, 'pub')).session;
    await p3.publish('com.p.t', ['live'], {}, { acknowledge: true });
    await until(async () => first.length === 1, 5000, 'the live event');
    c1.connection.close();
    await until(async () => nodes.every((n) => inbox(n, 'inbox')?.detached !== null), 5000, 'detached on every node');
    t.equal(registry(n2).detached, 1, 'another node keeps its events now');
    // Publishers on two nodes, each waiting until the other's event has arrived (causal order, which is what every node sees).
    await p3.publish('com.p.t', ['m1'], {}, { acknowledge: true });
    await until(async () => inbox(n2, 'inbox')?.events === 1, 5000, 'n2 kept m1');
    await p1.publish('com.p.t', ['m2'], {}, { acknowledge: true });
    await until(async () => inbox(n2, 'inbox')?.events === 2, 5000, 'n2 kept m2');
    await p3.publish('com.p.t', ['m3'], {}, { acknowledge: true });
    await until(async () => inbox(n2, 'inbox')?.events === 3, 5000, 'n2 kept the three');
    const back: unknown[] = [];
    await hold(n2, 'com.p.t', 'inbox', back);
    await until(async () => back.length >= 3, 5000, 'the replay');
    t.same(back, ['m1', 'm2', 'm3'], 'replayed on n2, where the session came back, in order');
    await p1.publish('com.p.t', ['after'], {}, { acknowledge: true });
    await until(async () => back.length === 4, 5000, 'the live event after the replay');
    t.same(back, ['m1', 'm2', 'm3', 'after'], 'no gap, no duplicate');
    await until(async () => nodes.every((n) => inbox(n, 'inbox')?.detached === null && inbox(n, 'inbox')?.events === 0), 5000, 'held again everywhere, the other copies dropped');
    t.same(listed(n1).find((p) => p.name === 'inbox')!.sessions.length, 1, 'listed on another node with the session holding it');
  });

  t.test('its node gone, the subscription is detached on the others; the session comes back on another node', async (t) => {
    const n4 = await startNode('n4', nats.url, PERSIST);
    nodes.push(n4);
    await until(async () => nodes.every((n) => n.router.cluster!.state().nodes.length === nodes.length), 5000, 'n4 seen');
    const [, n2, n3] = nodes as [Node, Node, Node];
    await hold(n4, 'com.p.gone', 'gone', []);
    await until(async () => inbox(n3, 'gone')?.sessions.length === 1, 5000, 'known on n3');
    nodes.splice(nodes.indexOf(n4), 1);
    await n4.stop();
    await until(async () => inbox(n3, 'gone')?.detached !== null, 5000, 'detached on n3 once n4 is gone');
    const pub = (await login(n2, 'pub')).session;
    // A plain subscriber on n3 tells when the last one has arrived there.
    const onN3: unknown[] = [];
    await (await login(n3, 'pub')).session.subscribe('com.p.gone', (a: unknown[]) => { onN3.push(a[0]); });
    for (let i = 0; i < 7; i++) await pub.publish('com.p.gone', [i], {}, { acknowledge: true });
    await until(async () => onN3.length === 7, 5000, 'all seven on n3');
    t.equal(inbox(n3, 'gone')?.events, 5, 'kept within max_persistent_events');
    const back: unknown[] = [];
    await hold(n3, 'com.p.gone', 'gone', back);
    await until(async () => back.length >= 5, 5000, 'the replay');
    t.same(back, [2, 3, 4, 5, 6], 'the newest max_persistent_events, in order');
  });

  t.test('kill -9 of the node a session held it on: detached on the others within seconds; its history and its events stay', async (t) => {
    const [, n2, n3] = nodes as [Node, Node, Node];
    const k9 = await spawnNode('k9', nats.url, PERSIST);
    let killed = false;
    t.teardown(() => { if (!killed) k9.kill('SIGKILL'); });
    await until(async () => n2.router.cluster!.state().nodes.includes('k9'), 5000, 'k9 seen');
    const c = await connect({ port: k9.port, extra: { authmethods: ['ticket'], authid: 'alice', onchallenge: () => 'alice-t' } });
    await c.session.subscribe('com.p.k9', () => undefined, { x_persistent: { name: 'k9', ttl: 60 } });
    const pub = await connect({ port: k9.port, extra: { authmethods: ['ticket'], authid: 'pub', onchallenge: () => 'pub-t' } });
    const liveOnN2: unknown[] = [];
    await (await login(n2, 'pub')).session.subscribe('com.p.k9.hist', (a: unknown[]) => { liveOnN2.push(a[0]); });
    await pub.session.publish('com.p.k9.hist', ['before the kill'], {}, { acknowledge: true });
    // Arrived on n2; k9's append to the history stream went out right behind it, on the same connection.
    await until(async () => liveOnN2.length === 1, 5000, 'the event live on n2');
    await until(async () => inbox(n3, 'k9')?.sessions.length === 1, 5000, 'held on k9, known on n3');
    const p2 = (await login(n2, 'pub')).session;
    k9.kill('SIGKILL');
    killed = true;
    await k9.exited;
    // Before the others see k9 gone (2 s without heartbeats): k9 can't deliver it, the others shadow it.
    await p2.publish('com.p.k9', ['while its node is dying'], {}, { acknowledge: true });
    t.equal(inbox(n3, 'k9')?.detached, null, 'still held on k9 as far as n3 knows');
    await until(async () => inbox(n3, 'k9')?.detached !== null && inbox(n2, 'k9')?.detached !== null, 4000, 'detached on the others within 3 s of the kill');
    await p2.publish('com.p.k9', ['after the kill'], {}, { acknowledge: true });
    await until(async () => inbox(n3, 'k9')?.events === 2, 5000, 'kept on n3');
    const back: unknown[] = [];
    await hold(n3, 'com.p.k9', 'k9', back);
    await until(async () => back.length >= 2, 5000, 'the replay');
    t.same(back, ['while its node is dying', 'after the kill'], 'replayed on another node, also what was published before the loss was seen');
    // A node started after the kill reads the killed node's publication from the cluster's history stream.
    const late = await startNode('n9', nats.url, PERSIST);
    nodes.push(late);
    const reader = (await login(late, 'pub')).session;
    const sub = await reader.subscribe('com.p.k9.hist', () => undefined);
    const items = await reader.call('wamp.subscription.get_events', [sub.id, 10]) as Item[];
    t.same(items.map((e) => e.args[0]), ['before the kill'], 'the killed node\'s event in the history of a node started after it died');
  });

  t.test('held on two nodes: an UNSUBSCRIBE on one keeps it, the last one of the cluster ends it; a ttl ends it on every node', async (t) => {
    const [n1, n2] = nodes as [Node, Node];
    const a = await login(n1, 'alice');
    const b = await login(n2, 'alice');
    const subA = await a.session.subscribe('com.p.two', () => undefined, { x_persistent: { name: 'two' } });
    const subB = await b.session.subscribe('com.p.two', () => undefined, { x_persistent: { name: 'two' } });
    await until(async () => nodes.every((n) => inbox(n, 'two')?.sessions.length === 2), 5000, 'held by two sessions on two nodes, everywhere');
    await subA.unsubscribe();
    await until(async () => nodes.every((n) => inbox(n, 'two')?.sessions.length === 1), 5000, 'one holder left');
    t.ok(nodes.every((n) => inbox(n, 'two')?.detached === null), 'still held (on n2)');
    await subB.unsubscribe();
    await until(async () => nodes.every((n) => inbox(n, 'two') === undefined), 5000, 'ended everywhere by the last UNSUBSCRIBE');
    const c = await login(n1, 'alice');
    await c.session.subscribe('com.p.ttl', () => undefined, { x_persistent: { name: 'short', ttl: 1 } });
    await until(async () => nodes.every((n) => inbox(n, 'short') !== undefined), 5000, 'known everywhere');
    c.connection.close();
    await until(async () => nodes.every((n) => inbox(n, 'short')?.detached !== null), 5000, 'detached everywhere');
    await until(async () => nodes.every((n) => inbox(n, 'short') === undefined), 5000, 'its ttl ended it on every node');
    t.pass('ttl');
  });

  t.test('drop on one node ends it on every node; a name is one subscription in the cluster', async (t) => {
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    await until(async () => nodes.every((n) => inbox(n, 'inbox') !== undefined), 5000, 'inbox known everywhere');
    const other = await login(n3, 'alice');
    const err = await other.session.subscribe('com.p.else', () => undefined, { x_persistent: { name: 'inbox' } }).then(() => 'subscribed', (e: { error: string }) => e.error);
    t.equal(err, 'wamp.error.invalid_option', 'the name is taken for another topic, also on another node');
    // The operator's procedures over WAMP, on two other nodes than the one holding it.
    const op = (await login(n2, 'pub')).session;
    const seen = await op.call('clawgate.persistent.list', ['alice']) as { name: string; sessions: number[] }[];
    t.same(seen.find((p) => p.name === 'inbox')?.sessions.length, 1, 'clawgate.persistent.list on another node lists it, with the session holding it');
    await (await login(n1, 'pub')).session.call('clawgate.persistent.drop', ['alice', 'inbox']);
    await until(async () => nodes.every((n) => inbox(n, 'inbox') === undefined), 5000, 'gone from every node');
    t.pass(`${n2.name}, ${n3.name} dropped it too`);
    const again = await op.call('clawgate.persistent.drop', ['alice', 'inbox']).then(() => 'dropped', (e: { error: string }) => e.error);
    t.equal(again, 'wamp.error.no_such_subscription', 'a second drop, on another node: no such subscription');
  });
});

t.test('persistent subscriptions in a node\'s sqlite store: what ended while the node was away stays ended, the rest joins the cluster', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-cluster-sqlite-'));
  const nats = await startNats();
  const running: Node[] = [];
  t.teardown(async () => { for (const n of running) await n.stop().catch(() => undefined); await stopNats(nats); rmSync(dir, { recursive: true, force: true }); });
  const realm = PERSIST.realms![0] as Record<string, unknown>;
  const withFile: NodeOptions = { ...PERSIST, cluster: 'sq', realms: [{ ...realm, store: { type: 'sqlite', path: join(dir, 'n1.db'), 'event-history': [] } }] };
  const plain: NodeOptions = { ...PERSIST, cluster: 'sq' };
  const names = (n: Node) => (n.router.realm('realm1')!.broker.persistent.list('alice', 100) as { name: string }[]).map((p) => p.name).sort();
  let n1 = await startNode('n1', nats.url, withFile);
  running.push(n1);
  const n2 = await startNode('n2', nats.url, plain);
  running.push(n2);
  await until(async () => n1.router.cluster!.state().nodes.length === 2, 5000, 'both nodes');
  const c = await connect({ port: n1.port, extra: { authmethods: ['ticket'], authid: 'alice', onchallenge: () => 'alice-t' } });
  await c.session.subscribe('com.s.keep', () => undefined, { x_persistent: { name: 'keep', ttl: 600 } });
  await c.session.subscribe('com.s.gone', () => undefined, { x_persistent: { name: 'gone', ttl: 600 } });
  c.connection.close();
  await until(async () => JSON.stringify(names(n2)) === '["gone","keep"]', 5000, 'both known on n2');
  running.splice(running.indexOf(n1), 1);
  await n1.stop();
  t.equal(n2.router.realm('realm1')!.broker.persistent.drop('alice', 'gone'), true, 'one dropped while n1 is away');
  n1 = await startNode('n1', nats.url, withFile);
  running.push(n1);
  t.same(names(n1), ['keep'], 'n1\'s file brought back only what the cluster still has');
  t.same(names(n2), ['keep']);
});
