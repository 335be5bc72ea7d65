// Event filters (x_filter) as decisions, without a router: what compiles,
// its normal form (a subscription's identity), what counts against the
// realm's bounds, and what a compiled filter answers for an event. The
// same rules over real sockets: content-filter.test.ts and
// content-filter-wire.test.ts.
import t from 'tap';
import { compileFilter, MAX_FILTER_DEPTH, type ContentFilter, type FilterLimits } from '../src/broker/content-filter.js';
import { FilterEvent } from '../src/broker/filter-event.js';
import { DEFAULT_REALM_LIMITS } from '../src/limits/limits-config.js';
import type { PublicationData } from '../src/routing/publication.js';
import { fromCrossbar, ConfigError } from '../src/config/crossbar-config.js';
import { MessageType, type Publish, type Subscribe } from '../src/messages/types.js';
import { joined, testRealm, wamp } from './fake-peer.js';
import { testConfig } from './helpers.js';

const LIMITS: FilterLimits = DEFAULT_REALM_LIMITS;

function compiled(source: unknown, limits: FilterLimits = LIMITS): ContentFilter {
  const f = compileFilter(source, limits);
  if (typeof f === 'string') throw new Error(`refused: ${f}`);
  return f;
}
function refusal(source: unknown, limits: FilterLimits = LIMITS): string {
  const f = compileFilter(source, limits);
  if (typeof f !== 'string') throw new Error(`compiled: ${f.text}`);
  return f;
}

const EVENT: PublicationData = {
  args: [5, 'claw-1', 2.5, true, null, [1, 2, 3]],
  kwargs: { machine: 'claw-1', n: 3, ratio: 0.75, tags: ['vip', 'new'], pos: { x: 10, y: -4 }, name: 'Alice' },
  details: { publisher: 77, publisher_authid: 'alice', publisher_authrole: 'operator' },
};
const test = (source: string, data: PublicationData = EVENT, topic = 'com.t'): boolean | string => compiled(source).test(new FilterEvent(topic, data));

t.test('the normal form: one text per expression, whatever its spacing and redundant parentheses', async (t) => {
  t.equal(compiled(' kwargs.machine=="claw-1" ').text, 'kwargs.machine == "claw-1"');
  t.equal(compiled('(kwargs.machine == "claw-1")').text, 'kwargs.machine == "claw-1"');
  t.equal(compiled('kwargs.n>2&&(kwargs.n<5)').text, '(kwargs.n > 2) && (kwargs.n < 5)');
  t.equal(compiled('kwargs.n > 2 && kwargs.n < 5 || false').text, '((kwargs.n > 2) && (kwargs.n < 5)) || false', 'precedence made explicit');
  t.not(compiled('kwargs.x == 1.5').text, compiled('kwargs.x == 1.50000001').text, 'literals are kept exactly');
  t.not(compiled('kwargs.x == 1').text, compiled('kwargs.x == 1.0').text, 'an int literal is not a double literal');
  t.not(compiled('kwargs.x == "a"').text, compiled('kwargs.x == "a "').text);
  t.equal(compiled('kwargs.s == "a\\"b\\n"').text, 'kwargs.s == "a\\"b\\n"', 'string escapes round-trip');
  t.equal(compiled('b"ab" == bytes(kwargs.s)').text, 'b"\\x61\\x62" == bytes(kwargs.s)');
  t.equal(compiled('kwargs.n == 3u').text, 'kwargs.n == 3u');
  t.equal(compiled('-kwargs.n == -3').text, '-kwargs.n == -3');
  t.equal(compiled('!(kwargs.a == 1) ? [1, "x"] == args : {"k": null} == kwargs').text, '!(kwargs.a == 1) ? ([1, "x"] == args) : ({"k": null} == kwargs)');
  // The normal form is itself a valid filter with the same normal form.
  for (const s of ['kwargs.n>2&&(kwargs.n<5)', '!(kwargs.a == 1) ? [1, "x"] == args : {"k": null} == kwargs', 'kwargs.x == 1e21', 'b"ab" == bytes(kwargs.s)']) {
    const once = compiled(s).text;
    t.equal(compiled(once).text, once, `stable: ${s}`);
  }
});

