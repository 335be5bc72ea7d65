// Retained events (issue 13, attack 2): a player published `retain: true` on
// its control topic, and 40 × 8 MiB stayed in the router after it left.
// Now: who may retain at all is a permission (`allow.retain`; the claw
// config gives it only to the claws' status/lines and the backend's queue),
// a retained event has a size cap, and the realm a count and a byte total;
// a testament asking to be retained obeys the same. Asserted on the claw
// config itself and on a generic realm (where retain follows publish, as in
// Crossbar), by one publisher and by several at once: the retained bytes and
// the heap stay under the configured bounds.
import t from 'tap';
import { Wire } from './wire.js';
import { startHostileRouter, startClawRouter, clawLogin, heapUsed, MiB } from './hostile-helpers.js';
import { testConfig } from './helpers.js';

t.test('claw config: players never retain, and their control messages are small', async (t) => {
  const r = await startClawRouter();
  t.teardown(() => r.stop());
  const broker = r.router.realm('claw')!.broker;

  const node = await Wire.open({ kind: 'ws', port: r.port });
  t.equal((await clawLogin(node, { role: 'claw', authid: 'm1' }))[0], 2, 'the claw node m1 logs in');
  node.send([32, 1, { match: 'prefix' }, 'claw.machine.m1.control.']);
  await node.next(33);

  const player = await Wire.open({ kind: 'ws', port: r.port });
  t.equal((await clawLogin(player, { role: 'player', authid: 'palice' }))[0], 2, 'a player logs in');
  const control = 'claw.machine.m1.control.palice';

  player.send([16, 1, { acknowledge: true }, control, [{ command: 'leftOn' }]]);
  t.same((await player.next(undefined, 5000)).slice(0, 2), [17, 1], 'a control command is published');
  t.same((await node.next(36, 5000))[4], [{ command: 'leftOn' }], 'and reaches the node');

  player.send([16, 2, { acknowledge: true, retain: true }, control, [{ command: 'rightOn' }]]);
  const refused = await player.next(8, 5000);
  t.equal(refused[4], 'wamp.error.not_authorized', 'retain on a control topic: not_authorized');
  t.match((refused[5] as string[])[0], /may not retain events on topic "claw\.machine\.m1\.control\.palice"/);
  for (let i = 3; i < 43; i++) player.send([16, i, { retain: true }, control, [{ command: 'rightOn', n: i }]]);
  player.send([16, 43, { acknowledge: true }, control, [{ command: 'leftOff' }]]);
  await player.next(17, 5000);
  t.same(broker.retainedHoldings(), { count: 0, bytes: 0 }, 'nothing was retained');
  await node.next(36, 5000); // leftOff
  t.notOk(node.messages.some((m) => m[0] === 36 && (m[4] as { command: string }[])[0]!.command === 'rightOn'), 'and refused publications were not delivered either');

  player.send([16, 44, { acknowledge: true }, control, [{ command: 'leftOn', padding: 'p'.repeat(600) }]]);
  const big = await player.next(8, 5000);
  t.equal(big[4], 'clawgate.error.payload_too_large', 'a control publication over 512 bytes is refused');
  t.match((big[5] as string[])[0], /larger than the 512 bytes allowed on topic/);

  node.send([16, 2, { acknowledge: true, retain: true }, 'claw.machine.m1.status', [{ state: 'ready', since: 1 }]]);
  t.equal((await node.next(17, 5000))[1], 2, 'the node retains its status');
  node.send([16, 3, { acknowledge: true, retain: true }, 'claw.machine.m1.events', [{ type: 'turn_started' }]]);
  t.equal((await node.next(8, 5000))[4], 'wamp.error.not_authorized', 'but not its events (the protocol does not retain them)');
  t.equal(broker.retainedHoldings().count, 1);

  player.send([48, 45, {}, 'wamp.session.add_testament', [control, [{ command: 'rightOn' }], {}], { publish_options: { retain: true } }]);
  t.equal((await player.next(8, 5000))[4], 'wamp.error.not_authorized', 'a player may not even add a testament (no meta API)');
  t.ok(r.router.limitCounters.retainRefused >= 41, 'retain refusals are counted');
  node.close();
  player.close();
});

