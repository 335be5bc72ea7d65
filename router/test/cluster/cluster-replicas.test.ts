// `replicas` (issue 18's risk "a single nats-server is a single point of
// failure"): on a NATS cluster of three servers, every bucket and stream the
// cluster makes is kept in three copies, so the cluster's state outlives the
// server that led it. The server killed is the leader of the retained events'
// bucket: with one copy, that bucket would be gone with it. A third router
// node is started right after the kill: for tens of seconds JetStream answers
// some of its start's requests late or never (new leaders; watches placed on
// the dead server), and the node tries them again rather than failing
// (cluster/start-patience.ts; it failed every time before).
import t from 'tap';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, eventually, type AutobahnSession } from '../helpers.js';
import { haveNats, startNatsCluster, startNode, until, type NodeOptions } from './harness.js';

t.setTimeout(120_000);

t.test('replicas: 3 on three NATS servers: the cluster\'s state survives the server that led it', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const natsCluster = await startNatsCluster(3);
  t.teardown(() => natsCluster.stop());
  const opts: NodeOptions = { cluster: 'replicated', natsServers: natsCluster.urls, replicas: 3 };
  const n1 = await startNode('n1', natsCluster.urls[0]!, opts);
  t.teardown(() => n1.stop());
  const n2 = await startNode('n2', natsCluster.urls[1]!, opts);
  t.teardown(() => n2.stop());
  await eventually(() => n1.router.cluster!.state().nodes.length === 2, 10_000, 'n1 and n2 see each other');

  const a = await connect({ port: n1.port });
  t.teardown(() => a.connection.close());
  await a.session.register('com.rep.echo', (args: unknown[] | undefined) => ['echo', ...(args ?? [])]);
  await a.session.publish('com.rep.status', ['ready'], {}, { acknowledge: true, retain: true });

  // Every bucket and stream of the cluster has three copies.
  const nc = await natsConnect({ servers: natsCluster.urls });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const streams: { name: string; replicas: number; leader?: string; messages: number; last: number }[] = [];
  for await (const s of jsm.streams.list()) {
    if (s.config.name.includes('replicated')) streams.push({ name: s.config.name, replicas: s.config.num_replicas, leader: s.cluster?.leader, messages: s.state.messages, last: s.state.last_seq });
  }
  t.ok(streams.some((s) => s.name.includes('_retained_')) && streams.some((s) => s.name.includes('_registrations_')) && streams.some((s) => s.name.includes('_nodes')),
    'the nodes, registrations and retained buckets are there', { streams });
  t.same(streams.filter((s) => s.replicas !== 3), [], 'each with three replicas');

  // Kill the leader of the retained events' bucket: with one copy, the bucket would be gone with it.
  const retained = streams.find((s) => s.name.includes('_retained_'))!;
  t.ok(retained.messages >= 1, 'the retained event is in its bucket');
  const leader = natsCluster.servers.find((s) => s.name === retained.leader);
  t.ok(leader, `the retained bucket's leader is one of ours (${retained.leader})`);
  await leader!.kill();
  // n3 starts now, on the servers left, while the others elect new leaders.
  const n3Started = startNode('n3', natsCluster.urls.find((u) => u !== leader!.url)!, opts).catch((e: Error) => e);
  t.teardown(async () => { const n = await n3Started; if (!(n instanceof Error)) await n.stop(); });

  // The two servers left elect new leaders (seconds); until then JetStream's requests time out.
  let info!: Awaited<ReturnType<typeof jsm.streams.info>>;
  await until(async () => {
    info = await jsm.streams.info(retained.name);
    return info.cluster?.leader !== undefined && info.cluster.leader !== leader!.name;
  }, 30_000, 'a new leader of the retained bucket after the kill');
  t.same([info.state.messages, info.state.last_seq], [retained.messages, retained.last], `the bucket kept its content under its new leader (${info.cluster?.leader})`);
  const entry = await jsm.streams.getMessage(retained.name, { seq: retained.last });
  t.match(new TextDecoder().decode(entry!.data), /ready/, 'the retained event itself is readable from the servers left');

  // The nodes carry on (one of them may be moving to another server): a late subscriber on n2
  // gets the retained event, and a call from n2 reaches the callee on n1.
  const b = await connect({ port: n2.port });
  t.teardown(() => b.connection.close());
  const got: unknown[][] = [];
  await (b.session as AutobahnSession).subscribe('com.rep.status', (args: unknown[] | undefined) => { got.push(args ?? []); }, { get_retained: true });
  await eventually(() => got.length === 1, 10_000, 'the retained event on n2');
  t.same(got[0], ['ready']);
  let answer: unknown;
  await until(async () => { answer = await b.session.call('com.rep.echo', ['hi']); return true; }, 15_000, 'a call from n2 answered').catch(() => undefined);
  t.same(answer, ['echo', 'hi'], 'a call from n2 reaches the callee on n1 after the server\'s death');

  // The node started right after the kill is up, and a member like the others.
  const began = Date.now();
  const n3 = await n3Started;
  if (n3 instanceof Error) { t.fail(`n3, started right after the kill, failed its start: ${n3.message}`); return; }
  t.comment(`n3 started (waited ${Date.now() - began} ms more here)`);
  await eventually(() => n3.router.cluster!.state().nodes.join() === 'n1,n2,n3', 10_000, 'n3 sees n1 and n2');
  const c = await connect({ port: n3.port });
  t.teardown(() => c.connection.close());
  const late: unknown[][] = [];
  await (c.session as AutobahnSession).subscribe('com.rep.status', (args: unknown[] | undefined) => { late.push(args ?? []); }, { get_retained: true });
  await eventually(() => late.length === 1, 10_000, 'the retained event on n3');
  t.same(late[0], ['ready'], 'n3 has the cluster\'s retained event');
  t.same(await c.session.call('com.rep.echo', ['n3']), ['echo', 'n3'], 'a call from n3 reaches the callee on n1');
});
