// The claw nodes of startSystem() on their own worker threads, as an embedder
// (the keypress benchmark) uses them: line changes stamped in the node's
// thread, stats and lines across the thread boundary, stop. Started in this
// process from the TypeScript sources, so the workers must bring their own
// tsx loader (node-thread.ts).
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import t from 'tap';
import { startSystem } from '../src/system.js';
import { startNodeThreads } from '../src/node-thread.js';
import type { LineChange } from '../src/gpio-trace.js';
import { Player } from './hostile/player.js';
import { endpointOf } from './hostile/raw-wamp.js';
import { FAST_OVERRIDES, tempDir } from './helpers.js';

t.setTimeout(120_000);

t.test('nodes on worker threads: onLine, stats, lines, stop', async (t) => {
  const dir = tempDir(t);
  const system = await startSystem({ machines: 2, port: 0, host: '127.0.0.1', dataDir: join(dir, 'data'), logLevel: 'silent', overrides: FAST_OVERRIDES });
  t.teardown(() => system.stop());
  t.same(system.nodes.map((n) => n.id), ['claw-1', 'claw-2'], 'one handle per machine');
  t.ok(system.nodes.every((n) => n.threadId !== threadId) && new Set(system.nodes.map((n) => n.threadId)).size === 2, 'each on a thread of its own');

  const node = system.nodes[0]!;
  const changes: LineChange[] = [];
  const unwatch = node.onLine((c) => changes.push(c));
  const p = await Player.connect(endpointOf(system.url, system.wsUrl), 'Embedder', '127.0.0.1');
  t.teardown(() => p.close());
  const topic = await p.takeTurn('claw-1');
  const before = Date.now();
  await p.publish(topic, { command: 'rightOn' });
  await p.publish(topic, { command: 'rightOff' });
  const deadline = Date.now() + 15_000;
  while (changes.filter((c) => c.line === 'right').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const right = changes.filter((c) => c.line === 'right');
  t.same(right.map((c) => [c.machine, c.asserted]), [['claw-1', true], ['claw-1', false]], 'right asserted, then released');
  t.ok(right[0]!.at >= before - 5 && right[1]!.at >= right[0]!.at && right[1]!.at <= Date.now(), 'stamped in epoch ms, in order');
  t.ok(changes.some((c) => c.line === 'coin' && c.asserted), 'the coin pulse of the turn start was reported too');
  unwatch();

  const stats = await node.stats();
  t.ok(stats.turns >= 1 && stats.accepted >= 2, `stats across the thread boundary: ${stats.turns} turn(s), ${stats.accepted} commands accepted`);
  const lines = await node.lines();
  t.equal(lines.outputs.right, false, 'lines() across the thread boundary');
  t.ok(lines.claw !== undefined, 'with the simulated claw\'s position');

  await system.stop();
  await t.rejects(node.stats(), /not running/, 'a stopped node answers no more');
  await node.stop(); // idempotent
});

t.test('past the thread cap, nodes share threads round-robin; a bad config names its key', async (t) => {
  // No router needed: a node starts, and keeps trying to connect.
  const config = (machine: string, extra: Record<string, unknown> = {}) => ({ router: { url: 'ws://127.0.0.1:9/ws', realm: 'claw', auth: 'anonymous' as const }, machine, driver: 'simulated' as const, logLevel: 'silent' as const, ...extra });
  const nodes = await startNodeThreads(['m1', 'm2', 'm3'].map((m) => config(m)), { maxThreads: 2 });
  t.same(nodes.map((n) => n.id), ['m1', 'm2', 'm3'], 'handles in the order of the configs');
  t.equal(nodes[0]!.threadId, nodes[2]!.threadId, 'm1 and m3 share the first thread');
  t.not(nodes[0]!.threadId, nodes[1]!.threadId, 'm2 has the second');
  t.same((await Promise.all(nodes.map((n) => n.lines()))).map((l) => l.outputs.left), [false, false, false], 'each answers for itself');
  await nodes[0]!.stop();
  t.same((await nodes[2]!.stats()).turns, 0, 'stopping m1 leaves m3 on the shared thread running');
  await Promise.all(nodes.map((n) => n.stop()));
  await t.rejects(nodes[2]!.stats(), /not running/);

  await t.rejects(startNodeThreads([config('ok'), config('bad', { timings: { holdTimeoutMs: 0 } })], { maxThreads: 1 }), /timings\.holdTimeoutMs/, 'a config error names the key; the good node on the same thread is stopped again');
});