t.test('what a filter reads decides what is converted for it', async (t) => {
  t.same(compiled('topic == "a"').reads, { args: false, kwargs: false, details: false });
  t.same(compiled('args[0] == 1 && has(details.publisher)').reads, { args: true, kwargs: false, details: true });
  t.same(compiled('"k" in kwargs').reads, { args: false, kwargs: true, details: false });
});

t.test('every operator family, on one event', async (t) => {
  const cases: [string, boolean | RegExp][] = [
    // comparisons, int and double alike
    ['kwargs.n == 3', true], ['kwargs.n != 3', false], ['kwargs.n < 4', true], ['kwargs.n <= 2', false], ['kwargs.n > 2', true], ['kwargs.n >= 4', false],
    ['kwargs.n == 3.0', true], ['kwargs.n > 2.5', true], ['kwargs.ratio == 0.75', true], ['kwargs.name < "Bob"', true], ['args[4] == null', true], ['args[3] == true', true],
    // logic, with CEL's error absorption
    ['kwargs.n == 3 && kwargs.machine == "claw-1"', true], ['kwargs.n == 4 || kwargs.machine == "claw-1"', true], ['!(kwargs.n == 3)', false],
    ['kwargs.missing == 1 || kwargs.n == 3', true], ['kwargs.missing == 1 && false', false], ['kwargs.n > 2 ? kwargs.machine == "claw-1" : false', true],
    // arithmetic: whole numbers of the event are CEL ints
    ['kwargs.n + 1 == 4', true], ['kwargs.n - 1 == 2', true], ['kwargs.n * 2 == 6', true], ['kwargs.n / 2 == 1', true], ['kwargs.n % 2 == 1', true],
    ['-kwargs.pos.y == 4', true], ['kwargs.ratio * 4.0 == 3.0', true], ['args[0] + kwargs.n == 8', true],
    // membership
    ['kwargs.machine in ["claw-1", "claw-2"]', true], ['"vip" in kwargs.tags', true], ['"old" in kwargs.tags', false], ['"pos" in kwargs', true], ['2 in args[5]', true],
    // selection, indexing, presence, size
    ['kwargs.pos.x == 10', true], ['kwargs["machine"] == "claw-1"', true], ['args[5][2] == 3', true], ['has(kwargs.pos.x)', true], ['has(kwargs.nope)', false],
    ['size(args) == 6', true], ['kwargs.tags.size() == 2', true], ['size(kwargs.name) == 5', true],
    // conversions and types
    ['int(kwargs.ratio * 4.0) == 3', true], ['double(kwargs.n) == 3.0', true], ['string(kwargs.n) == "3"', true], ['uint(kwargs.n) == 3u', true],
    ['bool("true")', true], ['bytes(kwargs.name) == b"Alice"', true], ['dyn(kwargs.n) == 3', true],
    ['type(kwargs.n) == int', true], ['type(kwargs.ratio) == double', true], ['type(kwargs.tags) == list', true], ['type(kwargs.pos) == map', true],
    // string methods
    ['kwargs.name.startsWith("Al")', true], ['kwargs.name.endsWith("ce")', true], ['kwargs.name.contains("lic")', true],
    ['kwargs.name.indexOf("i") == 2', true], ['kwargs.name.lastIndexOf("e") == 4', true], ['kwargs.machine.startsWith("claw-2")', false],
    // aggregate literals
    ['[1, 2, 3] == args[5]', true], ['{"x": 10, "y": -4} == kwargs.pos', true],
    // details and topic
    ['details.publisher == 77 && details.publisher_authrole == "operator"', true], ['topic == "com.t"', true], ['topic.startsWith("com.")', true],
    // failures: not delivered, and said why
    ['kwargs.missing == 1', /No such key: missing/], ['kwargs.name + 1 == 2', /no such overload/], ['args[10] == 1', /out of bounds/], ['kwargs.n', /gave an int, not a bool/],
  ];
  for (const [source, expected] of cases) {
    const got = test(source);
    if (expected instanceof RegExp) t.match(got, expected, source);
    else t.equal(got, expected, source);
  }
});

