// Persistent subscriptions' rules one by one, without sockets: the config
// keys (defaults, values, errors naming the key), the option's checks, the
// bounds as a pure function, and the switch from keeping to delivering
// through fake peers on a real Realm (SUBSCRIBED and the replay in one turn).
import t from 'tap';
import { fromCrossbar, ConfigError } from '../src/config/crossbar-config.js';
import { DEFAULT_REALM_LIMITS } from '../src/limits/limits-config.js';
import { makeRoom, persistentRefusal } from '../src/limits/persistence.js';
import { parsePersistentOption } from '../src/broker/persistent-option.js';
import { MessageType, type Dict, type Publish, type Subscribe, type Unsubscribe } from '../src/messages/types.js';
import { ALLOW_ALL, FakePeer, testRealm, wamp, type FakePeerOptions } from './fake-peer.js';
import { testConfig } from './helpers.js';
import type { Realm } from '../src/realm/realm.js';

t.test('the limits in the config: defaults, values, per role, and errors naming the key', async (t) => {
  const realmWith = (limits: Record<string, unknown>, roleLimits?: Record<string, unknown>): unknown => testConfig({
    realms: [{ name: 'realm1', options: { limits }, roles: [{ name: 'anonymous', permissions: [], ...(roleLimits ? { limits: roleLimits } : {}) }] }],
  });
  const limitsOf = (limits: Record<string, unknown>, roleLimits?: Record<string, unknown>) => fromCrossbar(realmWith(limits, roleLimits)).config.realms[0]!.limits!;
  t.match(limitsOf({}), {
    maxPersistentPerAuthid: 8, maxTotalPersistent: 10_000, maxPersistentEvents: 100, maxPersistentBytes: 262_144, maxTotalPersistentBytes: 67_108_864,
    maxPersistentAgeSeconds: 3600, persistentTtlSeconds: 300, maxPersistentTtlSeconds: 86_400,
  }, 'defaults');
  t.match(limitsOf({
    max_persistent_per_authid: 0, max_total_persistent: null, max_persistent_events: 10_000, max_persistent_bytes: 1, max_total_persistent_bytes: null,
    max_persistent_age: 10, persistent_ttl: 20, max_persistent_ttl: 30,
  }), {
    maxPersistentPerAuthid: 0, maxTotalPersistent: null, maxPersistentEvents: 10_000, maxPersistentBytes: 1, maxTotalPersistentBytes: null,
    maxPersistentAgeSeconds: 10, persistentTtlSeconds: 20, maxPersistentTtlSeconds: 30,
  });
  t.equal(limitsOf({ max_persistent_ttl: 60 }).persistentTtlSeconds, 60, 'unset, the default ttl is no longer than a lowered max_persistent_ttl');
  t.equal(limitsOf({ max_persistent_per_authid: 3 }, { max_persistent_per_authid: null }).roles.anonymous!.maxPersistentPerAuthid, null, 'a role overrides the realm\'s');
  t.equal(limitsOf({ max_persistent_per_authid: 3 }, {}).roles.anonymous!.maxPersistentPerAuthid, 3, 'and inherits it');
  const key = 'workers[0].realms[0].options.limits';
  for (const [name, value] of [
    ['max_persistent_per_authid', -1], ['max_persistent_per_authid', 'many'], ['max_total_persistent', 0], ['max_persistent_events', 0], ['max_persistent_events', 10_001],
    ['max_persistent_events', null], ['max_persistent_bytes', 0], ['max_total_persistent_bytes', 0], ['max_persistent_age', 0], ['max_persistent_age', 2_000_001],
    ['persistent_ttl', 0], ['max_persistent_ttl', 1.5], ['max_persistent_ttl', 2_000_001],
  ] as [string, unknown][]) {
    let err: unknown;
    try { limitsOf({ [name]: value }); } catch (e) { err = e; }
    t.ok(err instanceof ConfigError, `${name}: ${JSON.stringify(value)} is a config error`);
    t.match((err as Error | undefined)?.message, `invalid config at ${key}.${name}`, 'naming the key');
  }
  let err: unknown;
  try { limitsOf({ persistent_ttl: 100, max_persistent_ttl: 50 }); } catch (e) { err = e; }
  t.match((err as Error | undefined)?.message, `invalid config at ${key}.persistent_ttl: persistent_ttl (the default ttl) must not be longer than max_persistent_ttl`);
  let roleErr: unknown;
  try { limitsOf({}, { max_persistent_per_authid: 1.5 }); } catch (e) { roleErr = e; }
  t.match((roleErr as Error | undefined)?.message, 'invalid config at workers[0].realms[0].roles[0].limits.max_persistent_per_authid');
});

