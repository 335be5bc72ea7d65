// The broker's routing rules on their own: a real Realm (roles, URI
// checks, meta events) with fake peers (fake-peer.ts) instead of sessions
// and sockets. broker.test.ts checks the same ground end to end with real
// clients; these pin the rules down one by one and can't be confused by
// transports or timing.
import t from 'tap';
import { MessageType, type Publish, type Subscribe, type Unsubscribe } from '../src/messages/types.js';
import { DEFAULT_REALM_LIMITS } from '../src/limits/limits-config.js';
import { WampErrors } from '../src/errors.js';
import { ALLOW_ALL, joined, testRealm, wamp, type FakePeer } from './fake-peer.js';
import type { Realm } from '../src/realm/realm.js';

let request = 0;
const publish = (realm: Realm, p: FakePeer, topic: string, args: unknown[] = [], options: Record<string, unknown> = {}): void =>
  realm.broker.publish(p, wamp<Publish>([MessageType.PUBLISH, ++request, options, topic, args]));
const subscribe = (realm: Realm, p: FakePeer, topic: string, options: Record<string, unknown> = {}): number => {
  realm.broker.subscribe(p, wamp<Subscribe>([MessageType.SUBSCRIBE, ++request, options, topic]));
  const m = p.received.at(-1)!;
  return m.type === MessageType.SUBSCRIBED ? m.subscription : -1;
};

t.test('match policies: exact, prefix and wildcard subscriptions each get the event once, in that order', async (t) => {
  const realm = testRealm();
  const sub = joined(realm);
  const exact = subscribe(realm, sub, 'com.a.b');
  const prefix = subscribe(realm, sub, 'com.a', { match: 'prefix' });
  const wildcard = subscribe(realm, sub, 'com..b', { match: 'wildcard' });
  const other = subscribe(realm, sub, 'com.x', { match: 'prefix' });
  sub.take(MessageType.SUBSCRIBED);
  const pub = joined(realm);
  publish(realm, pub, 'com.a.b', [1]);
  const events = sub.take(MessageType.EVENT);
  t.same(events.map((e) => e.subscription), [exact, prefix, wildcard], 'exact, then prefix, then wildcard; com.x. not matched');
  t.notOk(events.map((e) => e.subscription).includes(other));
  t.equal(events[0]!.details.topic, undefined, 'an exact subscriber is not told the topic');
  t.equal(events[1]!.details.topic, 'com.a.b', 'a pattern subscriber is');
  t.equal(events[2]!.details.topic, 'com.a.b');
  t.same(events.map((e) => e.args), [[1], [1], [1]]);
  t.equal(new Set(events.map((e) => e.publication)).size, 1, 'one publication id');
  t.same(pub.received, [], 'no acknowledgement unless asked for');
});

t.test('one EVENT object per subscription is shared by all its subscribers (encode once)', async (t) => {
  const realm = testRealm();
  const subs = [joined(realm), joined(realm), joined(realm)];
  for (const s of subs) subscribe(realm, s, 'com.fan');
  const pub = joined(realm);
  publish(realm, pub, 'com.fan', ['x'], { acknowledge: true });
  const events = subs.map((s) => s.one(MessageType.EVENT));
  t.ok(events.every((e) => e === events[0]), 'the same message object');
  t.equal(pub.one(MessageType.PUBLISHED).publication, events[0]!.publication, 'PUBLISHED carries the publication id');
});

