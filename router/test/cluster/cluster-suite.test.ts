// The "Done means": a third-party integration suite that passes
// against one router, run through a TCP balancer that sends each new
// connection to the next of three nodes, each started as
// `clawgate-router --config FILE --node nK --nats nats://127.0.0.1:PORT`, one
// nats-server with JetStream. The suite is the WAMP specification's own test
// vectors (wamp-testsuite-vectors.ts, the harness of wamp-testsuite.test.ts):
// every vector that needs a router is replayed here, and since the balancer
// gives each new connection the next node, the sessions of one vector (a
// subscriber, a publisher, a late subscriber) are on different nodes. Then a
// real client library, autobahn-js, through the same balancer: PubSub, RPC,
// progressive results and the session meta API, each across nodes.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autobahn, connect, killGroupOnExit, testConfig, type AutobahnSession } from '../helpers.js';
import { Wire } from '../wire.js';
import { disclosingRealm, wampTestsuite } from '../wamp-testsuite-vectors.js';
import { haveNats, startNats, stopNats, until, type NodeProcess } from './harness.js';
import { startBalancer } from './balancer.js';

const REALMS = [(testConfig() as { workers: { realms: unknown[] }[] }).workers[0]!.realms[0], disclosingRealm('disclosing')];
// Beside /ws (anonymous with random authids, as the suite expects), /svc: anonymous as authid `svc`,
// for a service that comes back on another node under the same authid (force_reregister).
const TRANSPORT = { websocket: { ws: { type: 'websocket' }, svc: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'anonymous', authid: 'svc' } } } } };
const BIN = fileURLToPath(new URL('../../bin/clawgate-router.js', import.meta.url));

/** `clawgate-router --config FILE --node NAME --nats URL`, as the issue says; resolves once it logged `router started`. */
async function spawnSuiteNode(name: string, natsUrl: string): Promise<NodeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-suite-node-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(testConfig({ realms: REALMS, transportExtras: TRANSPORT })));
  const proc = spawn(process.execPath, [BIN, '--config', file, '--node', name, '--nats', natsUrl, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  killGroupOnExit(proc);
  const exited = new Promise<void>((r) => proc.once('exit', () => { rmSync(dir, { recursive: true, force: true }); r(); }));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = out.split('\n').find((l) => l.includes('"router started"'));
      if (line === undefined) return;
      clearInterval(timer);
      resolve(Object.values((JSON.parse(line) as { ports: Record<string, number> }).ports)[0]!);
    }, 20);
    proc.once('exit', (code) => { clearInterval(timer); reject(new Error(`node ${name} exited with ${code}: ${out}`)); });
  });
  const kill = (signal: NodeJS.Signals): void => { try { process.kill(-proc.pid!, signal); } catch { /* gone */ } };
  return { name, proc, port, url: `ws://127.0.0.1:${port}/ws`, exited, kill };
}