t.test('the option', async (t) => {
  t.same(parsePersistentOption({ name: 'inbox' }, 100), { name: 'inbox', ttl: undefined });
  t.same(parsePersistentOption({ name: 'ü 名前', ttl: 100 }, 100), { name: 'ü 名前', ttl: 100 });
  t.match(parsePersistentOption(null, 100), /must be a dict \{name, ttl\?\}, got null/);
  t.match(parsePersistentOption([], 100), /got a list/);
  t.match(parsePersistentOption({ name: 7 }, 100), /x_persistent.name must be a string, got number 7/);
  t.match(parsePersistentOption({ name: 'x', ttl: '5' }, 100), /x_persistent.ttl must be a whole number of seconds, at least 1, got string "5"/);
  t.match(parsePersistentOption({ name: 'x', ttl: 101 }, 100), /x_persistent.ttl of 101 seconds is longer than max_persistent_ttl \(100\)/);
});

t.test('bounds: which kept events make room, pure', async (t) => {
  const q = (...sizes: number[]) => sizes.map((size) => ({ size }));
  const b = { maxEvents: 3, maxBytes: 100, maxTotalBytes: 1000 };
  t.same(makeRoom(q(), 0, 0, 10, b), { evict: 0, keep: true });
  t.same(makeRoom(q(10, 10, 10), 30, 30, 10, b), { evict: 1, keep: true }, 'count: the oldest goes');
  t.same(makeRoom(q(50, 30), 80, 80, 40, b), { evict: 1, keep: true }, 'bytes: the oldest goes');
  t.same(makeRoom(q(10, 30, 50), 90, 90, 100, b), { evict: 3, keep: true }, 'as many as it takes');
  t.same(makeRoom(q(10), 10, 10, 101, b), { evict: 0, keep: false }, 'larger than max_persistent_bytes alone: not kept, nothing goes');
  t.same(makeRoom(q(40, 40), 80, 990, 30, b), { evict: 1, keep: true }, 'the realm\'s total: its own oldest go');
  t.same(makeRoom(q(), 0, 990, 30, b), { evict: 0, keep: false }, 'an empty queue cannot make room in a full realm');
  t.same(makeRoom(q(5), 5, 990, 30, b), { evict: 0, keep: false }, 'nor one whose own events are not enough: it keeps them');
  t.same(makeRoom(q(10, 10, 10), 30, 1e9, 10, { ...b, maxTotalBytes: null }), { evict: 1, keep: true }, 'no realm bound');
  t.equal(persistentRefusal({ perAuthid: 2, perRealm: 10 }, { authid: 1, realm: 9 }, 'a'), undefined);
  t.match(persistentRefusal({ perAuthid: 2, perRealm: 10 }, { authid: 2, realm: 0 }, 'a'), /authid "a" already holds 2 persistent subscriptions \(max_persistent_per_authid 2\)/);
  t.match(persistentRefusal({ perAuthid: null, perRealm: 10 }, { authid: 50, realm: 10 }, 'a'), /the realm already holds 10 persistent subscriptions \(max_total_persistent 10\)/);
  t.equal(persistentRefusal({ perAuthid: null, perRealm: null }, { authid: 1e6, realm: 1e6 }, 'a'), undefined);
});

/** A fake peer that logged in (fake peers say anonymous). */
class User extends FakePeer {
  override details(): Dict { return { ...super.details(), authmethod: 'ticket' }; }
}

