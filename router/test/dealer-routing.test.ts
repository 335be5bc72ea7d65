// The dealer's routing rules on their own: a real Realm with fake peers
// (fake-peer.ts) instead of sessions and sockets, beside the end-to-end
// dealer.test.ts.
import t from 'tap';
import { MessageType, type Call, type Cancel, type ErrorMessage, type Register, type Unregister, type Yield } from '../src/messages/types.js';
import { DEFAULT_REALM_LIMITS } from '../src/limits/limits-config.js';
import { WampError, WampErrors } from '../src/errors.js';
import { ALLOW_ALL, FakePeer, joined, testRealm, wamp } from './fake-peer.js';
import type { Realm } from '../src/realm/realm.js';

let request = 0;
const register = (realm: Realm, p: FakePeer, procedure: string, options: Record<string, unknown> = {}): number => {
  realm.dealer.register(p, wamp<Register>([MessageType.REGISTER, ++request, options, procedure]));
  const m = p.received.at(-1)!;
  if (m.type === MessageType.REGISTERED) { p.received.pop(); return m.registration; }
  return -1;
};
const call = (realm: Realm, p: FakePeer, procedure: string, args: unknown[] = [], options: Record<string, unknown> = {}, req = ++request): number => {
  realm.dealer.call(p, wamp<Call>([MessageType.CALL, req, options, procedure, args]));
  return req;
};
const yieldTo = (realm: Realm, callee: FakePeer, invocation: number, args: unknown[] = [], options: Record<string, unknown> = {}): void =>
  realm.dealer.yield(callee, wamp<Yield>([MessageType.YIELD, invocation, options, args]));

t.test('CALL → INVOCATION in the callee\'s own request ids → YIELD → RESULT', async (t) => {
  const realm = testRealm();
  const callee = joined(realm);
  const reg = register(realm, callee, 'com.echo');
  const caller = joined(realm);
  const r1 = call(realm, caller, 'com.echo', [1], {}, 7);
  const inv = callee.one(MessageType.INVOCATION);
  t.match(inv, { request: 1, registration: reg, args: [1] }, 'the first INVOCATION is request 1 of the callee\'s sequence');
  t.same(inv.details, {}, 'exact registration, no disclosure: empty details');
  call(realm, caller, 'com.echo', [2]);
  t.equal(callee.one(MessageType.INVOCATION).request, 2);
  yieldTo(realm, callee, 1, ['one']);
  t.match(caller.one(MessageType.RESULT), { request: r1, args: ['one'] });
  t.equal(realm.dealer.pendingCalls(caller), 1, 'the second call is still in flight');
  yieldTo(realm, callee, 1, ['late']);
  t.same(caller.received, [], 'a YIELD for a finished call is dropped');
  call(realm, caller, 'com.echo', [3], {}, 7);
  t.equal(caller.violation, undefined, 'a finished request id may be reused');
  call(realm, caller, 'com.echo', [4], {}, 7);
  t.match(caller.violation, /CALL request id 7 is already in flight/);
});

t.test('no callee, not allowed, invalid URI: ERROR to the caller', async (t) => {
  const realm = testRealm({ roles: [{ name: 'restricted', permissions: [{ ...ALLOW_ALL, allow: { call: false, register: false, publish: true, subscribe: true } }] }] });
  const caller = joined(realm);
  call(realm, caller, 'com.nobody');
  t.equal(caller.one(MessageType.ERROR).error, WampErrors.noSuchProcedure);
  call(realm, caller, 'com..bad');
  t.equal(caller.one(MessageType.ERROR).error, WampErrors.invalidUri);
  const restricted = joined(realm, { authrole: 'restricted' });
  call(realm, restricted, 'com.nobody');
  t.equal(restricted.one(MessageType.ERROR).error, WampErrors.notAuthorized);
  t.equal(register(realm, restricted, 'com.mine'), -1);
  t.equal(restricted.one(MessageType.ERROR).error, WampErrors.notAuthorized);
  t.equal(register(realm, caller, 'wamp.mine'), -1);
  t.equal(caller.one(MessageType.ERROR).error, WampErrors.invalidUri, 'wamp.* is the router\'s');
});