t.test('the event as filters see it: numbers, nested dicts, bytes, undefined', async (t) => {
  const data: PublicationData = { args: [2 ** 53 + 2, 1e300, new Uint8Array([1, 2]), undefined], kwargs: { a: { b: { c: [{ d: 1 }] } } }, details: {} };
  t.equal(test('type(args[0]) == double', data), true, 'beyond the safe integers a number stays a double');
  t.equal(test('type(args[1]) == double', data), true);
  t.equal(test('args[2] == b"\\x01\\x02"', data), true, 'binary is CEL bytes');
  t.equal(test('args[3] == null', data), true, 'undefined (wampy\'s MessagePack extension) is null');
  t.equal(test('kwargs.a.b.c[0].d == 1', data), true, 'nested dicts and lists');
  t.equal(test('args == [] && kwargs == {}', { details: {} }), true, 'no Arguments: an empty list and map');
});

t.test('a passthrough payload: a filter reading args or kwargs does not pass, one reading details and topic is evaluated', async (t) => {
  const ppt: PublicationData = { args: ['opaque'], details: { enc_algo: 'x_test' } };
  t.equal(test('size(args) >= 0', ppt), false);
  t.equal(test('"a" in kwargs', ppt), false);
  t.equal(test('details.enc_algo == "x_test"', ppt), true);
  const binary: PublicationData = { payload: new Uint8Array([1]), details: { enc_algo: 'cryptobox' } };
  t.equal(test('args == []', binary), false);
  t.equal(test('topic == "com.t" && details.enc_algo == "cryptobox"', binary), true);
});

t.test('refused: not a string, empty, too long, not CEL, not bool, unknown names', async (t) => {
  t.match(refusal(42), /x_filter must be a string, got number/);
  t.match(refusal(['a']), /must be a string, got list/);
  t.match(refusal(null), /must be a string, got null/);
  t.match(refusal('  '), /must not be empty/);
  t.match(refusal('x'.repeat(1001)), /1001 characters, more than max_filter_length \(1000\)/);
  t.match(refusal('kwargs.n == (1'), /not a valid CEL expression: .* \(at character \d+\)/);
  t.match(refusal('kwargs.n +'), /not a valid CEL expression/);
  t.match(refusal('machine == "x"'), /Unknown variable: machine/);
  t.match(refusal('topic + 1 == 2'), /not a valid CEL expression: .*string \+ int/, 'a type error the checker sees');
  t.match(refusal('kwargs.n + 1'), /must be a boolean expression, this one gives int/);
  t.match(refusal('kwargs.?n == 1'), /not a valid CEL expression/, 'optional syntax is off');
});