t.test('a realm where anyone may retain (Crossbar\'s default): count, size and bytes are bounded', async (t) => {
  const r = await startHostileRouter(testConfig({
    realms: [{
      name: 'realm1',
      options: { limits: { max_retained: 50, max_retained_size: 70_000, max_retained_bytes: 1 * MiB, publish_rate: null } },
      roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { publish: true, subscribe: true, call: true } }] }],
    }],
  }));
  t.teardown(() => r.stop());
  const broker = r.router.realm('realm1')!.broker;
  const heap0 = heapUsed();

  const c = await Wire.open({ kind: 'raw', port: r.port });
  await c.join();
  c.send([16, 1, { acknowledge: true, retain: true }, 'com.big', ['x'.repeat(100_000)]]);
  const tooBig = await c.next(8, 5000);
  t.equal(tooBig[4], 'clawgate.error.retain_limit');
  t.match((tooBig[5] as string[])[0], /larger than the 70000 bytes an event may have to be retained \(max_retained_size\)/);

  // Several publishers at once, each retaining on 40 topics.
  const publishers = await Promise.all(Array.from({ length: 4 }, async () => { const w = await Wire.open({ kind: 'ws', port: r.port }); await w.join(); return w; }));
  const retainedTopics: string[] = [];
  const answers = await Promise.all(publishers.map(async (w, p) => {
    for (let i = 1; i <= 40; i++) w.send([16, i, { acknowledge: true, retain: true }, `com.t.${p}.${i}`, ['y'.repeat(1000)]]);
    const out: Record<string, number> = {};
    for (let i = 1; i <= 40; i++) {
      const m = await w.next(undefined, 5000);
      const k = m[0] === 17 ? 'published' : String(m[4]);
      if (m[0] === 17) retainedTopics.push(`com.t.${p}.${m[1] as number}`);
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }));
  const published = answers.reduce((n, a) => n + (a.published ?? 0), 0);
  t.equal(published, 50, 'exactly max_retained new topics were retained');
  t.equal(broker.retainedHoldings().count, 50);
  t.ok(answers.every((a) => (a.published ?? 0) + (a['clawgate.error.retain_limit'] ?? 0) === 40), 'the rest were refused with retain_limit');

  c.send([16, 2, { acknowledge: true, retain: true }, retainedTopics[0]!, ['z'.repeat(60_000)]]);
  t.equal((await c.next(undefined, 5000))[0], 17, 'replacing a topic\'s retained event is allowed at the count limit');
  for (let i = 1; i < 25; i++) c.send([16, 2 + i, { acknowledge: true, retain: true }, retainedTopics[i]!, ['z'.repeat(60_000)]]);
  let bytesRefused = 0;
  for (let i = 1; i < 25; i++) { const m = await c.next(undefined, 5000); if (m[0] === 8 && /max_retained_bytes/.test((m[5] as string[])[0]!)) bytesRefused++; }
  t.ok(bytesRefused > 0, `replacements that would pass max_retained_bytes are refused (${bytesRefused} of 24)`);
  t.ok(broker.retainedHoldings().bytes <= 1 * MiB, `the retained events hold ${broker.retainedHoldings().bytes} bytes, within max_retained_bytes`);

  // Testaments asking to be retained: delivered, not retained past the limits.
  const sub = await Wire.open({ kind: 'ws', port: r.port });
  await sub.join();
  sub.send([32, 1, {}, 'com.will']);
  await sub.next(33);
  const dying = await Wire.open({ kind: 'ws', port: r.port });
  await dying.join();
  dying.send([48, 1, {}, 'wamp.session.add_testament', ['com.will', ['bye'], {}], { publish_options: { retain: true } }]);
  t.equal((await dying.next(undefined, 5000))[0], 50, 'the testament is accepted');
  for (let i = 2; i <= 20; i++) dying.send([48, i, {}, 'wamp.session.add_testament', ['com.will', ['again'], {}], {}]);
  let tooMany = 0;
  for (let i = 2; i <= 20; i++) { const m = await dying.next(undefined, 5000); if (m[0] === 8 && m[4] === 'clawgate.error.too_many_testaments') tooMany++; }
  t.equal(tooMany, 19 - 15, 'a session holds at most max_testaments (16)');
  dying.close();
  await sub.next(36, 5000);
  t.equal(broker.retainedHoldings().count, 50, 'the testament was delivered but not retained (the realm is at max_retained)');
  t.ok(heapUsed() - heap0 < 16 * MiB, 'the heap grew by less than 16 MiB');
  for (const w of [c, sub, ...publishers]) w.close();
});