t.test('publisher exclusion and black/whitelists', async (t) => {
  const realm = testRealm({ roles: [{ name: 'other', permissions: [ALLOW_ALL] }] });
  const pub = joined(realm, { authid: 'alice' });
  const bob = joined(realm, { authid: 'bob' });
  const carol = joined(realm, { authid: 'carol', authrole: 'other' });
  for (const p of [pub, bob, carol]) { subscribe(realm, p, 'com.t'); p.take(MessageType.SUBSCRIBED); }
  const got = (): string[] => [pub, bob, carol].filter((p) => p.take(MessageType.EVENT).length > 0).map((p) => p.authid);

  publish(realm, pub, 'com.t');
  t.same(got(), ['bob', 'carol'], 'the publisher is excluded by default');
  publish(realm, pub, 'com.t', [], { exclude_me: false });
  t.same(got(), ['alice', 'bob', 'carol'], 'exclude_me: false');
  publish(realm, pub, 'com.t', [], { exclude: [bob.id] });
  t.same(got(), ['carol'], 'exclude by session');
  publish(realm, pub, 'com.t', [], { eligible: [bob.id, pub.id] });
  t.same(got(), ['bob'], 'eligible by session (and the publisher still excluded)');
  publish(realm, pub, 'com.t', [], { eligible_authrole: ['other'] });
  t.same(got(), ['carol'], 'eligible by role');
  publish(realm, pub, 'com.t', [], { exclude_authid: ['carol'], exclude_me: false });
  t.same(got(), ['alice', 'bob'], 'exclude by authid');
  publish(realm, pub, 'com.t', [], { eligible_authid: ['bob', 'carol'], exclude_authrole: ['other'] });
  t.same(got(), ['bob'], 'whitelist and blacklist together');
});

t.test('disclosure: by the role\'s permission; disclose_me without it is refused and not delivered', async (t) => {
  const realm = testRealm({
    roles: [{ name: 'discloser', permissions: [{ ...ALLOW_ALL, disclose: { caller: true, publisher: true } }] }],
  });
  const sub = joined(realm);
  subscribe(realm, sub, 'com.d');
  const discloser = joined(realm, { authid: 'dee', authrole: 'discloser' });
  publish(realm, discloser, 'com.d');
  t.match(sub.one(MessageType.EVENT).details, { publisher: discloser.id, publisher_authid: 'dee', publisher_authrole: 'discloser' });
  const anon = joined(realm);
  publish(realm, anon, 'com.d', [], { acknowledge: true, disclose_me: true });
  t.equal(anon.one(MessageType.ERROR).error, WampErrors.optionDisallowedDiscloseMe);
  t.same(sub.take(MessageType.EVENT), [], 'not delivered');
  publish(realm, anon, 'com.d');
  t.same(Object.keys(sub.one(MessageType.EVENT).details), [], 'an anonymous publisher stays anonymous');
});

t.test('permissions, reserved and invalid URIs: ERROR only when acknowledged', async (t) => {
  const realm = testRealm({
    roles: [{ name: 'listener', permissions: [{ ...ALLOW_ALL, allow: { call: false, register: false, publish: false, subscribe: true } }] }],
  });
  const listener = joined(realm, { authrole: 'listener' });
  publish(realm, listener, 'com.x', [], { acknowledge: true });
  t.equal(listener.one(MessageType.ERROR).error, WampErrors.notAuthorized);
  t.match(listener.refusals, [{ kind: 'not_authorized' }], 'the refusal is reported to the peer (counted and logged once there)');
  publish(realm, listener, 'com.x');
  t.same(listener.received, [], 'unacknowledged: dropped silently');
  const anon = joined(realm);
  publish(realm, anon, 'wamp.session.on_join', [], { acknowledge: true });
  t.equal(anon.one(MessageType.ERROR).error, WampErrors.invalidUri, 'wamp.* is the router\'s');
  publish(realm, anon, 'com..x', [], { acknowledge: true });
  t.equal(anon.one(MessageType.ERROR).error, WampErrors.invalidUri);
  subscribe(realm, anon, 'com.a..b');
  t.equal(anon.one(MessageType.ERROR).error, WampErrors.invalidUri, 'an empty component is no exact topic');
  t.ok(subscribe(realm, anon, 'com.a..b', { match: 'wildcard' }) > 0, 'but a wildcard pattern');
});

