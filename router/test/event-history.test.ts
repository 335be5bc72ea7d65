// Event history, memory store (issue 20 item 3, first half): Crossbar's realm
// `store` section and wamp.subscription.get_events, over real sockets with
// autobahn-js. Kept per config, newest first, filtered per reader
// (black/whitelists), refused to a role that may not subscribe.
import t from 'tap';
import { startRouter, testConfig, connect, callError } from './helpers.js';
import { fromCrossbar } from '../src/config/crossbar-config.js';

const ALL = { call: true, register: true, publish: true, subscribe: true };

function historyConfig(store: unknown = {
  type: 'memory',
  'event-history': [
    { uri: 'com.hist.a', match: 'exact', limit: 3 },
    { uri: 'com.hist.', match: 'prefix', limit: 5 },
  ],
}): unknown {
  return testConfig({
    realms: [{
      name: 'realm1',
      store,
      roles: [
        { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: ALL }] },
        { name: 'limited', permissions: [
          { uri: 'wamp.subscription.get_events', match: 'exact', allow: { call: true } },
          { uri: 'com.hist.a', match: 'exact', allow: { subscribe: true } },
        ] },
      ],
    }],
    transportExtras: { websocket: { ws: { type: 'websocket' }, limited: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'limited' } } } } },
  });
}

interface Ev { publication: number; topic: string; timestamp: string; args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> }

t.test('events kept per config, newest first, filtered per reader', async (t) => {
  const r = await startRouter(historyConfig());
  t.teardown(() => r.stop());
  const pub = await connect({ port: r.port });
  const reader = await connect({ port: r.port });
  const readerAuthid = ((await reader.session.call('wamp.session.get', [reader.session.id])) as { authid: string }).authid;

  for (let i = 1; i <= 5; i++) await pub.session.publish('com.hist.a', [i], { n: i }, { acknowledge: true });
  // Only for someone else: kept, but never shown to the reader.
  await pub.session.publish('com.hist.a', ['private'], {}, { acknowledge: true, eligible_authid: ['somebody-else'] });
  await pub.session.publish('com.hist.b', ['b'], {}, { acknowledge: true });
  await pub.session.publish('com.other', ['nothing kept'], {}, { acknowledge: true });

  const exact = await reader.session.subscribe('com.hist.a', () => {});
  const got = (await reader.session.call('wamp.subscription.get_events', [exact.id])) as Ev[];
  t.same(got.map((e) => e.args), [[5], [4]], 'limit 3 kept (the private one among them, filtered out), newest first');
  t.equal(got[0]!.topic, 'com.hist.a');
  t.same(got[0]!.kwargs, { n: 5 });
  t.same(got[0]!.details, {}, 'no publisher identity: the permission does not disclose it');
  t.ok(Number.isInteger(got[0]!.publication) && !Number.isNaN(Date.parse(got[0]!.timestamp)));
  t.same(((await reader.session.call('wamp.subscription.get_events', [exact.id, 1])) as Ev[]).map((e) => e.args), [[5]], 'limit argument');

  const prefix = await reader.session.subscribe('com.hist.', () => {}, { match: 'prefix' });
  const all = (await reader.session.call('wamp.subscription.get_events', [prefix.id, 100])) as Ev[];
  t.same(all.map((e) => [e.topic, e.args[0]]), [['com.hist.b', 'b'], ['com.hist.a', 5], ['com.hist.a', 4], ['com.hist.a', 3]],
    'the prefix entry keeps 5 of both topics; the one for somebody else is left out');

  const other = await reader.session.subscribe('com.other', () => {});
  t.equal((await callError(reader.session.call('wamp.subscription.get_events', [other.id]))).error, 'wamp.error.history_unavailable', 'no history for that subscription');
  t.equal((await callError(reader.session.call('wamp.subscription.get_events', [12345]))).error, 'wamp.error.no_such_subscription');
  t.equal((await callError(reader.session.call('wamp.subscription.get_events', [exact.id, 0]))).error, 'wamp.error.invalid_argument');

  // The reader itself, when eligible: a publication for its authid is in its history.
  await pub.session.publish('com.hist.a', ['for the reader'], {}, { acknowledge: true, eligible_authid: [readerAuthid] });
  t.same(((await reader.session.call('wamp.subscription.get_events', [exact.id, 1])) as Ev[])[0]!.args, ['for the reader']);
  pub.connection.close();
  reader.connection.close();
});

