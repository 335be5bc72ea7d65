// The router's pure decision functions: URI matching, the URI index,
// permissions, receiver filters, invoke policies, RawSocket handshake rules, the passthrough-key copy.
import t from 'tap';
import { UriIndex } from '../src/routing/uri-index.js';
import { isValidPattern, isValidUri, wildcardMatches } from '../src/uri.js';
import { authorize, bestPermission, type Permission } from '../src/auth/permissions.js';
import { compileReceiverFilter } from '../src/broker/receiver-filter.js';
import { pickCallee, pickOther } from '../src/dealer/invoke-policy.js';
import { acceptHandshake, lengthExponent } from '../src/transport/rawsocket-transport.js';
import { pickSubprotocol } from '../src/transport/listener.js';
import { copyPassthrough } from '../src/messages/validate.js';

t.test('URI validity, loose and strict', async (t) => {
  t.ok(isValidUri('com.myapp.topic1', 'loose'));
  t.ok(isValidUri('com.My-App.Topic!', 'loose'));
  t.notOk(isValidUri('com..topic', 'loose'));
  t.notOk(isValidUri('com.my app', 'loose'));
  t.notOk(isValidUri('', 'loose'));
  t.notOk(isValidUri('com.#x', 'loose'));
  t.ok(isValidUri('com.my_app.t1', 'strict'));
  t.notOk(isValidUri('com.MyApp', 'strict'));
  t.ok(isValidPattern('com.myapp.', 'prefix', 'loose'), 'prefix may end with a dot');
  t.ok(isValidPattern('', 'prefix', 'loose'), 'empty prefix matches everything');
  t.ok(isValidPattern('com..create', 'wildcard', 'loose'));
  t.notOk(isValidPattern('com..create', 'exact', 'loose'));
  t.ok(wildcardMatches('com..create', 'com.x.create'));
  t.notOk(wildcardMatches('com..create', 'com.create'));
  t.notOk(wildcardMatches('com..create', 'com.x.create.y'));
});

t.test('UriIndex: matchAll order is exact, prefixes shortest first, wildcards', async (t) => {
  const idx = new UriIndex<string>();
  idx.add('com.myapp.topic1', 'exact', 'E');
  idx.add('com.myapp', 'prefix', 'C');
  idx.add('com', 'prefix', 'D');
  idx.add('com..topic1', 'wildcard', 'B');
  idx.add('de', 'prefix', 'X');
  t.same(idx.matchAll('com.myapp.topic1'), ['E', 'D', 'C', 'B']);
  t.same(idx.matchAll('com.myapp2'), ['D', 'C'], 'prefix is a plain string prefix');
  t.same(idx.matchAll('co'), []);
  t.equal(idx.best('com.myapp.topic1'), 'E');
  t.equal(idx.best('com.myapp.other'), 'C', 'longest prefix wins');
  t.equal(idx.best('com.x.topic1'), 'D', 'prefix beats wildcard');
  idx.remove('com', 'prefix');
  t.equal(idx.best('com.x.topic1'), 'B');
  idx.remove('com..topic1', 'wildcard');
  t.equal(idx.best('com.x.topic1'), undefined);
  t.same(idx.matchAll('com.myapp.topic1'), ['E', 'C']);
});

t.test('UriIndex: the most specific wildcard governs a call', async (t) => {
  const idx = new UriIndex<string>();
  idx.add('a..c', 'wildcard', 'generic');
  idx.add('a.b.', 'wildcard', 'specific-first');
  t.equal(idx.best('a.b.c'), 'specific-first');
  t.same(idx.matchAll('a.b.c').sort(), ['generic', 'specific-first']);
  t.equal(idx.best('a.x.c'), 'generic');
});

const perm = (uri: string, match: Permission['match'], allow: Partial<Permission['allow']>, disclose = false): Permission => ({
  uri, match,
  allow: { call: false, register: false, publish: false, subscribe: false, ...allow },
  disclose: { caller: disclose, publisher: disclose },
});

t.test('permissions: exact beats longest prefix beats wildcard', async (t) => {
  const perms = [
    perm('', 'prefix', { subscribe: true }),
    perm('claw.', 'prefix', { call: true }),
    perm('claw.admin.', 'prefix', {}),
    perm('claw.admin.pause', 'exact', { call: true }, true),
    perm('claw..status', 'wildcard', { publish: true }),
  ];
  t.same(authorize(perms, 'claw.admin.pause', 'call'), { allow: true, disclose: true });
  t.same(authorize(perms, 'claw.admin.skip', 'call'), { allow: false, disclose: false });
  t.same(authorize(perms, 'claw.queue.get', 'call'), { allow: true, disclose: false });
  t.equal(authorize(perms, 'claw.x.status', 'publish').allow, false, 'prefix claw. governs before the wildcard');
  t.equal(authorize(perms, 'other', 'subscribe').allow, true);
  t.equal(authorize([], 'x', 'call').allow, false, 'no rule, no access');
  t.equal(authorize([perm('x..y', 'wildcard', { publish: true })], 'x.1.y', 'publish').allow, true);
});

t.test('permissions and the dealer pick the same wildcard', async (t) => {
  const patterns = ['a..c', 'a.b.', '.b.c', 'a..', '..c'];
  const idx = new UriIndex<string>();
  for (const p of patterns) idx.add(p, 'wildcard', p);
  const perms = patterns.map((p) => perm(p, 'wildcard', { call: true }));
  for (const uri of ['a.b.c', 'a.x.c', 'x.b.c', 'a.b.x', 'x.y.c']) {
    t.equal(bestPermission(perms, uri)?.uri, idx.best(uri), uri);
  }
});

