// Event filters (SUBSCRIBE.Options.x_filter, issue 22) end to end: a real
// router on a loopback port, autobahn-js clients in all three serializers
// (the option passes through autobahn's subscribe options untouched), and
// the router's own serializers counted to prove the EVENT of a filtered
// subscription is still encoded once per serializer. The rules one by one:
// content-filter-rules.test.ts; refusals as raw frames:
// content-filter-wire.test.ts.
import t from 'tap';
import { callError, connect, startRouter, testConfig, eventually, within, type AutobahnSession, type SerializerName } from './helpers.js';
import { Wire, ROLES } from './wire.js';
import { jsonSerializer, msgpackSerializer, cborSerializer, type Serializer } from '../src/serializers/index.js';

const ALL = { call: true, register: true, publish: true, subscribe: true };

/** Anonymous may do everything; the publisher is disclosed under com.disclosed. only. */
function filterConfig(limits: Record<string, unknown> = {}): unknown {
  return testConfig({ realms: [{
    name: 'realm1',
    options: { limits },
    roles: [{ name: 'anonymous', permissions: [
      { uri: '', match: 'prefix', allow: ALL, disclose: { caller: false, publisher: false } },
      { uri: 'com.disclosed.', match: 'prefix', allow: ALL, disclose: { caller: false, publisher: true } },
    ] }],
  }] });
}

interface Got { args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> }

/** Subscribes; returns the subscription id, the events it gets (in order), and autobahn's Subscription (to unsubscribe). */
async function collect(session: AutobahnSession, topic: string, options: Record<string, unknown> = {}): Promise<{ id: number; events: Got[]; handle: AutobahnSession }> {
  const events: Got[] = [];
  const handle = await session.subscribe(topic, (args: unknown[] = [], kwargs: Record<string, unknown> = {}, details: Record<string, unknown> = {}) => { events.push({ args, kwargs, details }); }, options);
  return { id: handle.id as number, events, handle };
}

const EVENT_ARGS = [5, 'claw-1', 2.5, true, null, [1, 2, 3]];
const EVENT_KWARGS = { machine: 'claw-1', n: 3, ratio: 0.75, tags: ['vip', 'new'], pos: { x: 10, y: -4 }, name: 'Alice' };

/** [filter, is the event above for it?] One of each operator family CEL offers and filters take. */
const FAMILIES: [string, boolean][] = [
  ['kwargs.n == 3', true], ['kwargs.n != 3', false], ['kwargs.n < 4', true], ['kwargs.n <= 2', false], ['kwargs.n > 2.5', true], ['kwargs.n >= 4', false],
  ['kwargs.ratio == 0.75', true], ['kwargs.name < "Bob"', true], ['args[4] == null', true], ['args[3] == true', true],
  ['kwargs.n == 3 && kwargs.machine == "claw-1"', true], ['kwargs.n == 4 || kwargs.machine == "claw-2"', false], ['!(kwargs.n == 3)', false],
  ['kwargs.n > 2 ? kwargs.machine == "claw-1" : false', true],
  ['kwargs.n + 1 == 4', true], ['kwargs.n - 1 == 2', true], ['kwargs.n * 2 == 6', true], ['kwargs.n / 2 == 1', true], ['kwargs.n % 2 == 0', false],
  ['-kwargs.pos.y == 4', true], ['kwargs.ratio * 4.0 == 3.0', true],
  ['kwargs.machine in ["claw-1", "claw-2"]', true], ['"vip" in kwargs.tags', true], ['"old" in kwargs.tags', false], ['"pos" in kwargs', true],
  ['kwargs.pos.x == 10', true], ['kwargs["machine"] == "claw-1"', true], ['args[5][2] == 3', true], ['has(kwargs.pos.x)', true], ['has(kwargs.nope)', false],
  ['size(args) == 6', true], ['kwargs.tags.size() == 2', true],
  ['int(kwargs.ratio * 4.0) == 3', true], ['double(kwargs.n) == 3.0', true], ['string(kwargs.n) == "3"', true], ['uint(kwargs.n) == 3u', true],
  ['bytes(kwargs.name) == b"Alice"', true], ['type(kwargs.pos) == map && type(kwargs.tags) == list && type(kwargs.n) == int', true], ['dyn(kwargs.n) == 3', true],
  ['kwargs.name.startsWith("Al") && kwargs.name.endsWith("ce")', true], ['kwargs.name.contains("lic")', true], ['kwargs.name.indexOf("i") == 2', true],
  ['[1, 2, 3] == args[5] && {"x": 10, "y": -4} == kwargs.pos', true],
  ['topic == "com.filter.t"', true], ['has(details.publisher)', false],
  // an error on the event: not delivered
  ['kwargs.missing == 1', false], ['kwargs.name + 1 == 2', false],
];