t.test('a subscription without an entry of its own is served from a covering entry, filtered to its topics', async (t) => {
  const r = await startRouter(historyConfig({
    type: 'memory',
    'event-history': [
      { uri: 'com.m..events', match: 'wildcard', limit: 10 },
      { uri: 'com.m.', match: 'prefix', limit: 4 },
      { uri: 'com.p.', match: 'prefix', limit: 10 },
    ],
  }));
  t.teardown(() => r.stop());
  const pub = await connect({ port: r.port });
  const reader = await connect({ port: r.port });
  for (let i = 1; i <= 3; i++) {
    await pub.session.publish('com.m.one.events', [`one-${i}`], {}, { acknowledge: true });
    await pub.session.publish('com.m.two.events', [`two-${i}`], {}, { acknowledge: true });
  }
  await pub.session.publish('com.m.one.status', ['status'], {}, { acknowledge: true });
  await pub.session.publish('com.p.a.b', ['ab'], {}, { acknowledge: true });
  await pub.session.publish('com.p.a', ['a'], {}, { acknowledge: true });
  const read = async (uri: string, match?: 'prefix' | 'wildcard'): Promise<unknown[]> => {
    const sub = await reader.session.subscribe(uri, () => {}, match === undefined ? {} : { match });
    return ((await reader.session.call('wamp.subscription.get_events', [sub.id, 100])) as Ev[]).map((e) => e.args[0]);
  };
  t.same(await read('com.m.one.events'), ['one-3', 'one-2', 'one-1'],
    'exact subscription: from the wildcard entry (10 kept, more than the prefix entry\'s 4), only its own topic');
  t.same(await read('com.m.one.status'), ['status'], 'exact subscription only the prefix entry covers');
  t.same(await read('com.m..events', 'wildcard'), ['two-3', 'one-3', 'two-2', 'one-2', 'two-1', 'one-1'], 'the wildcard entry itself');
  t.same(await read('com.m.two.', 'prefix'), ['two-3', 'two-2'], 'a narrower prefix from the wider prefix entry (its last 4 events: 2 of them its own)');
  t.same(await read('com.p..b', 'wildcard'), ['ab'], 'a wildcard pattern inside a prefix entry');
  const none = await reader.session.subscribe('com..events', () => {}, { match: 'wildcard' });
  t.equal((await callError(reader.session.call('wamp.subscription.get_events', [none.id]))).error, 'wamp.error.history_unavailable',
    'a pattern wider than every entry: no history (it could miss events no entry kept)');
  pub.connection.close();
  reader.connection.close();
});

t.test('one answer carries at most max_events_per_read events (default 100), whatever limit it asks for', async (t) => {
  const entries = [{ uri: 'com.big', match: 'exact', limit: 150 }];
  const dflt = await startRouter(historyConfig({ type: 'memory', 'event-history': entries }));
  const capped = await startRouter(historyConfig({ type: 'memory', max_events_per_read: 3, 'event-history': entries }));
  t.teardown(async () => { await dflt.stop(); await capped.stop(); });
  for (const [r, want] of [[dflt, 100], [capped, 3]] as const) {
    const pub = await connect({ port: r.port });
    const reader = await connect({ port: r.port });
    await Promise.all(Array.from({ length: 120 }, (_, i) => pub.session.publish('com.big', [i], {}, { acknowledge: true })));
    const sub = await reader.session.subscribe('com.big', () => {});
    const got = (await reader.session.call('wamp.subscription.get_events', [sub.id, 10000])) as Ev[];
    t.equal(got.length, want, `asked for 10000 of the 120 kept: ${want}`);
    t.same(got[0]!.args, [119], 'the newest first');
    t.equal(((await reader.session.call('wamp.subscription.get_events', [sub.id, 2])) as Ev[]).length, 2, 'fewer when asked for fewer');
    pub.connection.close();
    reader.connection.close();
  }
  t.throws(() => fromCrossbar(historyConfig({ type: 'memory', max_events_per_read: 0, 'event-history': entries })), /max_events_per_read/);
});