function join(realm: Realm, o: FakePeerOptions): User {
  const p = new User(o);
  realm.join(p);
  return p;
}

t.test('routing: the switch from keeping to delivering happens in the SUBSCRIBE\'s own turn', async (t) => {
  const realm = testRealm({ limits: { ...DEFAULT_REALM_LIMITS } });
  let request = 0;
  const subscribe = (p: FakePeer, options: Dict, topic = 'com.r'): void => realm.broker.subscribe(p, wamp<Subscribe>([MessageType.SUBSCRIBE, ++request, options, topic]));
  const publish = (p: FakePeer, n: unknown, options: Dict = {}): void => realm.broker.publish(p, wamp<Publish>([MessageType.PUBLISH, ++request, options, 'com.r', [n]]));
  const pub = join(realm, { authid: 'pub' });
  const a = join(realm, { authid: 'alice' });
  subscribe(a, { x_persistent: { name: 'n' } });
  t.equal(a.one(MessageType.SUBSCRIBED).type, MessageType.SUBSCRIBED);
  t.equal(realm.broker.persistent.detached, 0, 'held: nothing is offered the publications');
  realm.leave(a);
  t.equal(realm.broker.persistent.detached, 1);
  publish(pub, 1);
  publish(pub, 2);
  t.equal(a.received.length, 0, 'nothing goes to a session that left');

  const b = join(realm, { authid: 'alice' });
  subscribe(b, { x_persistent: { name: 'n' } });
  // No await above: SUBSCRIBED and the whole replay were sent within the subscribe() call.
  t.same(b.received.map((m) => m.type), [MessageType.SUBSCRIBED, MessageType.EVENT, MessageType.EVENT]);
  const [subscribed, e1, e2] = b.received as unknown as [{ subscription: number }, { subscription: number; args: unknown[]; details: Dict }, { subscription: number; args: unknown[]; details: Dict }];
  t.same([e1.args, e2.args], [[1], [2]]);
  t.same([e1.subscription, e2.subscription], [subscribed.subscription, subscribed.subscription]);
  t.same(e1.details, { x_replayed: true });
  t.equal(realm.broker.persistent.detached, 0, 'no longer offered anything');
  b.received.length = 0;
  publish(pub, 3);
  t.same(b.received.map((m) => (m as { args?: unknown[] }).args), [[3]], 'then live, unmarked');
  t.same((b.received[0] as { details: Dict }).details, {});

  // Unsubscribing as a plain subscriber of the same subscription ends it too: it is the session's one subscription of (topic, match).
  realm.broker.unsubscribe(b, wamp<Unsubscribe>([MessageType.UNSUBSCRIBE, ++request, subscribed.subscription]));
  t.equal(realm.broker.persistent.size, 0);

  // remove_subscriber ends it when it takes the last holder, as UNSUBSCRIBE does.
  const c = join(realm, { authid: 'carol' });
  subscribe(c, { x_persistent: { name: 'n' } });
  const sub = c.one(MessageType.SUBSCRIBED).subscription;
  realm.broker.removeObserver(realm.broker.observations.get(sub)!, c, 'test');
  t.equal(realm.broker.persistent.size, 0);

  // Anonymous sessions may not; in-process ones (which log in as anonymous with their embedder's authid) may.
  const anon = new FakePeer({ authid: 'anon' });
  realm.join(anon);
  subscribe(anon, { x_persistent: { name: 'n' } });
  t.match(anon.one(MessageType.ERROR), { error: 'wamp.error.option_not_allowed' });
  t.same(anon.refusals.map((r) => r.kind), ['persistent_refused'], 'counted as a refusal');
  const app = new FakePeer({ authid: 'app-anon', isLocal: true });
  realm.join(app);
  subscribe(app, { x_persistent: { name: 'n' } });
  t.equal(app.one(MessageType.SUBSCRIBED).type, MessageType.SUBSCRIBED);

  // In-process sessions are held to no persistent caps (but still to their identity).
  const local = join(realm, { authid: 'app', isLocal: true });
  for (let i = 0; i < 12; i++) subscribe(local, { x_persistent: { name: `l${i}` } }, `com.l.${i}`);
  t.equal(local.take(MessageType.SUBSCRIBED).length, 12, 'more than max_persistent_per_authid');
});

