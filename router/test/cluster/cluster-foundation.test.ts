// Stage 1 of the cluster (docs/cluster.md): its config and CLI flags,
// membership (a node gone within 3 s, names unique among live nodes) and the
// identity space (session ids carry their node's slot; one subscription id
// per (topic, match) on every node). Real nats-server, real router nodes.
import t from 'tap';
import { createRequire } from 'node:module';
import { fromCrossbar, ConfigError } from '../../src/config/crossbar-config.js';
import { connect, eventually, sleep, startRouter, testConfig } from '../helpers.js';
import { haveNats, nodeConfig, spawnNode, startNats, startNode, startNodes, stopNats, type Nats, type Node, until } from './harness.js';
import { Router } from '../../src/router.js';
import { silentLogger } from '../../src/logger.js';
import { NODE_SLOTS } from '../../src/ids.js';
import { Wire, ROLES } from '../wire.js';

t.test('config: the cluster section, its secrets and the CLI overrides', async (t) => {
  const base = nodeConfig('n1', 'nats://127.0.0.1:4222') as { workers: Record<string, unknown>[] };
  t.same(fromCrossbar(base).config.cluster, { node: 'n1', name: 'clawgate', nats: { servers: ['nats://127.0.0.1:4222'] }, historyAppends: { count: 4096, bytes: 64 * 1024 * 1024 }, replicas: 1, markerAgeMs: 900_000 });
  const bounded = structuredClone(base);
  Object.assign(bounded.workers[0]!.cluster as Record<string, unknown>, { max_history_appends: 100, max_history_append_bytes: 1 << 20 });
  t.same(fromCrossbar(bounded).config.cluster!.historyAppends, { count: 100, bytes: 1 << 20 }, 'the bounds of history appends in flight');
  const replicated = structuredClone(base);
  (replicated.workers[0]!.cluster as Record<string, unknown>).replicas = 3;
  t.equal(fromCrossbar(replicated).config.cluster!.replicas, 3, 'replicas: copies of every bucket and stream (cluster-replicas.test.ts)');
  const aged = structuredClone(base);
  (aged.workers[0]!.cluster as Record<string, unknown>).marker_age = 2.5;
  t.equal(fromCrossbar(aged).config.cluster!.markerAgeMs, 2500, 'marker_age: seconds the delete markers of the cluster tables stay (cluster-markers.test.ts)');
  t.equal(fromCrossbar(testConfig()).config.cluster, undefined, 'no cluster without the section or flags');
  const over = fromCrossbar(base, {}, { cluster: { node: 'n7', nats: 'nats://10.0.0.1:4333' } }).config.cluster!;
  t.same([over.node, over.nats.servers], ['n7', ['nats://10.0.0.1:4333']], '--node and --nats override the file');
  const flagsOnly = fromCrossbar(testConfig(), {}, { cluster: { node: 'x', nats: 'nats://127.0.0.1:1' } }).config.cluster!;
  t.equal(flagsOnly.node, 'x', 'the flags alone make a cluster node');
  const creds = structuredClone(base);
  (creds.workers[0]!.cluster as Record<string, unknown>).nats = { servers: 'nats://h:1', user: 'router', password: { env: 'NATS_PW' } };
  t.same(fromCrossbar(creds, { env: { NATS_PW: 's3cret' } }).config.cluster!.nats, { servers: ['nats://h:1'], user: 'router', pass: 's3cret' });
  t.throws(() => fromCrossbar(creds, { env: {} }), /invalid config at workers\[0\]\.cluster\.nats\.password: environment variable NATS_PW is not set/);
  const bad = (cluster: unknown, msg: RegExp, overrides = {}): void => {
    const c = structuredClone(base);
    c.workers[0]!.cluster = cluster;
    t.throws(() => fromCrossbar(c, {}, { cluster: overrides }), msg);
  };
  bad({ nats: { servers: ['nats://h:1'] } }, /workers\[0\]\.cluster\.node: a cluster node needs a name/);
  bad({ node: 'a.b', nats: { servers: ['nats://h:1'] } }, /workers\[0\]\.cluster\.node: 1 to 64 characters/);
  bad({ node: 'a' }, /workers\[0\]\.cluster\.nats\.servers: a cluster node needs the NATS servers/);
  bad({ node: 'a', nats: { servers: ['http://h:1'] } }, /cluster\.nats\.servers\[0\]: a NATS server URL/);
  bad({ node: 'a', nats: { servers: ['nats://h:1'], user: 'u' } }, /cluster\.nats: user and password go together/);
  bad({ node: 'a', nats: { servers: ['nats://h:1'], server: 1 } }, /cluster\.nats\.server: unknown key; did you mean "servers"/);
  bad({ node: 'a', nats: { servers: ['nats://h:1'] } }, /invalid --node/, { node: 'bad name' });
  bad({ node: 'a', nats: { servers: ['nats://h:1'] }, max_history_appends: 0 }, /cluster\.max_history_appends/);
  bad({ node: 'a', nats: { servers: ['nats://h:1'] }, replicas: 0 }, /cluster\.replicas/);
  bad({ node: 'a', nats: { servers: ['nats://h:1'] }, replicas: 6 }, /cluster\.replicas/);
  bad({ node: 'a', nats: { servers: ['nats://h:1'] }, marker_age: 0.5 }, /cluster\.marker_age/);
  bad({ node: 'a', nats: { servers: ['nats://h:1'] }, marker_age: '15m' }, /cluster\.marker_age/);
  t.ok(new ConfigError('x'));
});