t.test('refused: what could cost more than the bounds say', async (t) => {
  for (const macro of ['args.all(a, a == 1)', 'args.exists(a, a == 1)', 'args.exists_one(a, a == 1)', 'args.map(a, a).size() == 1', 'args.filter(a, a == 1).size() == 1']) {
    t.match(refusal(macro), /the macro \w+\(\) is not available in event filters/, macro);
  }
  t.match(refusal('kwargs.s.matches("(a+)+$")'), /matches\(\) is not available .*backtracking/);
  t.match(refusal('cel.bind(x, kwargs.s, x == "a")'), /cel\.bind\(\) is not available/);
  for (const f of ['kwargs.s.lowerAscii() == "a"', 'kwargs.s.split(",").size() == 1', 'kwargs.s.substring(1) == "a"', 'args.join() == "a"']) {
    t.match(refusal(f), /\.\w+\(\) is not available in event filters \(available: \.size\(\), \.contains\(\)/, f);
  }
  t.match(refusal('timestamp(kwargs.t) > timestamp("2020-01-01T00:00:00Z")'), /timestamp\(\) is not available in event filters \(available: has\(\)/);
  // Nodes: `kwargs.kN == N` is 4 (id, select, literal, ==), and each || one more: n comparisons are 5n - 1.
  const chain = (n: number): string => Array.from({ length: n }, (_, i) => `kwargs.k${i} == ${i}`).join(' || ');
  t.ok(typeof compileFilter(chain(13), LIMITS) !== 'string', '13 comparisons (64 nodes) compile under the default');
  t.match(refusal(chain(14)), /has 69 nodes, more than max_filter_nodes \(64\)/);
  t.match(refusal(chain(400), { ...LIMITS, maxFilterLength: 64 * 1024 }), /more than 64 nodes \(max_filter_nodes\)|nodes, more than max_filter_nodes/, 'the parser itself stops early on a huge one');
  t.match(refusal(`${'('.repeat(MAX_FILTER_DEPTH + 1)}true${')'.repeat(MAX_FILTER_DEPTH + 1)}`), new RegExp(`nested deeper than ${MAX_FILTER_DEPTH} levels`));
  t.match(refusal('kwargs.n == 1', { ...LIMITS, maxFilterNodes: 2 }), /has 4 nodes, more than max_filter_nodes \(2\)/);
});

t.test('scans: operations that may walk a whole event value are counted against max_filter_scans', async (t) => {
  const scans = (source: string): number => {
    const limits = { ...LIMITS, maxFilterScans: 0 };
    const f = compileFilter(source, limits);
    if (typeof f !== 'string') return 0;
    const m = /walks whole event values (\d+) times/.exec(f);
    if (m === null) throw new Error(`${source}: ${f}`);
    return Number(m[1]);
  };
  // bounded by a literal (or by topic, at most max_uri_length): not scans
  for (const s of ['kwargs.a == "x"', 'args == [1, 2]', 'kwargs == {"a": 1}', 'kwargs.a in ["x", "y"]', 'kwargs.a + 1 == 2', 'kwargs.s + "x" == "ax"',
    'kwargs.s.startsWith("a")', 'kwargs.s.endsWith("a")', 'has(kwargs.a)', 'type(kwargs.a) == int', 'kwargs.a < 3', 'topic.contains("x")', 'size("abc") == 3',
    'kwargs[kwargs.k] == 1', 'kwargs.a * kwargs.b > 3', '"k" in {"k": 1}']) {
    t.equal(scans(s), 0, `no scan: ${s}`);
  }
  // may walk an event list, map or string
  for (const s of ['"vip" in kwargs.tags', 'kwargs.a == kwargs.b', 'kwargs.a < kwargs.b', 'size(args) == 1', 'args.size() == 1', 'kwargs.s.contains("x")', 'kwargs.s.indexOf("x") == 1',
    'kwargs.s.lastIndexOf("x") == 1', '"abc".contains(kwargs.s)', 'kwargs.s.startsWith(kwargs.t)', 'int(kwargs.s) == 1', 'string(kwargs.b) == "x"', 'args + args == []', 'args + [1] == []',
    'kwargs.a + kwargs.b == 2', '1 in [args, kwargs]']) {
    t.equal(scans(s), 1, `one scan: ${s}`);
  }
  t.equal(scans('"a" in kwargs.tags && "b" in kwargs.tags && size(args) > 1'), 3);
  t.ok(typeof compileFilter('"a" in kwargs.tags && "b" in kwargs.tags', LIMITS) !== 'string', 'two scans pass the default max_filter_scans (2)');
  t.match(refusal('"a" in kwargs.tags && "b" in kwargs.tags && size(args) > 1'), /walks whole event values 3 times \(in over an event value, in over an event value, size\(\) of an event value\), more than max_filter_scans \(2\)/);
});

t.test('the filter limits in the config: defaults, values, and errors naming the key', async (t) => {
  const realmWith = (limits: Record<string, unknown>): unknown => testConfig({ realms: [{ name: 'realm1', options: { limits }, roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true } }] }] }] });
  const limitsOf = (limits: Record<string, unknown>) => fromCrossbar(realmWith(limits)).config.realms[0]!.limits!;
  t.match(limitsOf({}), { maxFiltersPerTopic: 100, maxTotalFilters: 10_000, maxFilterLength: 1000, maxFilterNodes: 64, maxFilterScans: 2 }, 'defaults');
  t.match(limitsOf({ max_filters_per_topic: null, max_total_filters: null, max_filter_length: 65536, max_filter_nodes: 1000, max_filter_scans: 0 }), { maxFiltersPerTopic: null, maxTotalFilters: null, maxFilterLength: 65536, maxFilterNodes: 1000, maxFilterScans: 0 });
  const key = 'workers[0].realms[0].options.limits';
  for (const [name, value] of [['max_filters_per_topic', 0], ['max_total_filters', 0], ['max_total_filters', 'all'], ['max_filter_length', null], ['max_filter_length', 65537], ['max_filter_nodes', 0], ['max_filter_nodes', 1001], ['max_filter_nodes', 'many'], ['max_filter_scans', -1], ['max_filter_scans', 65], ['max_filter_scans', 1.5]] as [string, unknown][]) {
    let err: unknown;
    try { limitsOf({ [name]: value }); } catch (e) { err = e; }
    t.ok(err instanceof ConfigError, `${name}: ${JSON.stringify(value)} is a config error`);
    t.match((err as Error | undefined)?.message, `invalid config at ${key}.${name}`, 'naming the key');
  }
});