t.test('the replay: not to another role of the authid, not to a session that held the subscription plainly; a returning filtered one is not a new filter', async (t) => {
  const realm = testRealm({
    limits: { ...DEFAULT_REALM_LIMITS, maxTotalFilters: 1 },
    roles: [{ name: 'admin', permissions: [ALLOW_ALL] }, { name: 'player', permissions: [ALLOW_ALL] }],
  });
  let request = 0;
  const subscribe = (p: FakePeer, options: Dict, topic = 'com.r'): void => realm.broker.subscribe(p, wamp<Subscribe>([MessageType.SUBSCRIBE, ++request, options, topic]));
  const publish = (p: FakePeer, n: unknown, options: Dict = {}, topic = 'com.r'): void => realm.broker.publish(p, wamp<Publish>([MessageType.PUBLISH, ++request, options, topic, [n]]));
  const events = (p: FakePeer): unknown[] => p.received.filter((m) => m.type === MessageType.EVENT).map((m) => (m as { args: unknown[] }).args[0]);
  const pub = join(realm, { authid: 'pub' });

  // Kept for alice as admin (the whitelist names admin); alice back as player gets none of it.
  const asAdmin = join(realm, { authid: 'alice', authrole: 'admin' });
  subscribe(asAdmin, { x_persistent: { name: 'n' } });
  realm.leave(asAdmin);
  publish(pub, 'for admins only', { eligible_authrole: ['admin'] });
  const asPlayer = join(realm, { authid: 'alice', authrole: 'player' });
  subscribe(asPlayer, { x_persistent: { name: 'n' } });
  t.same(events(asPlayer), [], 'what was kept under the admin role is not replayed to the player role');
  t.equal(asPlayer.one(MessageType.SUBSCRIBED).type, MessageType.SUBSCRIBED);
  realm.leave(asPlayer);
  publish(pub, 'for everyone');
  const again = join(realm, { authid: 'alice', authrole: 'player' });
  subscribe(again, { x_persistent: { name: 'n' } });
  t.same(events(again), ['for everyone'], 'under the same role, the replay');
  realm.leave(again);

  // Two sessions of bob: A holds it persistently, B plainly (the same subscription). A leaves;
  // B gets the next event live, so when B takes the persistent subscription it is not replayed.
  const a = join(realm, { authid: 'bob' });
  const b = join(realm, { authid: 'bob' });
  subscribe(a, { x_persistent: { name: 'm' } }, 'com.s');
  subscribe(b, {}, 'com.s');
  realm.leave(a);
  publish(pub, 1, {}, 'com.s');
  t.same(events(b), [1], 'B got it live');
  subscribe(b, { x_persistent: { name: 'm' } }, 'com.s');
  t.same(events(b), [1], 'and not again as a replay');

  // max_total_filters 1: carol's filtered persistent subscription comes back without counting itself.
  const c1 = join(realm, { authid: 'carol' });
  subscribe(c1, { x_persistent: { name: 'f' }, x_filter: 'args[0] > 0' }, 'com.f');
  t.equal(c1.one(MessageType.SUBSCRIBED).type, MessageType.SUBSCRIBED);
  realm.leave(c1);
  publish(pub, 5, {}, 'com.f');
  const c2 = join(realm, { authid: 'carol' });
  subscribe(c2, { x_persistent: { name: 'f' }, x_filter: 'args[0] > 0' }, 'com.f');
  t.equal(c2.received[0]?.type, MessageType.SUBSCRIBED, 'back within max_total_filters 1 (it is the one filter)');
  t.same(events(c2), [5]);
  // And a held one is counted once: another filter is over the limit.
  const d = join(realm, { authid: 'dave' });
  subscribe(d, { x_filter: 'args[0] < 0' }, 'com.f');
  t.match(d.one(MessageType.ERROR), { error: 'clawgate.error.too_many_subscriptions' });
});