for (const serializer of ['json', 'msgpack', 'cbor'] as SerializerName[]) {
  t.test(`every operator family, published over ${serializer}: each filtered subscription gets the event exactly when its filter is true`, async (t) => {
    const r = await startRouter(filterConfig());
    t.teardown(() => r.stop());
    const sub = await connect({ port: r.port, serializer: 'json' });
    const pub = await connect({ port: r.port, serializer });
    t.teardown(() => { sub.connection.close(); pub.connection.close(); });
    const subs = await Promise.all(FAMILIES.map(([f]) => collect(sub.session, 'com.filter.t', { x_filter: f })));
    t.equal(new Set(subs.map((s) => s.id)).size, FAMILIES.length, 'a subscription of its own per filter');
    const plain = await collect(sub.session, 'com.filter.t');
    t.notOk(subs.some((s) => s.id === plain.id), 'and the plain one beside them');
    await pub.session.publish('com.filter.t', EVENT_ARGS, EVENT_KWARGS, { acknowledge: true });
    await eventually(() => plain.events.length === 1, 5000, 'the plain subscription has the event');
    // One publisher, one subscriber: the router delivers in order, so a marker after the event closes the window.
    const marker = await collect(sub.session, 'com.filter.marker');
    await pub.session.publish('com.filter.marker', [], {}, { acknowledge: true });
    await eventually(() => marker.events.length === 1, 5000, 'the marker');
    FAMILIES.forEach(([f, expected], i) => t.equal(subs[i]!.events.length, expected ? 1 : 0, `${expected ? 'gets' : 'does not get'} it: ${f}`));
    const got = subs.find((s) => s.events.length > 0)!.events[0]!;
    t.same(got.args, EVENT_ARGS, 'the EVENT carries the publication as it was');
    t.same(got.kwargs, EVENT_KWARGS);
  });
}

t.test('WELCOME announces the broker feature x_content_filter', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const w = await Wire.open({ port: r.port });
  t.teardown(() => w.close());
  await w.send([1, 'realm1', ROLES]);
  const welcome = await w.next(2);
  const roles = (welcome[2] as { roles: Record<string, { features: Record<string, unknown> }> }).roles;
  t.equal(roles.broker!.features.x_content_filter, true);
  t.equal(roles.dealer!.features.x_content_filter, undefined, 'a broker feature only');
});

/** Wraps the router's serializers to count the EVENTs each encodes (the router runs in this process). */
function countEventEncodes(t: { teardown(fn: () => unknown): void }): Record<string, number> {
  const counts: Record<string, number> = { json: 0, msgpack: 0, cbor: 0 };
  for (const s of [jsonSerializer, msgpackSerializer, cborSerializer] as Serializer[]) {
    const original = s.encode;
    s.encode = function (this: Serializer, message) {
      if (message[0] === 36) counts[s.id]!++;
      return original.call(this, message);
    };
    t.teardown(() => { s.encode = original; });
  }
  return counts;
}