t.test('a three-node cluster behind a balancer', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const nats = await startNats();
  const nodes: NodeProcess[] = [];
  t.teardown(async () => {
    for (const n of nodes) { n.kill('SIGTERM'); }
    await Promise.race([Promise.all(nodes.map((n) => n.exited)), new Promise((r) => setTimeout(r, 8000))]);
    for (const n of nodes) n.kill('SIGKILL');
    await stopNats(nats);
  });
  // One after the other: each claims its name and slot before the next.
  for (const name of ['n1', 'n2', 'n3']) nodes.push(await spawnSuiteNode(name, nats.url));
  const lb = await startBalancer(nodes.map((n) => ({ port: n.port })));
  t.teardown(() => lb.stop());
  // Every node must see the other two before the first vector (a node's cluster state, through the balancer's next pick).
  await until3(nodes);

  t.test('the WAMP test vectors through the balancer', async (t) => {
    const first = lb.picks.length;
    wampTestsuite(t, {
      offline: false, // the vectors that need no router ran in wamp-testsuite.test.ts
      target: {
        plain: async () => ({ url: lb.url, realm: 'realm1' }),
        disclosing: async () => ({ url: lb.url, realm: 'disclosing' }),
      },
    });
    t.test('the suite\'s sessions were on all three nodes', async (t) => {
      const picks = lb.picks.slice(first);
      t.same([...new Set(picks)].sort(), [0, 1, 2], `the suite's ${picks.length} connections went to all three nodes`);
    });
  });

  t.test('autobahn-js through the balancer: sessions on three nodes', async (t) => {
    const open = async (): Promise<AutobahnSession> => {
      const c = await connect({ url: lb.url, port: lb.port });
      t.teardown(() => { try { c.connection.close(); } catch { /* closed */ } });
      return c.session;
    };
    const from = lb.picks.length;
    const a = await open();
    const b = await open();
    const c = await open();
    t.same(lb.picks.slice(from), [0, 1, 2].map((i) => (lb.picks[from]! + i) % 3), 'a, b and c on three different nodes');

    // PubSub: a subscribes (exact and prefix), b publishes, a gets one EVENT per subscription, in order.
    const got: unknown[] = [];
    await a.subscribe('com.suite.topic', (args: unknown[]) => got.push(['exact', ...args]));
    await a.subscribe('com.suite', (args: unknown[]) => got.push(['prefix', ...args]), { match: 'prefix' });
    for (let i = 0; i < 5; i++) await b.publish('com.suite.topic', [i], {}, { acknowledge: true });
    await waitFor(() => got.length === 10, 'a gets 10 events');
    t.same(got.filter((g) => (g as unknown[])[0] === 'exact').map((g) => (g as unknown[])[1]), [0, 1, 2, 3, 4], 'events of b reach a on another node, in order');

    // RPC: a registers, c (a third node) calls; an error of the callee arrives unchanged.
    await a.register('com.suite.add', (args: number[]) => args[0]! + args[1]!);
    await a.register('com.suite.fail', () => { throw new autobahn.Error('com.suite.error.nope', ['no'], { why: 1 }); });
    t.equal(await c.call('com.suite.add', [2, 3]), 5, 'a call from c to a callee on another node');
    const err = await c.call('com.suite.fail').then(() => undefined, (e: { error: string; args: unknown[]; kwargs: unknown }) => e);
    t.same([err?.error, err?.args, err?.kwargs], ['com.suite.error.nope', ['no'], { why: 1 }], 'the callee\'s error unchanged');

    // Progressive results: b registers a callee that sends three progress chunks, c calls with receive_progress.
    await b.register('com.suite.count', (args: number[], _kw: unknown, details: { progress?: (a: unknown[]) => void }) => {
      for (let i = 1; i <= args[0]!; i++) details.progress?.([i]);
      return 'done';
    });
    const progress: unknown[] = [];
    // autobahn: then(result, error, progress); a single-argument result or progress comes as the value itself.
    const result = await new Promise((resolve, reject) => {
      c.call('com.suite.count', [3], {}, { receive_progress: true }).then(resolve, reject, (p: unknown) => progress.push(p));
    });
    t.same(progress, [1, 2, 3], 'progressive results across nodes, in order');
    t.equal(result, 'done', 'then the final result');

    // Meta: every node's wamp.session.list lists the sessions of all three.
    const ids = [a.id, b.id, c.id] as number[];
    for (const [name, s] of [['a', a], ['b', b], ['c', c]] as const) {
      const list = await s.call('wamp.session.list') as number[];
      t.ok(ids.every((id) => list.includes(id)), `wamp.session.list on ${name}'s node lists a, b and c`);
      const info = await s.call('wamp.session.get', [ids[(ids.indexOf(s.id as number) + 1) % 3]]) as { session: number };
      t.equal(info.session, ids[(ids.indexOf(s.id as number) + 1) % 3], `wamp.session.get on ${name}'s node finds a session of another node`);
    }
  });

  // Last: it kills n3. A service (authid `svc`, one `single` callee) on n3; n3 is killed; the service
  // comes back on n1 at once with force_reregister, before the others have seen n3 gone (2.75 s):
  // a call from n2 must reach the new callee, not the dead node's (which would end with
  // clawgate.error.cluster_unavailable once n3 is seen gone).
  t.test('force_reregister on another node while the old callee\'s node is dead and not yet seen gone', async (t) => {
    const svcUrl = (n: NodeProcess): string => `ws://127.0.0.1:${n.port}/svc`;
    const old = Wire.connect({ url: svcUrl(nodes[2]!), codec: 'json-text' });
    await old.join('realm1');
    old.send([64, 1, { force_reregister: true }, 'com.suite.service']);
    await old.next(65);
    const caller = Wire.connect({ url: nodes[1]!.url, codec: 'json-text' });
    await caller.join('realm1');
    t.teardown(() => { caller.end(); });

    nodes[2]!.kill('SIGKILL');
    await nodes[2]!.exited;
    const fresh = Wire.connect({ url: svcUrl(nodes[0]!), codec: 'json-text' });
    const freshId = await fresh.join('realm1');
    t.teardown(() => { fresh.end(); });
    fresh.send([64, 1, { force_reregister: true }, 'com.suite.service']);
    t.equal((await fresh.next())[0], 65, 'REGISTERED on n1 (the claim taken over from the dead node\'s callee)');

    // The takeover reaches n2's view through the table's watch a moment later (a CALL that finds a
    // callee does not wait for the table, docs/cluster.md "Causality"): n2 must come to list the new
    // callee alone, and soon: the dead node is seen gone only ~2 s after its last heartbeat, which is
    // what removed the old callee before the takeover deleted its entry itself.
    let request = 0;
    const callees = async (): Promise<unknown> => {
      const reg = await caller.call(++request, 'wamp.registration.match', ['com.suite.service']);
      if (reg[0] !== 50 || typeof (reg[3] as unknown[])?.[0] !== 'number') return undefined;
      const list = await caller.call(++request, 'wamp.registration.list_callees', [(reg[3] as number[])[0]]);
      return list[0] === 50 ? (list[3] as unknown[])[0] : undefined;
    };
    let seen: unknown;
    await until(async () => JSON.stringify(seen = await callees()) === JSON.stringify([freshId]), 1500, 'n2 lists the new callee').catch(() => undefined);
    t.same(seen, [freshId], 'n2 lists the new callee on n1 as the only one within 1.5 s of REGISTERED');

    caller.send([48, ++request, {}, 'com.suite.service', ['hi']]);
    const inv = await fresh.next(68, 5000);
    fresh.send([70, inv[1], {}, ['from n1']]);
    const answer = await caller.next(undefined, 5000);
    t.same([answer[0], answer[answer[0] === 50 ? 3 : 4]], [50, ['from n1']], 'the call from n2 reached the new callee on n1, not the dead node\'s', { answer });
  });
});

async function waitFor(fn: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every node's /health lists three nodes. */
async function until3(nodes: NodeProcess[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const sizes = await Promise.all(nodes.map(async (n) => {
      const r = await fetch(`http://127.0.0.1:${n.port}/health`).then((x) => x.json() as Promise<{ cluster?: { nodes?: unknown[] } }>, () => undefined);
      return r?.cluster?.nodes?.length ?? 0;
    }));
    if (sizes.every((s) => s === 3)) return;
    if (Date.now() > deadline) throw new Error(`the nodes did not see each other within 10 s: ${sizes.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
