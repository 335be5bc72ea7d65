// Event filters as raw frames: every way a SUBSCRIBE's x_filter can be
// wrong gets ERROR wamp.error.invalid_option with a message naming the
// problem, in the exact shape, and the session goes on (a wrongly typed
// x_filter is not a protocol violation, unlike a wrongly typed spec option).
// The EVENT of a filtered subscription, exactly.
import t from 'tap';
import { startRouter, testConfig } from './helpers.js';
import { Wire } from './wire.js';
import type { SerializerId } from '../src/serializers/index.js';

const INVALID_OPTION = 'wamp.error.invalid_option';

const BAD: [string, unknown, RegExp][] = [
  ['a number', 42, /^x_filter must be a string, got number$/],
  ['a list', ['kwargs.n == 1'], /^x_filter must be a string, got list$/],
  ['a dict', { cel: 'true' }, /^x_filter must be a string, got dict$/],
  ['a boolean', true, /^x_filter must be a string, got boolean$/],
  ['null', null, /^x_filter must be a string, got null$/],
  ['empty', ' ', /^x_filter must not be empty$/],
  ['too long', `kwargs.s == "${'x'.repeat(1000)}"`, /^x_filter has 1014 characters, more than max_filter_length \(1000\)$/],
  ['a syntax error', 'kwargs.n == (1 +', /^x_filter is not a valid CEL expression: Unexpected token: EOF \(at character 17\)$/],
  ['an unknown variable', 'n == 1', /^x_filter is not a valid CEL expression: Unknown variable: n \(at character 1\)$/],
  ['a type error', 'topic > 1', /^x_filter is not a valid CEL expression: .*string > int/],
  ['not a boolean', 'size(topic)', /^x_filter must be a boolean expression, this one gives int$/],
  ['a comprehension macro', 'args.all(a, a > 0)', /^x_filter: the macro all\(\) is not available in event filters/],
  ['a regular expression', 'kwargs.s.matches("^(a|aa)+$")', /^x_filter: matches\(\) is not available in event filters/],
  ['cel.bind', 'cel.bind(s, kwargs.s + kwargs.s, s == "")', /^x_filter: cel\.bind\(\) is not available/],
  ['an unknown function', 'now() > 0', /^x_filter: now\(\) is not available in event filters \(available: has\(\), size\(\)/],
  ['too many nodes', Array.from({ length: 14 }, (_, i) => `kwargs.k == ${i}`).join(' || '), /^x_filter has 69 nodes, more than max_filter_nodes \(64\)$/],
  ['too deep', `${'('.repeat(33)}true${')'.repeat(33)}`, /^x_filter is nested deeper than 32 levels$/],
  ['too many scans', 'size(args) > 0 && size(kwargs) > 0 && "a" in kwargs.l', /^x_filter walks whole event values 3 times \(size\(\) of an event value, size\(\) of an event value, in over an event value\), more than max_filter_scans \(2\)/],
];

for (const serializer of ['json', 'msgpack', 'cbor'] as SerializerId[]) {
  t.test(`${serializer}: a bad x_filter gets ERROR invalid_option naming the problem, and the session goes on`, async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const w = await Wire.open({ port: r.port, serializer });
    t.teardown(() => w.close());
    await w.join();
    for (const [what, filter, message] of BAD) {
      const req = w.request();
      await w.send([32, req, { x_filter: filter }, 'com.wire.t']);
      const m = await w.next();
      t.same(m.slice(0, 5), [8, 32, req, {}, INVALID_OPTION], `${what}: ERROR invalid_option for SUBSCRIBE ${req}`);
      t.match((m[5] as string[])[0], message, `${what}: names the problem`);
      t.equal(m.length, 6, `${what}: no ArgumentsKw`);
    }
    const id = await w.subscribe('com.wire.t', { x_filter: 'kwargs.n == 1' });
    t.ok(id > 0, 'a good filter after them is subscribed: the session is intact');
    t.equal(w.isClosed, false);
    t.equal(r.router.limitCounters.invalidFilters, BAD.length, 'each refusal counted');
  });
}

t.test('what is checked first: the URI, then the filter, then the permission', async (t) => {
  const r = await startRouter(testConfig({ realms: [{
    name: 'realm1',
    roles: [{ name: 'anonymous', permissions: [{ uri: 'com.open.', match: 'prefix', allow: { subscribe: true, publish: true } }] }],
  }] }));
  t.teardown(() => r.stop());
  const w = await Wire.open({ port: r.port });
  t.teardown(() => w.close());
  await w.join();
  const answer = async (topic: string, filter: unknown): Promise<unknown> => {
    const req = w.request();
    await w.send([32, req, { x_filter: filter }, topic]);
    return (await w.next())[4];
  };
  t.equal(await answer('com..bad', 'nope('), 'wamp.error.invalid_uri');
  t.equal(await answer('com.closed.t', 'nope('), INVALID_OPTION, 'a bad filter is refused before asking the permissions');
  t.equal(await answer('com.closed.t', 'true'), 'wamp.error.not_authorized');
  t.equal(await answer('com.open.t', 'true'), undefined, 'SUBSCRIBED');
});

t.test('the EVENT of a filtered subscription: its own subscription id, the publication unchanged', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const sub = await Wire.open({ port: r.port, serializer: 'cbor' });
  const pub = await Wire.open({ port: r.port, serializer: 'msgpack' });
  t.teardown(() => { sub.close(); pub.close(); });
  await sub.join();
  await pub.join();
  const filtered = await sub.subscribe('com.wire.e', { x_filter: 'kwargs.n >= 2' });
  t.equal(await sub.subscribe('com.wire.e', { x_filter: '(kwargs.n>=2)' }), filtered, 'the same filter, written otherwise: the same subscription');
  const plain = await sub.subscribe('com.wire.e');
  t.not(plain, filtered);
  for (const n of [1, 2]) await pub.send([16, pub.request(), {}, 'com.wire.e', [n], { n, s: 'x' }]);
  const events = [await sub.next(36), await sub.next(36), await sub.next(36)];
  t.same(events.map((e) => [e[1], (e[4] as number[])[0]]), [[plain, 1], [filtered, 2], [plain, 2]], 'n=1 to the plain subscription only; n=2 to both, filtered first (created first)');
  t.same(events[1]!.slice(3), [{}, [2], { n: 2, s: 'x' }], 'Details, Arguments and ArgumentsKw as published');
  t.same(sub.peek((m) => m[0] === 36), [], 'nothing more');
});