t.test('many subscribers, different filters, one topic: each gets its events, and a passing subscription is encoded once per serializer', async (t) => {
  const r = await startRouter(filterConfig());
  t.teardown(() => r.stop());
  const FILTERS = [0, 1, 2, 3].map((k) => `kwargs.n % 4 == ${k}`);
  // Per filter: two JSON sessions, one MessagePack, one CBOR; the first JSON one writes the filter differently.
  const clients: { session: AutobahnSession; residue: number; sub: { id: number; events: Got[] } }[] = [];
  for (const [k, filter] of FILTERS.entries()) {
    for (const serializer of ['json', 'json', 'msgpack', 'cbor'] as SerializerName[]) {
      const c = await connect({ port: r.port, serializer });
      t.teardown(() => c.connection.close());
      const written = clients.length % 4 === 0 ? `(kwargs.n%4)==${k}` : filter;
      clients.push({ session: c.session, residue: k, sub: await collect(c.session, 'com.fan', { x_filter: written }) });
    }
  }
  for (let k = 0; k < 4; k++) {
    const ids = new Set(clients.filter((c) => c.residue === k).map((c) => c.sub.id));
    t.equal(ids.size, 1, `filter ${k}: one subscription for its four sessions, however the filter was written`);
  }
  t.equal(new Set(clients.map((c) => c.sub.id)).size, 4, 'four filters, four subscriptions');

  const pub = await connect({ port: r.port, serializer: 'msgpack' });
  t.teardown(() => pub.connection.close());
  const counts = countEventEncodes(t);
  for (let n = 0; n < 8; n++) {
    await pub.session.publish('com.fan', [], { n }, { acknowledge: true });
    const receivers = clients.filter((c) => c.residue === n % 4);
    await eventually(() => receivers.every((c) => c.sub.events.length === Math.floor(n / 4) + 1), 5000, `publication ${n} delivered`);
    t.same(counts, { json: 1, msgpack: 1, cbor: 1 }, `publication ${n}: one encode per serializer, for the four sessions of the one subscription it passes`);
    counts.json = 0; counts.msgpack = 0; counts.cbor = 0;
  }
  for (const c of clients) t.same(c.sub.events.map((e) => e.kwargs.n), [c.residue, c.residue + 4], `the subscriber of residue ${c.residue} got exactly its two`);
});

t.test('the meta API: get shows the filter, match lists filtered subscriptions, lookup is the plain one', async (t) => {
  const r = await startRouter(filterConfig());
  t.teardown(() => r.stop());
  const a = await connect({ port: r.port });
  const meta = await connect({ port: r.port });
  t.teardown(() => { a.connection.close(); meta.connection.close(); });
  const created: unknown[] = [];
  await meta.session.subscribe('wamp.subscription.on_create', (args: unknown[]) => { created.push(args[1]); });
  const filtered = await collect(a.session, 'com.meta.t', { x_filter: 'kwargs.n>1' });
  t.equal(await meta.session.call('wamp.subscription.lookup', ['com.meta.t']), null, 'no plain subscription yet');
  const plain = await collect(a.session, 'com.meta.t');
  const prefix = await collect(a.session, 'com.meta.', { match: 'prefix', x_filter: 'topic.endsWith(".t")' });
  t.match(await meta.session.call('wamp.subscription.get', [filtered.id]), { id: filtered.id, uri: 'com.meta.t', match: 'exact', x_filter: 'kwargs.n > 1' });
  const plainGot = await meta.session.call('wamp.subscription.get', [plain.id]) as Record<string, unknown>;
  t.notOk('x_filter' in plainGot, 'a plain subscription has no x_filter');
  t.equal(await meta.session.call('wamp.subscription.lookup', ['com.meta.t']), plain.id);
  t.same(new Set(await meta.session.call('wamp.subscription.match', ['com.meta.t']) as number[]), new Set([filtered.id, plain.id, prefix.id]));
  t.ok((await meta.session.call('wamp.subscription.list') as { exact: number[] }).exact.includes(filtered.id));
  t.same(await meta.session.call('wamp.subscription.list_subscribers', [filtered.id]), [a.session.id]);
  const onCreate = await eventually(() => created.find((c) => (c as { id: number }).id === filtered.id), 5000, 'on_create of the filtered subscription');
  t.match(onCreate, { uri: 'com.meta.t', x_filter: 'kwargs.n > 1' }, 'on_create describes the filter too');
  const pub = await connect({ port: r.port });
  t.teardown(() => pub.connection.close());
  await pub.session.publish('com.meta.t', [], { n: 2 }, { acknowledge: true });
  await eventually(() => filtered.events.length === 1 && plain.events.length === 1 && prefix.events.length === 1, 5000, 'all three');
  t.equal(prefix.events[0]!.details.topic, 'com.meta.t', 'a pattern subscription is told the topic, as without a filter');
  await a.session.unsubscribe(filtered.handle);
  await callError(meta.session.call('wamp.subscription.get', [filtered.id]));
  t.equal(await meta.session.call('wamp.subscription.lookup', ['com.meta.t']), plain.id, 'the plain one stays');
});