t.test('shared registrations: each invoke policy picks its callee', async (t) => {
  const realm = testRealm();
  const picks = (policy: string, n: number): number[] => {
    const callees = [joined(realm), joined(realm), joined(realm)];
    for (const c of callees) t.ok(register(realm, c, `com.${policy}`, { invoke: policy }) > 0);
    const caller = joined(realm);
    for (let i = 0; i < n; i++) call(realm, caller, `com.${policy}`);
    return callees.map((c) => c.take(MessageType.INVOCATION).length);
  };
  t.same(picks('first', 4), [4, 0, 0]);
  t.same(picks('last', 4), [0, 0, 4]);
  t.same(picks('roundrobin', 6), [2, 2, 2]);
  const random = picks('random', 300);
  t.equal(random.reduce((a, b) => a + b), 300);
  t.ok(random.every((n) => n > 30), `random spreads the calls (${random.join(', ')})`);
});

t.test('registering twice: single is taken, policies must agree, a callee once per registration', async (t) => {
  const realm = testRealm();
  const a = joined(realm);
  const b = joined(realm);
  register(realm, a, 'com.single');
  t.equal(register(realm, b, 'com.single'), -1);
  t.equal(b.one(MessageType.ERROR).error, WampErrors.procedureAlreadyExists);
  const id = register(realm, a, 'com.shared', { invoke: 'roundrobin' });
  t.equal(register(realm, b, 'com.shared', { invoke: 'first' }), -1);
  t.equal(b.one(MessageType.ERROR).error, WampErrors.differentInvocationPolicy);
  t.equal(register(realm, b, 'com.shared', { invoke: 'roundrobin' }), id, 'same policy: the same registration');
  t.equal(register(realm, a, 'com.shared', { invoke: 'roundrobin' }), -1);
  t.equal(a.one(MessageType.ERROR).error, WampErrors.procedureAlreadyExists);
  t.same(realm.dealer.observations.get(id)!.callees.map((c) => c.id), [a.id, b.id], 'in registration order');
});

t.test('roundrobin carries on when a callee leaves', async (t) => {
  const realm = testRealm();
  const [a, b, c] = [joined(realm), joined(realm), joined(realm)];
  const id = register(realm, a, 'com.rr', { invoke: 'roundrobin' });
  register(realm, b, 'com.rr', { invoke: 'roundrobin' });
  register(realm, c, 'com.rr', { invoke: 'roundrobin' });
  const caller = joined(realm);
  call(realm, caller, 'com.rr');
  call(realm, caller, 'com.rr');
  realm.dealer.unregister(b, wamp<Unregister>([MessageType.UNREGISTER, 50, id]));
  t.equal(b.one(MessageType.UNREGISTERED).request, 50);
  call(realm, caller, 'com.rr');
  call(realm, caller, 'com.rr');
  t.same([a, b, c].map((p) => p.take(MessageType.INVOCATION).length), [2, 1, 1]);
});

t.test('pattern registrations: the governing one, and the procedure in INVOCATION.Details', async (t) => {
  const realm = testRealm();
  const exact = joined(realm);
  const prefix = joined(realm);
  const longer = joined(realm);
  const wildcard = joined(realm);
  register(realm, exact, 'com.p.x.y');
  register(realm, prefix, 'com.p', { match: 'prefix' });
  register(realm, longer, 'com.p.x', { match: 'prefix' });
  register(realm, wildcard, 'com..x.z', { match: 'wildcard' });
  const caller = joined(realm);
  call(realm, caller, 'com.p.x.y');
  t.same(exact.one(MessageType.INVOCATION).details, {}, 'exact wins');
  call(realm, caller, 'com.p.x.q');
  t.same(longer.one(MessageType.INVOCATION).details, { procedure: 'com.p.x.q' }, 'then the longest prefix');
  call(realm, caller, 'com.p.other');
  t.equal(prefix.take(MessageType.INVOCATION).length, 1);
  call(realm, caller, 'com.q.x.z');
  t.same(wildcard.one(MessageType.INVOCATION).details, { procedure: 'com.q.x.z' }, 'then a wildcard');
});