/** The NATS client's files loaded in this process (CommonJS packages: they are in require's cache once imported). */
const natsLoaded = (): string[] => Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('@nats-io'));

// Before any cluster node runs in this process (tap runs these tests in order).
t.test('a router without cluster never loads the NATS client', async (t) => {
  t.same(natsLoaded(), [], 'not loaded with the router\'s modules');
  const r = await startRouter();
  const c = await connect({ port: r.port });
  t.equal(await c.session.call('wamp.session.count'), 1, 'the router serves');
  c.connection.close();
  await r.stop();
  t.same(natsLoaded(), [], 'nor by its start, sessions and stop');
});

/** A HELLO on `node` (a ticket answered when asked): WELCOME (2) or ABORT (3) with its reason and message; the connection is kept in `opened`. */
async function hello(node: Node, opened: Wire[], authid?: string, ticket?: string): Promise<{ c: Wire; type: number; reason?: string; message?: string }> {
  const c = await Wire.open({ kind: 'ws', port: node.port });
  opened.push(c);
  c.send([1, 'realm1', authid === undefined ? ROLES : { ...ROLES, authmethods: ['ticket'], authid }]);
  let m = await c.next();
  if (m[0] === 4) { c.send([5, ticket, {}]); m = await c.next(); }
  return m[0] === 3 ? { c, type: 3, reason: m[2] as string, message: (m[1] as { message: string }).message } : { c, type: m[0] as number };
}

/** `nodes[i]` sees `n` sessions on the other nodes (their session table entries arrived). */
function sees(nodes: Node[], i: number, n: number): Promise<unknown> {
  return eventually(() => nodes[i]!.router.findRealm('realm1')!.meta.cluster!.remote().length === n, 5000, `n${i + 1} sees ${n} sessions elsewhere`);
}