t.test('the publisher\'s identity is in details only where it was disclosed', async (t) => {
  const r = await startRouter(filterConfig());
  t.teardown(() => r.stop());
  const sub = await connect({ port: r.port });
  const pub = await connect({ port: r.port, extra: { authmethods: ['anonymous'] } });
  t.teardown(() => { sub.connection.close(); pub.connection.close(); });
  const filter = `details.publisher == ${pub.session.id} && details.publisher_authrole == "anonymous"`;
  const disclosed = await collect(sub.session, 'com.disclosed.t', { x_filter: filter });
  const hidden = await collect(sub.session, 'com.hidden.t', { x_filter: filter });
  const absent = await collect(sub.session, 'com.hidden.t', { x_filter: '!has(details.publisher)' });
  await pub.session.publish('com.disclosed.t', [], {}, { acknowledge: true });
  await pub.session.publish('com.hidden.t', [], {}, { acknowledge: true });
  await eventually(() => disclosed.events.length === 1 && absent.events.length === 1, 5000, 'delivered');
  t.equal(hidden.events.length, 0, 'a filter can\'t tell who published where the permission does not disclose it');
  t.equal(disclosed.events[0]!.details.publisher, pub.session.id);
});

t.test('retained events are delivered on subscribe only if the filter passes', async (t) => {
  const r = await startRouter(filterConfig());
  t.teardown(() => r.stop());
  const pub = await connect({ port: r.port });
  t.teardown(() => pub.connection.close());
  await pub.session.publish('com.retained.a', [], { n: 1 }, { retain: true, acknowledge: true });
  await pub.session.publish('com.retained.b', [], { n: 2 }, { retain: true, acknowledge: true });
  const sub = await connect({ port: r.port });
  t.teardown(() => sub.connection.close());
  const one = await collect(sub.session, 'com.retained.a', { get_retained: true, x_filter: 'kwargs.n == 1' });
  const none = await collect(sub.session, 'com.retained.a', { get_retained: true, x_filter: 'kwargs.n == 2' });
  const pattern = await collect(sub.session, 'com.retained.', { match: 'prefix', get_retained: true, x_filter: 'kwargs.n >= 2' });
  await eventually(() => one.events.length === 1 && pattern.events.length === 1, 5000, 'retained events');
  t.equal(one.events[0]!.details.retained, true);
  t.equal(pattern.events[0]!.kwargs.n, 2, 'of a pattern\'s retained events, those the filter passes');
  // The marker: a live event after the retained ones reaches `none` only if its filter passes.
  await pub.session.publish('com.retained.a', [], { n: 2 }, { acknowledge: true });
  await eventually(() => none.events.length === 1, 5000, 'the live event');
  t.equal(none.events[0]!.kwargs.n, 2, 'it got the live event and no retained one');
  t.equal(none.events[0]!.details.retained, false);
});