t.test('caller disclosure, timeout and passthrough in INVOCATION.Details', async (t) => {
  const realm = testRealm({ roles: [{ name: 'discloser', permissions: [{ ...ALLOW_ALL, disclose: { caller: true, publisher: true } }] }] });
  const callee = joined(realm);
  register(realm, callee, 'com.who');
  const discloser = joined(realm, { authid: 'dee', authrole: 'discloser' });
  call(realm, discloser, 'com.who', [], { timeout: 60_000 });
  const inv = callee.one(MessageType.INVOCATION);
  t.same(inv.details, { timeout: 60_000, caller: discloser.id, caller_authid: 'dee', caller_authrole: 'discloser' });
  yieldTo(realm, callee, inv.request); // its timer must not keep the test running
  const anon = joined(realm);
  call(realm, anon, 'com.who', [], { disclose_me: true });
  t.equal(anon.one(MessageType.ERROR).error, WampErrors.optionDisallowedDiscloseMe);
  t.same(callee.received, [], 'refused before the callee');
});

t.test('progressive results: only to a caller that asked, only through a callee that can', async (t) => {
  const realm = testRealm();
  const callee = joined(realm);
  register(realm, callee, 'com.prog');
  const caller = joined(realm);
  const req = call(realm, caller, 'com.prog', [], { receive_progress: true });
  const inv = callee.one(MessageType.INVOCATION);
  t.equal(inv.details.receive_progress, true);
  yieldTo(realm, callee, inv.request, [1], { progress: true });
  yieldTo(realm, callee, inv.request, [2], { progress: true });
  yieldTo(realm, callee, inv.request, [3]);
  t.same(caller.take(MessageType.RESULT).map((r) => [r.request, r.details.progress ?? false, r.args]), [[req, true, [1]], [req, true, [2]], [req, false, [3]]]);

  const plain = joined(realm, { roles: { callee: {} } });
  register(realm, plain, 'com.plain');
  call(realm, caller, 'com.plain', [], { receive_progress: true });
  t.equal(plain.one(MessageType.INVOCATION).details.receive_progress, undefined, 'not offered to a callee that did not announce it');
  const quiet = joined(realm);
  call(realm, quiet, 'com.prog');
  const inv2 = callee.one(MessageType.INVOCATION);
  yieldTo(realm, callee, inv2.request, [1], { progress: true });
  t.same(quiet.received, [], 'a progress the caller did not ask for is dropped');
  // Progressive call invocations (issue 20): the callee here announced progressive results but not
  // progressive_call_invocations, so it can't take them (spec-edges.test.ts has the whole feature).
  const streamer = joined(realm, { roles: { caller: { features: { progressive_call_invocations: true } } } });
  call(realm, streamer, 'com.prog', [], { progress: true });
  t.equal(streamer.one(MessageType.ERROR).error, WampErrors.featureNotSupported, 'a callee without progressive_call_invocations is not sent chunks');
  call(realm, caller, 'com.prog', [], { progress: true });
  t.match(caller.violation, /did not announce progressive_call_invocations/, 'a caller that did not announce it breaks the protocol');
});