t.test('a filtered subscription (x_filter) reads only the history its filter lets through', async (t) => {
  const r = await startRouter(historyConfig({ type: 'memory', 'event-history': [{ uri: 'com.f', match: 'exact', limit: 10 }] }));
  t.teardown(() => r.stop());
  const pub = await connect({ port: r.port });
  const reader = await connect({ port: r.port });
  for (let n = 1; n <= 6; n++) await pub.session.publish('com.f', [], { n }, { acknowledge: true });
  await pub.session.publish('com.f', [], { other: true }, { acknowledge: true }); // the filter fails on it: not passed
  const even = await reader.session.subscribe('com.f', () => {}, { x_filter: 'kwargs.n % 2 == 0' } as never);
  const plain = await reader.session.subscribe('com.f', () => {});
  const read = async (id: number): Promise<unknown[]> => ((await reader.session.call('wamp.subscription.get_events', [id, 100])) as Ev[]).map((e) => e.kwargs.n ?? 'other');
  t.same(await read(even.id), [6, 4, 2], 'only what the filter passes, newest first');
  t.same(await read(plain.id), ['other', 6, 5, 4, 3, 2, 1], 'the plain subscription of the same topic reads everything');
  pub.connection.close();
  reader.connection.close();
});

t.test('refused to a role that may not subscribe to the subscription\'s topic', async (t) => {
  const r = await startRouter(historyConfig());
  t.teardown(() => r.stop());
  const pub = await connect({ port: r.port });
  const anon = await connect({ port: r.port });
  const limited = await connect({ port: r.port, url: `ws://127.0.0.1:${r.port}/limited` });
  await pub.session.publish('com.hist.a', ['x'], {}, { acknowledge: true });
  const own = await limited.session.subscribe('com.hist.a', () => {});
  t.same(((await limited.session.call('wamp.subscription.get_events', [own.id])) as Ev[]).map((e) => e.args), [['x']], 'its own exact subscription: allowed');
  const wide = await anon.session.subscribe('com.hist.', () => {}, { match: 'prefix' });
  t.equal((await callError(limited.session.call('wamp.subscription.get_events', [wide.id]))).error, 'wamp.error.not_authorized',
    'another session\'s prefix subscription it could not have made: refused');
  for (const c of [pub, anon, limited]) c.connection.close();
});

t.test('config: the store section', async (t) => {
  const ok = fromCrossbar(historyConfig());
  t.notOk(ok.unsupported.some((w) => w.includes('store')), 'no warning for a memory store');
  t.same(ok.config.realms[0]!.eventHistory, [{ uri: 'com.hist.a', match: 'exact', limit: 3 }, { uri: 'com.hist.', match: 'prefix', limit: 5 }]);
  const defaults = fromCrossbar(historyConfig({ type: 'memory', limit: 7, 'event-history': [{ uri: 'com.x' }, { uri: 'com.y', limit: 2 }] }));
  t.same(defaults.config.realms[0]!.eventHistory, [{ uri: 'com.x', match: 'exact', limit: 7 }, { uri: 'com.y', match: 'exact', limit: 2 }], 'the store-wide limit, and exact by default');
  const other = fromCrossbar(historyConfig({ type: 'cfxdb', 'event-history': [{ uri: 'com.x' }] }));
  t.ok(other.unsupported.some((w) => w.includes('store.type')), 'another store type: a warning');
  t.equal(other.config.realms[0]!.eventHistory, undefined, 'and no history');
  t.throws(() => fromCrossbar(historyConfig({ type: 'memory', 'event-history': [{ uri: 'com..x' }] })), /store\.event-history\[0\]\.uri/);
  t.throws(() => fromCrossbar(historyConfig({ type: 'memory', 'event-history': [{ uri: 'com.x', limit: 100001 }] })), /limit/);
});