t.test('retained events: kept per topic, replaced, delivered on get_retained with retained: true; the bounds refuse', async (t) => {
  const realm = testRealm({ limits: { ...DEFAULT_REALM_LIMITS, maxRetained: 2 } });
  const pub = joined(realm);
  publish(realm, pub, 'com.r.one', [1], { retain: true });
  publish(realm, pub, 'com.r.one', [2], { retain: true });
  publish(realm, pub, 'com.r.two', [3], { retain: true });
  t.same(realm.broker.retainedHoldings().count, 2, 'one event per topic');
  publish(realm, pub, 'com.r.three', [4], { retain: true, acknowledge: true });
  const err = pub.one(MessageType.ERROR);
  t.equal(err.error, WampErrors.retainLimit, 'a third topic is over max_retained');
  t.match(pub.refusals.at(-1), { kind: 'retain_limit' });
  publish(realm, pub, 'com.r.one', [5], { retain: true, acknowledge: true });
  t.equal(pub.take(MessageType.PUBLISHED).length, 1, 'replacing an existing topic\'s event is within the bound');

  const late = joined(realm);
  subscribe(realm, late, 'com.r.one', { get_retained: true });
  const exact = late.one(MessageType.EVENT);
  t.same(exact.args, [5], 'the latest event');
  t.equal(exact.details.retained, true);
  subscribe(realm, late, 'com.r', { match: 'prefix', get_retained: true });
  t.same(late.take(MessageType.EVENT).map((e) => e.args).sort(), [[3], [5]], 'a pattern subscription gets every matching topic\'s');
  subscribe(realm, late, 'com.r.two');
  t.same(late.take(MessageType.EVENT), [], 'nothing without get_retained');
});

t.test('retained events keep their publication\'s receiver filter', async (t) => {
  const realm = testRealm();
  const pub = joined(realm);
  const wanted = joined(realm, { authid: 'wanted' });
  const other = joined(realm, { authid: 'other' });
  publish(realm, pub, 'com.f', [1], { retain: true, eligible_authid: ['wanted'] });
  subscribe(realm, wanted, 'com.f', { get_retained: true });
  subscribe(realm, other, 'com.f', { get_retained: true });
  t.equal(wanted.take(MessageType.EVENT).length, 1);
  t.equal(other.take(MessageType.EVENT).length, 0);
});

t.test('subscribe, resubscribe, unsubscribe: one subscription per (URI, policy), ids, errors', async (t) => {
  const realm = testRealm();
  const a = joined(realm);
  const b = joined(realm);
  const id = subscribe(realm, a, 'com.s');
  t.equal(subscribe(realm, b, 'com.s'), id, 'the same topic and policy is the same subscription');
  t.equal(subscribe(realm, a, 'com.s'), id, 'subscribing again is idempotent');
  t.not(subscribe(realm, a, 'com.s', { match: 'prefix' }), id, 'another policy is another subscription');
  t.equal(realm.broker.subscriptionsHeld, 3, 'held: (a, exact), (b, exact), (a, prefix)');
  realm.broker.unsubscribe(b, wamp<Unsubscribe>([MessageType.UNSUBSCRIBE, 90, id]));
  t.equal(b.one(MessageType.UNSUBSCRIBED).request, 90);
  realm.broker.unsubscribe(b, wamp<Unsubscribe>([MessageType.UNSUBSCRIBE, 91, id]));
  t.equal(b.one(MessageType.ERROR).error, WampErrors.noSuchSubscription, 'twice');
  t.ok(realm.broker.observations.get(id), 'a still holds it');
  realm.broker.unsubscribe(a, wamp<Unsubscribe>([MessageType.UNSUBSCRIBE, 92, id]));
  t.equal(realm.broker.observations.get(id), undefined, 'gone with its last subscriber');
  t.equal(realm.broker.subscriptionsHeld, 1);
});