t.test('cancel: killnowait, kill and skip; a callee without call_canceling gets skip', async (t) => {
  const realm = testRealm();
  const callee = joined(realm);
  register(realm, callee, 'com.slow');
  const caller = joined(realm);
  const cancel = (req: number, mode?: string): void =>
    realm.dealer.cancel(caller, wamp<Cancel>([MessageType.CANCEL, req, mode === undefined ? {} : { mode }]));

  const r1 = call(realm, caller, 'com.slow');
  const i1 = callee.one(MessageType.INVOCATION).request;
  cancel(r1);
  t.match(callee.one(MessageType.INTERRUPT), { request: i1, options: { mode: 'killnowait' } }, 'killnowait is the default');
  t.match(caller.one(MessageType.ERROR), { request: r1, error: WampErrors.canceled });

  const r2 = call(realm, caller, 'com.slow');
  const i2 = callee.one(MessageType.INVOCATION).request;
  cancel(r2, 'kill');
  t.match(callee.one(MessageType.INTERRUPT), { request: i2, options: { mode: 'kill' } });
  t.same(caller.received, [], 'kill waits for the callee');
  realm.dealer.invocationError(callee, wamp<ErrorMessage>([MessageType.ERROR, MessageType.INVOCATION, i2, {}, WampErrors.canceled]));
  t.match(caller.one(MessageType.ERROR), { request: r2, error: WampErrors.canceled }, 'its answer is forwarded');

  const r3 = call(realm, caller, 'com.slow');
  callee.one(MessageType.INVOCATION);
  cancel(r3, 'skip');
  t.same(callee.take(MessageType.INTERRUPT), [], 'skip tells the callee nothing');
  t.equal(caller.one(MessageType.ERROR).error, WampErrors.canceled);

  const deaf = joined(realm, { roles: { callee: {} } });
  register(realm, deaf, 'com.deaf');
  const r4 = call(realm, caller, 'com.deaf');
  cancel(r4, 'kill');
  t.same(deaf.take(MessageType.INTERRUPT), [], 'no INTERRUPT to a callee that cannot take it');
  t.equal(caller.one(MessageType.ERROR).error, WampErrors.canceled, 'handled as skip');
  cancel(r4);
  t.same(caller.received, [], 'canceling a finished call does nothing');
});

t.test('timeout: ERROR to the caller, INTERRUPT to a callee that can take it', async (t) => {
  const realm = testRealm();
  const callee = joined(realm);
  register(realm, callee, 'com.never');
  const caller = joined(realm);
  const req = call(realm, caller, 'com.never', [], { timeout: 30 });
  const inv = callee.one(MessageType.INVOCATION);
  await new Promise((r) => setTimeout(r, 200));
  t.match(caller.one(MessageType.ERROR), { request: req, error: WampErrors.timeout });
  t.match(callee.one(MessageType.INTERRUPT), { request: inv.request, options: { mode: 'killnowait', reason: WampErrors.timeout } });
  yieldTo(realm, callee, inv.request, ['too late']);
  t.same(caller.received, []);
});

t.test('the callee\'s error goes to the caller unchanged, unless its URI is over max_uri_length', async (t) => {
  const realm = testRealm({ limits: { ...DEFAULT_REALM_LIMITS, maxUriLength: 40 } });
  const callee = joined(realm);
  register(realm, callee, 'com.err');
  const caller = joined(realm);
  call(realm, caller, 'com.err');
  const i1 = callee.one(MessageType.INVOCATION).request;
  realm.dealer.invocationError(callee, wamp<ErrorMessage>([MessageType.ERROR, MessageType.INVOCATION, i1, {}, 'com.app.failed', ['why'], { code: 7 }]));
  t.match(caller.one(MessageType.ERROR), { error: 'com.app.failed', args: ['why'], kwargs: { code: 7 } });
  call(realm, caller, 'com.err');
  const i2 = callee.one(MessageType.INVOCATION).request;
  realm.dealer.invocationError(callee, wamp<ErrorMessage>([MessageType.ERROR, MessageType.INVOCATION, i2, {}, `com.${'x'.repeat(60)}`]));
  t.equal(caller.one(MessageType.ERROR).error, WampErrors.invalidUri);
  t.match(callee.refusals, [{ kind: 'uri_too_long' }]);
});

t.test('a peer leaving: its callers get canceled, its callees an INTERRUPT, its registrations go', async (t) => {
  const realm = testRealm();
  const callee = joined(realm);
  const id = register(realm, callee, 'com.leaving');
  const caller = joined(realm);
  const req = call(realm, caller, 'com.leaving');
  callee.one(MessageType.INVOCATION);
  realm.leave(callee);
  t.match(caller.one(MessageType.ERROR), { request: req, error: WampErrors.canceled, args: ['callee left the realm with the call in flight'] });
  t.equal(realm.dealer.observations.get(id), undefined, 'its registration is gone');
  t.equal(realm.dealer.registrationsHeld, 0);

  const stays = joined(realm);
  register(realm, stays, 'com.stays');
  const leaving = joined(realm);
  call(realm, leaving, 'com.stays');
  const inv = stays.one(MessageType.INVOCATION);
  realm.leave(leaving);
  t.match(stays.one(MessageType.INTERRUPT), { request: inv.request, options: { mode: 'killnowait' } });
  t.equal(realm.dealer.pendingCalls(leaving), 0);
  yieldTo(realm, stays, inv.request, []);
  t.same(leaving.received.filter((m) => m.type === MessageType.RESULT), [], 'nothing goes to a caller that left');
});