t.test('receiver filter: white and black lists combine', async (t) => {
  const a = { id: 1, authid: 'alice', authrole: 'player' };
  const b = { id: 2, authid: 'bob', authrole: 'player' };
  const c = { id: 3, authid: 'carol', authrole: 'operator' };
  t.equal(compileReceiverFilter({}), null, 'no lists, no filter');
  const f1 = compileReceiverFilter({ eligible_authrole: ['player'], exclude: [2] })!;
  t.same([a, b, c].filter(f1).map((r) => r.id), [1]);
  const f2 = compileReceiverFilter({ exclude_authid: ['carol'], eligible: [1, 3] })!;
  t.same([a, b, c].filter(f2).map((r) => r.id), [1]);
  const f3 = compileReceiverFilter({ eligible: [] })!;
  t.same([a, b, c].filter(f3), [], 'an empty whitelist admits nobody');
});

t.test('another callee for an undelivered invocation: in the policy\'s order, never one tried, none for single', async (t) => {
  const rr = { invoke: 'roundrobin' as const, callees: ['a', 'b', 'c'], roundRobin: 1 };
  t.equal(pickOther(rr, ['b']), 'c', 'round robin: the next in the rotation');
  t.equal(pickOther(rr, ['b', 'a']), 'c', 'skipping the tried ones (the rotation moves past them)');
  t.equal(pickOther({ invoke: 'first', callees: ['a', 'b', 'c'], roundRobin: 0 }, ['a']), 'b');
  t.equal(pickOther({ invoke: 'last', callees: ['a', 'b', 'c'], roundRobin: 0 }, ['c']), 'b');
  for (let i = 0; i < 20; i++) t.equal(pickOther({ invoke: 'random', callees: ['a', 'b', 'c'], roundRobin: 0 }, ['a', 'c']), 'b');
  t.equal(pickOther({ invoke: 'roundrobin', callees: ['a', 'b'], roundRobin: 0 }, ['a', 'b']), undefined, 'every callee tried: none');
  t.equal(pickOther({ invoke: 'single', callees: ['a'], roundRobin: 0 }, []), undefined, 'single: its one callee only');
});

t.test('invoke policies', async (t) => {
  const reg = { invoke: 'roundrobin' as const, callees: ['a', 'b', 'c'], roundRobin: 0 };
  t.same([1, 2, 3, 4].map(() => pickCallee(reg)), ['a', 'b', 'c', 'a']);
  t.equal(pickCallee({ invoke: 'first', callees: ['a', 'b'], roundRobin: 0 }), 'a');
  t.equal(pickCallee({ invoke: 'last', callees: ['a', 'b'], roundRobin: 0 }), 'b');
  t.ok(['a', 'b'].includes(pickCallee({ invoke: 'random', callees: ['a', 'b'], roundRobin: 0 })));
  const shrinking = { invoke: 'roundrobin' as const, callees: ['a', 'b', 'c'], roundRobin: 2 };
  pickCallee(shrinking);
  shrinking.callees.pop();
  t.ok(['a', 'b'].includes(pickCallee(shrinking)), 'round robin survives a callee leaving');
});

t.test('RawSocket handshake rules', async (t) => {
  const opts = { serializers: ['json', 'msgpack', 'cbor'] as const, maxMessageSize: 16 * 1024 * 1024, listener: 'x' };
  const ok = acceptHandshake(Buffer.from([0x7f, 0xf1, 0, 0]), { ...opts, serializers: [...opts.serializers] });
  t.ok('serializer' in ok && ok.serializer.id === 'json' && ok.clientMax === 2 ** 24);
  t.same(acceptHandshake(Buffer.from([0x7f, 0xf5, 0, 0]), { ...opts, serializers: [...opts.serializers] }), { error: 1 });
  t.same(acceptHandshake(Buffer.from([0x7f, 0xf2, 0, 1]), { ...opts, serializers: [...opts.serializers] }), { error: 3 });
  t.same(acceptHandshake(Buffer.from([0x7f, 0xf2, 0, 0]), { ...opts, serializers: ['json'] }), { error: 1 }, 'serializer not enabled');
  t.equal(lengthExponent(16 * 1024 * 1024), 15);
  t.equal(lengthExponent(1024), 1);
  t.equal(lengthExponent(100), 0);
});

t.test('WebSocket subprotocol: the client\'s first supported choice', async (t) => {
  t.equal(pickSubprotocol(['wamp.2.cbor', 'wamp.2.json'], ['json', 'msgpack', 'cbor'])?.id, 'cbor');
  t.equal(pickSubprotocol(['wamp.2.ubjson', 'wamp.2.json'], ['json', 'msgpack', 'cbor'])?.id, 'json');
  t.equal(pickSubprotocol(['wamp.2.cbor'], ['json']), undefined);
  t.equal(pickSubprotocol([], ['json']), undefined);
});

t.test('copyPassthrough copies only the passthrough keys that are set', async (t) => {
  t.same(copyPassthrough({}, {}), {});
  t.same(copyPassthrough({ enc_algo: 'cryptobox', enc_key: 'k', timeout: 5, ppt_scheme: undefined }, { a: 1 }), { a: 1, enc_algo: 'cryptobox', enc_key: 'k' });
});