t.test('meta events: on_create, on_subscribe, on_unsubscribe, on_delete, in order', async (t) => {
  const realm = testRealm();
  const watcher = joined(realm, { isLocal: true });
  for (const e of ['on_create', 'on_subscribe', 'on_unsubscribe', 'on_delete']) subscribe(realm, watcher, `wamp.subscription.${e}`);
  const names = ['on_create', 'on_subscribe', 'on_unsubscribe', 'on_delete'];
  const subs = new Map(watcher.take(MessageType.SUBSCRIBED).map((m, i) => [m.subscription, names[i]!]));
  watcher.take(MessageType.EVENT); // its own subscriptions' events
  const p = joined(realm);
  const id = subscribe(realm, p, 'com.m');
  t.equal(p.received[0]!.type, MessageType.SUBSCRIBED, 'the subscriber hears SUBSCRIBED first');
  realm.broker.sessionLeft(p);
  const seen = watcher.take(MessageType.EVENT).map((e) => [subs.get(e.subscription), e.args] as const);
  t.same(seen.map(([name]) => name), names);
  t.match(seen[0]![1], [p.id, { id, uri: 'com.m', match: 'exact', created: /^\d{4}-\d\d-\d\dT/ }]);
  t.same(seen.slice(1).map(([, args]) => args), [[p.id, id], [p.id, id], [p.id, id]]);
});

t.test('a peer leaving takes all its subscriptions with it', async (t) => {
  const realm = testRealm();
  const stays = joined(realm);
  const leaves = joined(realm);
  const shared = subscribe(realm, stays, 'com.shared');
  subscribe(realm, leaves, 'com.shared');
  const own = subscribe(realm, leaves, 'com.own', { match: 'prefix' });
  realm.leave(leaves);
  t.ok(realm.broker.observations.get(shared), 'a subscription another peer holds stays');
  t.equal(realm.broker.observations.get(own), undefined, 'its own is gone');
  t.equal(realm.broker.observations.heldBy(leaves), 0);
  t.equal(realm.broker.subscriptionsHeld, 1);
  const pub = joined(realm);
  publish(realm, pub, 'com.shared');
  t.equal(leaves.take(MessageType.EVENT).length, 0, 'it gets nothing more');
  t.equal(stays.take(MessageType.EVENT).length, 1);
});

t.test('bounds of issue 13: subscriptions per session and per realm; in-process peers exempt', async (t) => {
  const realm = testRealm({ limits: { ...DEFAULT_REALM_LIMITS, maxTotalSubscriptions: 3 } });
  const a = joined(realm, { limits: { maxSubscriptions: 2 } });
  t.ok(subscribe(realm, a, 'com.1') > 0);
  t.ok(subscribe(realm, a, 'com.2') > 0);
  t.equal(subscribe(realm, a, 'com.3'), -1);
  t.match(a.one(MessageType.ERROR), { error: WampErrors.tooManySubscriptions, args: [/max_subscriptions 2/] });
  t.ok(subscribe(realm, a, 'com.1') > 0, 'resubscribing what it holds is no new holding');
  const b = joined(realm);
  t.ok(subscribe(realm, b, 'com.1') > 0, 'another peer on an existing subscription: the third holding');
  t.equal(subscribe(realm, b, 'com.4'), -1);
  t.match(b.one(MessageType.ERROR), { error: WampErrors.tooManySubscriptions, args: [/max_total_subscriptions 3/] });
  t.match(b.refusals, [{ kind: 'too_many_subscriptions' }]);
  const local = joined(realm, { isLocal: true });
  t.ok(subscribe(realm, local, 'com.5') > 0, 'an in-process peer is not held to the realm\'s bound');
  realm.leave(a);
  t.ok(subscribe(realm, b, 'com.4') > 0, 'a leaving peer frees its holdings');
});

t.test('remove_subscriber: as if unsubscribed; told when it announced revocation', async (t) => {
  const realm = testRealm();
  const told = joined(realm);
  const untold = joined(realm, { roles: { subscriber: {} } });
  const id = subscribe(realm, told, 'com.rm');
  subscribe(realm, untold, 'com.rm');
  const sub = realm.broker.observations.get(id)!;
  realm.broker.removeObserver(sub, told, 'bye');
  realm.broker.removeObserver(sub, untold, 'bye');
  t.match(told.take(MessageType.UNSUBSCRIBED), [{ request: 0, details: { subscription: id, reason: 'bye' } }]);
  t.same(untold.take(MessageType.UNSUBSCRIBED), []);
  t.equal(realm.broker.observations.get(id), undefined);
});