t.test('routing: a filtered subscription beside the plain one, evaluated once for all its subscribers; failures counted once on one of them', async (t) => {
  const realm = testRealm({ limits: { ...DEFAULT_REALM_LIMITS, maxFiltersPerTopic: 1 } });
  let request = 0;
  const subscribe = (p: ReturnType<typeof joined>, options: Record<string, unknown> = {}): number => {
    realm.broker.subscribe(p, wamp<Subscribe>([MessageType.SUBSCRIBE, ++request, options, 'com.r']));
    const m = p.received.pop()!;
    return m.type === MessageType.SUBSCRIBED ? m.subscription : -1;
  };
  const [a, b, c] = [joined(realm), joined(realm), joined(realm)];
  const filtered = subscribe(a, { x_filter: 'kwargs.n > 1' });
  t.equal(subscribe(b, { x_filter: 'kwargs.n>1' }), filtered, 'the same normal form: the same subscription');
  const plain = subscribe(c);
  t.not(plain, filtered);
  t.equal(subscribe(c, { x_filter: 'kwargs.n > 2' }), -1, 'a second filter on the topic is over max_filters_per_topic (1)');
  t.match(c.refusals.at(-1), { kind: 'too_many_subscriptions' });
  const local = joined(realm, { isLocal: true });
  t.ok(subscribe(local, { x_filter: 'kwargs.n > 2' }) > 0, 'an in-process session is not held to it');
  for (const p of [a, b, c, local]) p.received.length = 0;

  const pub = joined(realm);
  const publish = (kwargs: Record<string, unknown>): void => realm.broker.publish(pub, wamp<Publish>([MessageType.PUBLISH, ++request, {}, 'com.r', [], kwargs]));
  publish({ n: 2 });
  const [ea, eb] = [a.one(MessageType.EVENT), b.one(MessageType.EVENT)];
  t.equal(ea, eb, 'one EVENT object for both subscribers of the filtered subscription (encoded once)');
  t.equal(ea.subscription, filtered);
  t.equal(c.one(MessageType.EVENT).subscription, plain);
  t.same(local.take(MessageType.EVENT), [], 'n > 2 is false for n = 2');
  publish({ m: 1 });
  t.same(a.take(MessageType.EVENT), [], 'the filter failed: not delivered');
  t.same(b.take(MessageType.EVENT), []);
  const failures = [a, b].flatMap((p) => p.refusals.filter((r) => r.kind === 'filter_error'));
  t.equal(failures.length, 1, 'counted once for the subscription, on one of its subscribers');
  t.match(failures[0]!.fields, { subscription: filtered, uri: 'com.r', x_filter: 'kwargs.n > 1', error: /No such key: n/ });
  t.equal(local.refusals.filter((r) => r.kind === 'filter_error').length, 1, 'each failing subscription counts its own');
});