t.test('bounds of issue 13: registrations per session and per realm; in-process peers exempt', async (t) => {
  const realm = testRealm({ limits: { ...DEFAULT_REALM_LIMITS, maxTotalRegistrations: 3 } });
  const a = joined(realm, { limits: { maxRegistrations: 2 } });
  t.ok(register(realm, a, 'com.1') > 0);
  t.ok(register(realm, a, 'com.2') > 0);
  t.equal(register(realm, a, 'com.3'), -1);
  t.match(a.one(MessageType.ERROR), { error: WampErrors.tooManyRegistrations, args: [/max_registrations 2/] });
  const b = joined(realm);
  t.ok(register(realm, b, 'com.4') > 0);
  t.equal(register(realm, b, 'com.5'), -1);
  t.match(b.one(MessageType.ERROR), { error: WampErrors.tooManyRegistrations, args: [/max_total_registrations 3/] });
  const local = joined(realm, { isLocal: true });
  t.ok(register(realm, local, 'com.6') > 0, 'an in-process peer is not held to them');
  t.equal(realm.dealer.registrationsHeld, 4);
  realm.leave(a);
  t.ok(register(realm, b, 'com.5') > 0, 'a leaving peer frees its holdings');
});

t.test('force_reregister: takes over the same authid\'s registration, never another\'s', async (t) => {
  const realm = testRealm();
  const old = joined(realm, { authid: 'node-1' });
  const id = register(realm, old, 'com.node');
  const stranger = joined(realm, { authid: 'node-2' });
  t.equal(register(realm, stranger, 'com.node', { force_reregister: true }), -1);
  t.equal(stranger.one(MessageType.ERROR).error, WampErrors.procedureAlreadyExists);
  const fresh = joined(realm, { authid: 'node-1' });
  const taken = register(realm, fresh, 'com.node', { force_reregister: true });
  t.ok(taken > 0 && taken !== id, 'a new registration');
  t.match(old.one(MessageType.UNREGISTERED), { request: 0, details: { registration: id } }, 'the old callee is told');
  t.same(realm.dealer.observations.best('com.node')!.callees.map((c) => c.id), [fresh.id]);
});

t.test('callInternal: the router\'s own call, answered by a callee', async (t) => {
  const realm = testRealm();
  const callee = joined(realm);
  register(realm, callee, 'com.auth');
  const pending = realm.dealer.callInternal('com.auth', ['q'], 5000);
  const inv = callee.one(MessageType.INVOCATION);
  t.same(inv.args, ['q']);
  yieldTo(realm, callee, inv.request, ['a'], {});
  t.same(await pending, { args: ['a'], kwargs: {} });
  const missing = await realm.dealer.callInternal('com.none', [], 5000).then(() => undefined, (e: unknown) => e);
  t.ok(missing instanceof WampError && missing.uri === WampErrors.noSuchProcedure);
});

t.test('meta procedures reach the meta API through the realm', async (t) => {
  const realm = testRealm();
  const a = joined(realm);
  const callee = joined(realm);
  const id = register(realm, callee, 'com.listed', { match: 'prefix' });
  call(realm, a, 'wamp.registration.match', ['com.listed.x']);
  t.same(a.one(MessageType.RESULT).args, [id]);
  call(realm, a, 'wamp.session.count');
  t.same(a.one(MessageType.RESULT).args, [2]);
  call(realm, a, 'wamp.registration.get', [12345]);
  t.equal(a.one(MessageType.ERROR).error, WampErrors.noSuchRegistration);
});