t.test('limits: max_filters_per_topic, max_subscriptions, and the filter bounds from the config', async (t) => {
  const r = await startRouter(filterConfig({ max_filters_per_topic: 2, max_subscriptions: 4, max_filter_length: 40, max_filter_nodes: 8, max_filter_scans: 0 }));
  t.teardown(() => r.stop());
  const a = await connect({ port: r.port });
  const b = await connect({ port: r.port });
  t.teardown(() => { a.connection.close(); b.connection.close(); });
  const first = await a.session.subscribe('com.lim', () => {}, { x_filter: 'kwargs.n == 1' });
  await a.session.subscribe('com.lim', () => {}, { x_filter: 'kwargs.n == 2' });
  const third = await callError(b.session.subscribe('com.lim', () => {}, { x_filter: 'kwargs.n == 3' }));
  t.equal(third.error, 'clawgate.error.too_many_subscriptions');
  t.match(third.args[0], /exact topic "com\.lim" already has 2 subscriptions with different filters \(max_filters_per_topic 2\)/);
  const joinedFirst = await b.session.subscribe('com.lim', () => {}, { x_filter: 'kwargs.n==1' });
  t.equal(joinedFirst.id, first.id, 'a filter already there is joined, not counted again');
  await b.session.subscribe('com.lim', () => {});
  await b.session.subscribe('com.lim', () => {}, { match: 'prefix', x_filter: 'kwargs.n == 3' });
  t.pass('the plain subscription and another (topic, match) are not counted');
  await a.session.unsubscribe(first);
  await b.session.unsubscribe(joinedFirst);
  await b.session.subscribe('com.lim', () => {}, { x_filter: 'kwargs.n == 3' });
  t.pass('a filter gone makes room for another');

  await b.session.subscribe('com.lim.4', () => {}, { x_filter: 'true' });
  const fifth = await callError(b.session.subscribe('com.lim.5', () => {}, { x_filter: 'true' }));
  t.equal(fifth.error, 'clawgate.error.too_many_subscriptions', 'filtered subscriptions count against max_subscriptions');
  t.match(fifth.args[0], /max_subscriptions 4/);

  const long = await callError(a.session.subscribe('com.lim.x', () => {}, { x_filter: `kwargs.s == "${'x'.repeat(40)}"` }));
  t.equal(long.error, 'wamp.error.invalid_option');
  t.match(long.args[0], /more than max_filter_length \(40\)/);
  t.match((await callError(a.session.subscribe('com.lim.x', () => {}, { x_filter: 'kwargs.a == 1 && kwargs.b == 2' }))).args[0], /9 nodes, more than max_filter_nodes \(8\)/);
  t.match((await callError(a.session.subscribe('com.lim.x', () => {}, { x_filter: '"a" in kwargs.tags' }))).args[0], /more than max_filter_scans \(0\)/);
  t.equal(r.router.limitCounters.invalidFilters, 3, 'counted (clawgate_limit_events_total{kind="invalid_filters"})');
  t.ok(r.router.limitCounters.subscriptionsRefused >= 2);
});

t.test('limits: max_total_filters counts the realm\'s filtered subscriptions, each once however many sessions share it', async (t) => {
  const r = await startRouter(filterConfig({ max_total_filters: 2 }));
  t.teardown(() => r.stop());
  const a = await connect({ port: r.port });
  const b = await connect({ port: r.port });
  t.teardown(() => { a.connection.close(); b.connection.close(); });
  const one = await a.session.subscribe('com.total.a', () => {}, { x_filter: 'true' });
  await a.session.subscribe('com.total.b', () => {}, { x_filter: 'true' });
  const joinedOne = await b.session.subscribe('com.total.a', () => {}, { x_filter: 'true' });
  await b.session.subscribe('com.total.c', () => {});
  t.pass('joining a filtered subscription, or a plain one, takes nothing of the bound');
  const over = await callError(b.session.subscribe('com.total.c', () => {}, { x_filter: 'true' }));
  t.equal(over.error, 'clawgate.error.too_many_subscriptions');
  t.match(over.args[0], /the realm already has 2 subscriptions with filters \(max_total_filters 2\)/);
  await a.session.unsubscribe(one);
  t.equal((await callError(b.session.subscribe('com.total.c', () => {}, { x_filter: 'true' }))).error, 'clawgate.error.too_many_subscriptions', 'com.total.a\'s filtered subscription still has b');
  await b.session.unsubscribe(joinedOne);
  await b.session.subscribe('com.total.c', () => {}, { x_filter: 'true' });
  t.pass('once it is gone, there is room for another');
});