t.test('a cluster', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  let nats!: Nats;
  t.before(async () => { nats = await startNats(); });
  t.teardown(() => stopNats(nats));

  t.test('nodes see each other; a clean stop is seen at once; one subscription id per (topic, match) on every node', async (t) => {
    const [a, b] = await startNodes(2, nats.url, { cluster: 'ids' });
    t.teardown(async () => { await a!.stop(); await b!.stop(); });
    const sa = a!.router.cluster!.state();
    const sb = b!.router.cluster!.state();
    t.same(sa.nodes, ['n1', 'n2']);
    t.ok(natsLoaded().some((f) => f.includes('transport-node')), 'a cluster node loads the NATS client (at its start)');
    t.not(sa.slot, sb.slot, 'each node has a slot of its own');
    t.equal(sa.nats, 'connected');
    const health = await (await fetch(`http://127.0.0.1:${a!.port}/health`)).json() as { cluster: { nodes: string[] } };
    t.same(health.cluster.nodes, ['n1', 'n2'], '/health reports the nodes seen');
    const ca = await connect({ port: a!.port });
    const cb = await connect({ port: b!.port });
    const ids = await Promise.all([
      ca.session.subscribe('com.t', () => {}), cb.session.subscribe('com.t', () => {}),
      ca.session.subscribe('com.', () => {}, { match: 'prefix' }), cb.session.subscribe('com.', () => {}, { match: 'prefix' }),
      ca.session.register('com.p', () => 1, { invoke: 'roundrobin' }),
    ]);
    t.equal(ids[0].id, ids[1].id, 'the same exact subscription on two nodes has one id');
    t.equal(ids[2].id, ids[3].id, 'the same prefix subscription on two nodes has one id');
    t.not(ids[0].id, ids[2].id, 'another (topic, match) has another');
    const c2 = await connect({ port: b!.port });
    t.equal((await c2.session.register('com.p', () => 2, { invoke: 'roundrobin' })).id, ids[4].id, 'a registration of one procedure has one id on every node');
    // /metrics: the cluster's part.
    await ca.session.publish('com.t', ['x'], {}, { acknowledge: true });
    const metrics = await (await fetch(`http://127.0.0.1:${a!.port}/metrics`)).text();
    t.match(metrics, /^clawgate_cluster_nodes 2$/m, '/metrics: nodes seen');
    t.match(metrics, /^clawgate_cluster_nats_connected 1$/m, '/metrics: NATS connection');
    t.match(metrics, /^clawgate_cluster_nats_rtt_seconds \d/m, '/metrics: NATS round trip');
    const out = /^clawgate_cluster_messages_total\{direction="out"\} (\d+)$/m.exec(metrics);
    t.ok(out !== null && Number(out[1]) >= 1, `/metrics: cross-node messages out (${out?.[1]})`);
    t.match(metrics, /^clawgate_cluster_messages_total\{direction="in"\} \d+$/m);
    ca.connection.close(); cb.connection.close(); c2.connection.close();
    // A third node leaves cleanly: the others know at once (its bye), not after the timeout.
    const c = await startNode('n3', nats.url, { cluster: 'ids' });
    await eventually(() => a!.router.cluster!.state().nodes.length === 3, 5000, 'n3 seen');
    const watcher = await connect({ port: a!.port });
    t.teardown(() => watcher.connection.close());
    const leaves: unknown[][] = [];
    await watcher.session.subscribe('wamp.session.on_leave', (x: unknown[]) => { leaves.push(x); });
    const onC = await connect({ port: c.port });
    await until(async () => ((await watcher.session.call('wamp.session.list')) as number[]).includes(onC.session.id as number), 5000, 'n3\'s session in the table');
    // autobahn forgets the id when its session ends.
    const idC = onC.session.id as number;
    const stopped = Date.now();
    await c.stop();
    await eventually(() => a!.router.cluster!.state().nodes.length === 2, 5000, 'n3 gone');
    t.ok(Date.now() - stopped < 1500, `a clean stop is seen at once (${Date.now() - stopped} ms)`);
    await eventually(() => leaves.some((x) => x[0] === idC), 5000, 'on_leave of n3\'s session');
    await sleep(500);
    t.equal(leaves.filter((x) => x[0] === idC).length, 1, 'a clean stop: one on_leave per session (its own node\'s), none made up by the others');
  });

  t.test('session limits count the cluster: max_sessions, max_sessions_per_authid and reserved_sessions over sessions on several nodes; a lost node frees its share', async (t) => {
    const ALLOW_ALL = [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } }];
    const auth = {
      ticket: { type: 'static', principals: { alice: { ticket: 'a', role: 'player' }, ops: { ticket: 'o', role: 'ops' } } },
      anonymous: { type: 'static', role: 'anonymous', authid: 'shared-anon' },
    };
    const opts = {
      cluster: 'limits',
      realms: [{
        name: 'realm1',
        options: { limits: { max_sessions: 4 } },
        roles: [
          { name: 'anonymous', permissions: ALLOW_ALL },
          { name: 'player', permissions: ALLOW_ALL, limits: { max_sessions_per_authid: 2 } },
          { name: 'ops', permissions: ALLOW_ALL, limits: { reserved_sessions: 1 } },
        ],
      }],
      transportExtras: { websocket: { ws: { type: 'websocket', auth } } },
    };
    const nodes = await startNodes(3, nats.url, opts);
    t.teardown(async () => { for (const n of nodes) await n.stop().catch(() => undefined); });
    const opened: Wire[] = [];
    t.teardown(() => { for (const c of opened) c.close(); });
    const helloOn = (i: number, authid?: string, ticket?: string): ReturnType<typeof hello> => hello(nodes[i]!, opened, authid, ticket);
    const seen = (i: number, n: number): Promise<unknown> => sees(nodes, i, n);

    t.equal((await helloOn(0, 'alice', 'a')).type, 2, 'alice on n1');
    t.equal((await helloOn(2, 'alice', 'a')).type, 2, 'alice on n3');
    await seen(1, 2);
    const third = await helloOn(1, 'alice', 'a');
    t.same([third.type, third.reason], [3, 'clawgate.error.too_many_sessions'], 'a third alice on n2 is refused: her sessions on n1 and n3 count');
    t.match(third.message, /authid "alice" already has 2 sessions on realm "realm1" \(limit 2\)/);

    t.equal((await helloOn(0)).type, 2, 'an anonymous session on n1: 3 sessions in the cluster');
    await seen(1, 3);
    const full = await helloOn(1);
    t.same([full.type, full.reason], [3, 'clawgate.error.too_many_sessions'], 'n2 is empty but the realm is full for anonymous (4 minus the unused reservation of ops)');
    t.match(full.message, /has reached its limit of 4 sessions \(1 of them kept for the roles ops\)/);
    t.equal((await helloOn(1, 'ops', 'o')).type, 2, 'ops takes its reserved session on n2');
    await seen(0, 2);
    t.equal((await helloOn(0)).type, 3, 'the realm is full on n1 too (4 sessions over three nodes)');

    // n3 is lost (its NATS connection closed: a kill or a cut as the others see it): its alice no longer counts.
    await nodes[2]!.router.cluster!.nc.close();
    const lost = Date.now();
    await eventually(() => !nodes[1]!.router.cluster!.state().nodes.includes('n3'), 5000, 'n3 gone for n2');
    t.equal((await helloOn(1, 'alice', 'a')).type, 2, `alice may join on n2 once n3 is gone (${Date.now() - lost} ms after the cut)`);
    await eventually(() => nodes[0]!.router.findRealm('realm1')!.meta.cluster!.remote().map((x) => x.node).join() === 'n2,n2', 5000, 'n1 sees n3 gone and n2\'s two sessions');
    const again = await helloOn(0);
    t.equal(again.type, 3, 'the share of n3 went to the new alice: the realm is full again');
  });

  t.test('max_sessions_per_address counts the cluster: one client address over several nodes behind a balancer', async (t) => {
    const opts = {
      cluster: 'per-address',
      realms: [{ name: 'realm1', options: { limits: { max_sessions_per_address: 2 } }, roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }] }] }],
    };
    const nodes = await startNodes(3, nats.url, opts);
    t.teardown(async () => { for (const n of nodes) await n.stop().catch(() => undefined); });
    const opened: Wire[] = [];
    t.teardown(() => { for (const c of opened) c.close(); });
    const first = await hello(nodes[0]!, opened);
    t.equal(first.type, 2, '127.0.0.1 on n1');
    t.equal((await hello(nodes[2]!, opened)).type, 2, '127.0.0.1 on n3');
    await sees(nodes, 1, 2);
    const third = await hello(nodes[1]!, opened);
    t.equal(third.type, 3, 'a third session from 127.0.0.1 on n2 is refused: its sessions on n1 and n3 count');
    t.match(third.message, /client address \S+ already has 2 sessions on realm "realm1" \(limit 2\)/);
    first.c.close();
    await sees(nodes, 1, 1);
    t.equal((await hello(nodes[1]!, opened)).type, 2, 'once the one on n1 has left, n2 admits it');
  });

  t.test('a node name is taken by one live node only', async (t) => {
    const a = await startNode('same', nats.url, { cluster: 'names' });
    t.teardown(() => a.stop());
    const { config } = fromCrossbar(nodeConfig('same', nats.url, { cluster: 'names' }));
    const second = new Router(config, { log: silentLogger() });
    await t.rejects(second.start(), /cluster node name "same" is held by a live node of cluster "names"/);
    t.same(second.ports(), { test: 0 }, 'nothing listens');
  });

  t.test('CLI nodes: session ids carry the node slot; kill -9 is seen within 3 s', async (t) => {
    const watcher = await startNode('watcher', nats.url, { cluster: 'cli' });
    t.teardown(() => watcher.stop());
    const [p1, p2] = await Promise.all([spawnNode('p1', nats.url, { cluster: 'cli' }), spawnNode('p2', nats.url, { cluster: 'cli' })]);
    t.teardown(async () => { p1.kill('SIGKILL'); p2.kill('SIGKILL'); await Promise.all([p1.exited, p2.exited]); });
    await eventually(() => watcher.router.cluster!.state().nodes.length === 3, 5000, 'p1 and p2 seen');
    for (const p of [p1, p2]) {
      const health = await (await fetch(`http://127.0.0.1:${p.port}/health`)).json() as { cluster: { slot: number; node: string } };
      t.equal(health.cluster.node, p.name);
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await connect({ port: p.port });
        ids.push(c.session.id as number);
        c.connection.close();
      }
      t.same(ids.map((id) => id % NODE_SLOTS), [health.cluster.slot, health.cluster.slot, health.cluster.slot], `${p.name}'s session ids end in its slot ${health.cluster.slot}`);
    }
    await sleep(600); // past one heartbeat after the sessions
    const killed = Date.now();
    p1.kill('SIGKILL');
    await eventually(() => !watcher.router.cluster!.state().nodes.includes('p1'), 4000, 'p1 gone');
    const took = Date.now() - killed;
    t.ok(took < 3000, `a killed node is gone within 3 s (${took} ms)`);
    t.ok(watcher.router.cluster!.state().nodes.includes('p2'), 'the others stay');
  });
});