// Cluster: an INVOCATION NATS could not deliver to a callee of another node (undelivered()). The
// callees here stand for callees of other nodes (attachRemote, as call-link.ts does), and the
// cluster link is a fake that says which peers are remote.
t.test('an undelivered invocation: another callee of a shared registration, never one tried; a kill cancel or single ends the call', async (t) => {
  const setup = (invoke: 'roundrobin' | 'single', n: number) => {
    const realm = testRealm();
    const remote = new Set<FakePeer>();
    realm.dealer.cluster = {
      register: async () => ({ stamp: Date.now() * 1024 }), unregistered: () => undefined, sessionLeft: () => undefined,
      revokeRemote: () => undefined, tableCurrent: async () => undefined, isRemote: (p) => remote.has(p as FakePeer),
    };
    const callees = Array.from({ length: n }, (_, i) => { const c = new FakePeer(); remote.add(c); realm.dealer.attachRemote(c, 'com.rr', 'exact', invoke, i + 1); return c; });
    return { realm, callees, caller: joined(realm) };
  };
  const why: ErrorMessage = { type: MessageType.ERROR, requestType: MessageType.INVOCATION, request: 0, details: {}, error: WampErrors.clusterUnavailable, args: ['not delivered'] };

  {
    const { realm, callees: [a, b, c], caller } = setup('roundrobin', 3);
    const r = call(realm, caller, 'com.rr', ['x'], { receive_progress: true, timeout: 5000 });
    const first = a!.one(MessageType.INVOCATION);
    await new Promise((resolve) => setTimeout(resolve, 20));
    realm.dealer.undelivered(a!, first.request, { ...why, request: first.request });
    const second = b!.one(MessageType.INVOCATION);
    t.match(second, { args: ['x'], details: { receive_progress: true } }, 'the next callee in the rotation gets the same invocation');
    t.ok((second.details.timeout as number) > 0 && (second.details.timeout as number) < 5000, `with the time the call has left (${String(second.details.timeout)} ms of 5000)`);
    realm.dealer.undelivered(a!, first.request, { ...why, request: first.request });
    t.same([...b!.received, ...c!.received, ...caller.received], [], 'a second 503 for the first try changes nothing');
    yieldTo(realm, b!, second.request, ['from b']);
    t.match(caller.one(MessageType.RESULT), { request: r, args: ['from b'] }, 'the caller gets the answer of the callee that had it');
    // Every callee undelivered: the call ends with the error, and the last is told to drop it.
    call(realm, caller, 'com.rr', ['y']);
    const tries = [c!, a!, b!].map((p) => { const inv = p.one(MessageType.INVOCATION); realm.dealer.undelivered(p, inv.request, { ...why, request: inv.request }); return inv; });
    t.equal(tries.length, 3, 'each callee tried once');
    t.match(caller.one(MessageType.ERROR), { error: WampErrors.clusterUnavailable, args: ['not delivered'] }, 'then the caller gets ERROR');
    t.equal(b!.one(MessageType.INTERRUPT).options.mode, 'killnowait', 'and the last callee an INTERRUPT (best effort, for a lost chunk)');
    t.equal(realm.dealer.pendingCalls(caller), 0);
  }
  {
    const { realm, callees: [a, b], caller } = setup('roundrobin', 2);
    const r = call(realm, caller, 'com.rr');
    const inv = a!.one(MessageType.INVOCATION);
    realm.dealer.cancel(caller, wamp<Cancel>([MessageType.CANCEL, r, { mode: 'kill' }]));
    t.equal(a!.one(MessageType.INTERRUPT).options.mode, 'kill');
    realm.dealer.undelivered(a!, inv.request, { ...why, request: inv.request });
    t.same(b!.received, [], 'a call canceled with kill is not sent on');
    t.equal(caller.one(MessageType.ERROR).error, WampErrors.canceled, 'its cancel is answered: ERROR canceled');
  }
  {
    const { realm, callees: [a], caller } = setup('single', 1);
    call(realm, caller, 'com.rr');
    const inv = a!.one(MessageType.INVOCATION);
    realm.dealer.undelivered(a!, inv.request, { ...why, request: inv.request });
    t.equal(caller.one(MessageType.ERROR).error, WampErrors.clusterUnavailable, 'single: the call ends with the error');
  }
});