t.test('a filter that fails on an event: not delivered, counted once per subscription and publication, the session stays', async (t) => {
  const r = await startRouter(filterConfig());
  t.teardown(() => r.stop());
  const subs = await Promise.all([0, 1, 2].map(() => connect({ port: r.port })));
  t.teardown(() => { for (const s of subs) s.connection.close(); });
  const got = await Promise.all(subs.map((s) => collect(s.session, 'com.err', { x_filter: 'kwargs.n > 1' })));
  const pub = await connect({ port: r.port });
  t.teardown(() => pub.connection.close());
  await pub.session.publish('com.err', [], { other: 1 }, { acknowledge: true });
  await pub.session.publish('com.err', [], { n: 'text' }, { acknowledge: true });
  await pub.session.publish('com.err', [], { n: 2 }, { acknowledge: true });
  await eventually(() => got.every((g) => g.events.length === 1), 5000, 'the event the filter passes');
  t.same(got.map((g) => g.events[0]!.kwargs.n), [2, 2, 2], 'the two it failed on were not delivered');
  t.equal(r.router.limitCounters.filterErrors, 2, 'two failed evaluations, not six: one per subscription and publication');
  t.match(await r.router.metricsText(), /clawgate_limit_events_total\{kind="filter_errors"\} 2/);
  t.equal(await subs[0]!.session.call('wamp.session.count'), 4, 'the sessions carry on');
});

t.test('a passthrough publication reaches a filter over details, not one over the payload', async (t) => {
  const r = await startRouter(filterConfig());
  t.teardown(() => r.stop());
  const sub = await connect({ port: r.port });
  t.teardown(() => sub.connection.close());
  const overPayload = await collect(sub.session, 'com.ppt', { x_filter: 'size(args) >= 0' });
  const overDetails = await collect(sub.session, 'com.ppt', { x_filter: 'has(details.enc_algo) && details.enc_algo == "x_test"' });
  const pub = await Wire.open({ port: r.port, serializer: 'msgpack' });
  t.teardown(() => pub.close());
  await pub.join();
  await pub.send([16, pub.request(), { enc_algo: 'x_test', acknowledge: true }, 'com.ppt', new Uint8Array([1, 2, 3])]);
  await pub.next(17);
  await eventually(() => overDetails.events.length === 1, 5000, 'the filter over details');
  await pub.send([16, pub.request(), { acknowledge: true }, 'com.ppt', [1]]);
  await pub.next(17);
  await eventually(() => overPayload.events.length === 1, 5000, 'the plain publication after it');
  t.same(overPayload.events[0]!.args, [1], 'the filter over args got only the plain one');
  t.equal(r.router.limitCounters.filterErrors, 0, 'not counted as failures');
});

t.test('a bad filter from autobahn-js: ERROR wamp.error.invalid_option naming the problem; the session goes on', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const c = await connect({ port: r.port, serializer: 'cbor' });
  t.teardown(() => c.connection.close());
  for (const [filter, message] of [
    [7, /x_filter must be a string, got number/],
    ['kwargs.n ==', /x_filter is not a valid CEL expression: Unexpected token/],
    ['args.exists(a, a == 1)', /the macro exists\(\) is not available in event filters/],
    ['kwargs.s.matches(".*")', /matches\(\) is not available/],
  ] as [unknown, RegExp][]) {
    const e = await callError(c.session.subscribe('com.bad', () => {}, { x_filter: filter }));
    t.equal(e.error, 'wamp.error.invalid_option', String(filter));
    t.match(e.args[0], message);
  }
  const ok = await within<AutobahnSession>(c.session.subscribe('com.bad', () => {}, { x_filter: 'true' }), 5000, 'a good one after');
  t.ok(ok.id > 0, 'a good filter after them is subscribed');
});
