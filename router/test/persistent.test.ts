// Persistent subscriptions (SUBSCRIBE.Options.x_persistent, issue 22 item 2)
// over real sockets: autobahn-js sessions (the option passes through it) and
// raw frames (EVENT.Details.x_replayed, which autobahn-js does not hand its
// handlers), logged in with tickets, on real routers.
import t from 'tap';
import { ab, allowAll, closeAll, login, startAuthRouter, type AuthRouter, type Login } from './auth-helpers.js';
import { callError, eventually, sleep, within } from './helpers.js';
import { Wire, ROLES, type Msg } from './wire.js';

const TOPIC = 'com.persist.a';

/** A realm with ticket users (`user` role), a role that may hold none, one without the meta procedures, and anonymous. */
function persistConfig(limits: Record<string, unknown> = {}, store?: unknown): unknown {
  const all = [{ uri: '', match: 'prefix', allow: allowAll }];
  const auth = {
    anonymous: { type: 'static', role: 'guest' },
    ticket: {
      type: 'static',
      principals: {
        alice: { ticket: 'alice-t', role: 'user' },
        bob: { ticket: 'bob-t', role: 'user' },
        pub: { ticket: 'pub-t', role: 'publisher' },
        ops: { ticket: 'ops-t', role: 'user' },
        nobody: { ticket: 'nobody-t', role: 'nopersist' },
        dave: { ticket: 'dave-t', role: 'plain' },
      },
    },
  };
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
        ...(store === undefined ? {} : { store }),
        options: { limits },
        roles: [
          { name: 'user', permissions: all },
          // Publishes as fast as the test asks (the per-session rate limits are for untrusted clients).
          // Disclosed, to see the publisher in replayed events.
          { name: 'publisher', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: { publisher: true } }], limits: { publish_rate: null } },
          { name: 'nopersist', permissions: all, limits: { max_persistent_per_authid: 0 } },
          // May subscribe and publish, not call the meta procedures.
          { name: 'plain', permissions: [{ uri: 'com.', match: 'prefix', allow: { subscribe: true, publish: true } }] },
          { name: 'guest', permissions: all },
        ],
      }],
      transports: [{
        type: 'universal', id: 'test',
        endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' },
        rawsocket: { auth },
        websocket: { ws: { type: 'websocket', auth } },
        web: { paths: {} },
      }],
    }],
  };
}

const ticketOf = (authid: string): string => `${authid}-t`;

/** Polls an async condition until it holds (helpers' eventually takes a synchronous one). */
async function settled(fn: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** An autobahn session logged in with its ticket. */
function user(r: AuthRouter, authid: string): Promise<Login> {
  return login(r.port, { authmethods: ['ticket'], authid, onchallenge: () => ticketOf(authid) });
}

/** A raw-frame session logged in with its ticket. */
async function wireUser(r: AuthRouter, authid: string): Promise<Wire> {
  const w = await Wire.open({ port: r.port });
  await w.send([1, 'realm1', { ...ROLES, authmethods: ['ticket'], authid }]);
  const challenge = await w.next();
  if (challenge[0] !== 4) throw new Error(`expected CHALLENGE, got ${JSON.stringify(challenge)}`);
  await w.send([5, ticketOf(authid), {}]);
  const welcome = await w.next();
  if (welcome[0] !== 2) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
  w.sessionId = welcome[1] as number;
  return w;
}

/** GOODBYE, and everything the router sent before its GOODBYE answer. */
async function leave(w: Wire): Promise<void> {
  await w.send([6, {}, 'wamp.close.close_realm']);
  await w.take((m) => m[0] === 6, 'GOODBYE answer');
  w.close();
}

const persistent = (name: string, ttl?: number): Record<string, unknown> => ({ x_persistent: ttl === undefined ? { name } : { name, ttl } });

/** Publishes and waits for PUBLISHED, so the event has been routed (kept or delivered) when it returns. */
async function publish(s: Login, topic: string, args: unknown[], options: Record<string, unknown> = {}): Promise<void> {
  await s.session.publish(topic, args, {}, { acknowledge: true, ...options });
}

const events = (w: Wire, sub: number): Msg[] => w.peek((m) => m[0] === 36 && m[1] === sub);
const argsOf = (ms: Msg[]): unknown[] => ms.map((m) => (m[4] as unknown[])[0]);
/** Waits until `sub` has got an event whose first argument is `value` (leaving every message in place). */
const until = (w: Wire, sub: number, value: unknown): Promise<unknown> =>
  eventually(() => events(w, sub).some((m) => (m[4] as unknown[])[0] === value), 5000, `event ${JSON.stringify(value)}`);

interface Listed { authid: string; name: string; topic: string; match: string; ttl: number; created: string; sessions: number[]; detached: string | null; expires: string | null; events: number; bytes: number; dropped: number; x_filter?: string }

async function listed(s: Login, authid?: string): Promise<Listed[]> {
  return await s.session.call('clawgate.persistent.list', authid === undefined ? [] : [authid]) as Listed[];
}

t.test('away and back: SUBSCRIBED, then what was kept, in order and marked, then live', async (t) => {
  const r = await startAuthRouter(persistConfig());
  t.teardown(() => r.stop());
  const pub = await user(r, 'pub');
  const ops = await user(r, 'ops');
  t.teardown(() => closeAll(pub, ops));

  const a1 = await wireUser(r, 'alice');
  const sub1 = await a1.subscribe(TOPIC, persistent('inbox'));
  await publish(pub, TOPIC, [1]);
  await until(a1, sub1, 1);
  t.same((await listed(ops, 'alice')).map((p) => [p.name, p.sessions, p.detached]), [['inbox', [a1.sessionId], null]], 'held by the session');

  await leave(a1);
  for (const n of [2, 3, 4]) await publish(pub, TOPIC, [n]);
  const [kept] = await listed(ops, 'alice');
  t.equal(kept!.events, 3, 'three events kept while away');
  t.ok(kept!.detached !== null && kept!.expires !== null, 'detached, with its expiry');
  t.same(kept!.sessions, []);

  const a2 = await wireUser(r, 'alice');
  t.teardown(() => a2.close());
  const req = a2.request();
  await a2.send([32, req, persistent('inbox'), TOPIC]);
  // The very next messages: SUBSCRIBED, then the three kept events, nothing in between.
  const subscribed = await a2.next();
  t.same([subscribed[0], subscribed[1]], [33, req], 'SUBSCRIBED first');
  const sub2 = subscribed[2] as number;
  t.not(sub2, sub1, 'a new subscription id: the subscription went with its last subscriber, the persistent one stayed');
  const replayed = [await a2.next(), await a2.next(), await a2.next()];
  t.same(argsOf(replayed), [2, 3, 4], 'the kept events, oldest first');
  for (const m of replayed) {
    t.equal(m[0], 36);
    t.equal(m[1], sub2, 'to the subscription as it is now');
    t.equal((m[3] as Record<string, unknown>).x_replayed, true, 'marked x_replayed');
    t.equal((m[3] as Record<string, unknown>).publisher, pub.session.id, 'with the publisher as it was disclosed');
  }
  await publish(pub, TOPIC, [5]);
  const live = await a2.next();
  t.same(argsOf([live]), [5], 'then live');
  t.equal((live[3] as Record<string, unknown>).x_replayed, undefined, 'live events are not marked');
  t.equal((await listed(ops, 'alice'))[0]!.events, 0, 'nothing kept once held again');

  // autobahn-js passes the option through and hands replayed events to the handler like any other.
  a2.close();
  await settled(async () => (await listed(ops, 'alice'))[0]?.detached !== null, 'detached after the socket dropped', 5000);
  await publish(pub, TOPIC, [6]);
  await publish(pub, TOPIC, [7]);
  const a3 = await user(r, 'alice');
  t.teardown(() => closeAll(a3));
  const got: unknown[] = [];
  await a3.session.subscribe(TOPIC, (args: unknown[]) => { got.push(args[0]); }, persistent('inbox'));
  await publish(pub, TOPIC, [8]);
  await eventually(() => got.length >= 3, 5000, 'three events through autobahn');
  t.same(got, [6, 7, 8], 'autobahn-js: kept ones first, then live');
  t.equal((a3.details.roles as { broker: { features: Record<string, unknown> } }).broker.features.x_persistent_subscription, true, 'WELCOME announces x_persistent_subscription');
});

t.test('no gap and no duplicate across the switch, under continuous publishing', async (t) => {
  // Room for everything published while away (the bound is not what this test is about).
  const r = await startAuthRouter(persistConfig({ max_persistent_events: 10_000 }));
  t.teardown(() => r.stop());
  const pub = await wireUser(r, 'pub');
  t.teardown(() => pub.close());
  // A publisher that publishes 1, 2, 3, ... without waiting, a few at a time, until told to stop.
  let n = 0;
  let stop = false;
  const publishing = (async () => {
    while (!stop) {
      for (let i = 0; i < 5; i++) await pub.send([16, pub.request(), {}, TOPIC, [++n]]);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();

  const received: unknown[] = [];
  let w = await wireUser(r, 'alice');
  let sub = await w.subscribe(TOPIC, persistent('seq'));
  const first = n; // events up to here may have been published before the subscription
  // Five switches: away (GOODBYE: everything sent before the router's answer arrives first), back as a new session.
  for (let round = 0; round < 5; round++) {
    await sleep(30 + round * 10);
    await leave(w);
    received.push(...argsOf(events(w, sub)));
    await sleep(20);
    w = await wireUser(r, 'alice');
    sub = await w.subscribe(TOPIC, persistent('seq'));
  }
  await sleep(50);
  stop = true;
  await publishing;
  const last = n;
  // One more publication, acknowledged: everything before it has been routed when it arrives.
  const marker = pub.request();
  await pub.send([16, marker, { acknowledge: true }, TOPIC, ['end']]);
  await pub.take((m) => m[0] === 17 && m[1] === marker, 'PUBLISHED');
  await until(w, sub, 'end');
  received.push(...argsOf(events(w, sub)).filter((x) => x !== 'end'));
  w.close();

  t.ok(last - first > 100, `published continuously (${last - first} events during the switches)`);
  const start = received.indexOf(first + 1);
  t.ok(start >= 0 && start <= first, 'the first events after the first SUBSCRIBED are there');
  const tail = received.slice(start);
  const expected = Array.from({ length: last - first }, (_v, i) => first + 1 + i);
  t.equal(tail.length, expected.length, 'as many as were published: none lost, none twice');
  t.same(tail, expected, 'every publication once, in order, across five switches');
});

t.test('bounds: events, bytes, age; caps per authid, per role and per realm', async (t) => {
  const r = await startAuthRouter(persistConfig({
    max_persistent_events: 3, max_persistent_bytes: 2000, max_persistent_age: 1, max_persistent_per_authid: 2, max_total_persistent: 4,
  }));
  t.teardown(() => r.stop());
  const pub = await user(r, 'pub');
  const ops = await user(r, 'ops');
  t.teardown(() => closeAll(pub, ops));

  await t.test('count: the newest max_persistent_events are kept', async (t) => {
    const a = await wireUser(r, 'alice');
    await a.subscribe('com.count', persistent('count'));
    await leave(a);
    for (let i = 1; i <= 5; i++) await publish(pub, 'com.count', [i]);
    const [p] = await listed(ops, 'alice');
    t.match(p, { name: 'count', events: 3, dropped: 2 });
    const b = await wireUser(r, 'alice');
    const sub = await b.subscribe('com.count', persistent('count'));
    await until(b, sub, 5);
    t.same(argsOf(events(b, sub)), [3, 4, 5]);
    await b.send([34, b.request(), sub]); // ends it: room for the next subtests
    await b.next(35);
    b.close();
  });

  await t.test('bytes: the oldest go to make room, an event over max_persistent_bytes alone is not kept', async (t) => {
    const a = await wireUser(r, 'alice');
    await a.subscribe('com.bytes', persistent('bytes'));
    await leave(a);
    const big = 'x'.repeat(800);
    for (let i = 1; i <= 3; i++) await publish(pub, 'com.bytes', [i, big]);
    await publish(pub, 'com.bytes', [99, 'y'.repeat(2500)]);
    const [p] = await listed(ops, 'alice');
    t.equal(p!.events, 2, 'two of ~850 bytes fit in 2000');
    t.ok(p!.bytes <= 2000 && p!.bytes > 1600, `bytes counted (${p!.bytes})`);
    t.equal(p!.dropped, 2, 'the oldest and the oversized one');
    const b = await wireUser(r, 'alice');
    const sub = await b.subscribe('com.bytes', persistent('bytes'));
    await until(b, sub, 3);
    t.same(argsOf(events(b, sub)), [2, 3]);
    await b.send([34, b.request(), sub]);
    await b.next(35);
    b.close();
  });

  await t.test('age: events older than max_persistent_age are not replayed', async (t) => {
    const a = await wireUser(r, 'alice');
    await a.subscribe('com.age', persistent('age'));
    await leave(a);
    await publish(pub, 'com.age', ['old']);
    await sleep(1300);
    await publish(pub, 'com.age', ['new']);
    const b = await wireUser(r, 'alice');
    const sub = await b.subscribe('com.age', persistent('age'));
    await publish(pub, 'com.age', ['live']);
    await until(b, sub, 'live');
    t.same(argsOf(events(b, sub)), ['new', 'live'], 'the old one is gone');
    await b.send([34, b.request(), sub]);
    await b.next(35);
    b.close();
  });

  await t.test('per authid, per role and per realm', async (t) => {
    const a = await user(r, 'alice');
    t.teardown(() => closeAll(a));
    await a.session.subscribe('com.cap.1', () => {}, persistent('c1'));
    await a.session.subscribe('com.cap.2', () => {}, persistent('c2'));
    const over = await callError(a.session.subscribe('com.cap.3', () => {}, persistent('c3')));
    t.equal(over.error, 'clawgate.error.too_many_subscriptions');
    t.match(over.args[0], /authid "alice" already holds 2 persistent subscriptions \(max_persistent_per_authid 2\)/);
    t.ok(await a.session.subscribe('com.cap.3', () => {}), 'the session goes on, and may subscribe plainly');
    t.ok(await a.session.subscribe('com.cap.1', () => {}, persistent('c1')), 'taking its own again is no new one');

    const none = await user(r, 'nobody');
    t.teardown(() => closeAll(none));
    const role = await callError(none.session.subscribe('com.cap.n', () => {}, persistent('n')));
    t.equal(role.error, 'wamp.error.option_not_allowed');
    t.match(role.args[0], /role "nopersist" may not hold persistent subscriptions \(max_persistent_per_authid 0\)/);

    const b = await user(r, 'bob');
    t.teardown(() => closeAll(b));
    await b.session.subscribe('com.cap.b1', () => {}, persistent('b1'));
    await b.session.subscribe('com.cap.b2', () => {}, persistent('b2'));
    const o = await user(r, 'ops');
    t.teardown(() => closeAll(o));
    const realm = await callError(o.session.subscribe('com.cap.o', () => {}, persistent('o')));
    t.equal(realm.error, 'clawgate.error.too_many_subscriptions');
    t.match(realm.args[0], /the realm already holds 4 persistent subscriptions \(max_total_persistent 4\)/);
  });
});

t.test('the realm\'s total bytes: a subscription gives up its own oldest, never another\'s', async (t) => {
  const r = await startAuthRouter(persistConfig({ max_total_persistent_bytes: 3000 }));
  t.teardown(() => r.stop());
  const pub = await user(r, 'pub');
  const ops = await user(r, 'ops');
  t.teardown(() => closeAll(pub, ops));
  for (const who of ['alice', 'bob']) {
    const w = await wireUser(r, who);
    await w.subscribe(`com.total.${who}`, persistent('t'));
    await leave(w);
  }
  const body = 'z'.repeat(900);
  for (let i = 1; i <= 3; i++) await publish(pub, 'com.total.alice', [i, body]);
  for (let i = 1; i <= 3; i++) await publish(pub, 'com.total.bob', [i, body]);
  const [alice] = await listed(ops, 'alice');
  const [bob] = await listed(ops, 'bob');
  t.equal(alice!.events, 3, 'alice keeps her three');
  t.equal(bob!.events, 0, 'bob keeps nothing: the realm is full and his queue is empty');
  t.equal(bob!.dropped, 3);
  t.ok(alice!.bytes + bob!.bytes <= 3000);
  await publish(pub, 'com.total.alice', [4, body]);
  t.match((await listed(ops, 'alice'))[0], { events: 3, dropped: 1 }, 'alice makes room from her own');
});

t.test('ttl: a detached subscription ends after its ttl; UNSUBSCRIBE ends it at once; leaving only detaches', async (t) => {
  const r = await startAuthRouter(persistConfig({ max_persistent_ttl: 60 }));
  t.teardown(() => r.stop());
  const pub = await user(r, 'pub');
  const ops = await user(r, 'ops');
  t.teardown(() => closeAll(pub, ops));

  const a = await user(r, 'alice');
  await a.session.subscribe('com.ttl', () => {}, persistent('short', 1));
  closeAll(a);
  await settled(async () => (await listed(ops, 'alice'))[0]?.detached !== null, 'detached', 5000);
  await publish(pub, 'com.ttl', ['kept for a second']);
  const [p] = await listed(ops, 'alice');
  t.equal(p!.ttl, 1);
  t.equal(Date.parse(p!.expires!) - Date.parse(p!.detached!), 1000, 'expires a ttl after it was detached');
  await settled(async () => (await listed(ops, 'alice')).length === 0, 'gone after its ttl', 4000);
  await publish(pub, 'com.ttl', ['after']);
  const b = await wireUser(r, 'alice');
  t.teardown(() => b.close());
  const sub = await b.subscribe('com.ttl', persistent('short', 1));
  await publish(pub, 'com.ttl', ['live']);
  await until(b, sub, 'live');
  t.same(argsOf(events(b, sub)), ['live'], 'a new subscription: nothing replayed');

  // UNSUBSCRIBE: the subscriber is done, nothing is kept.
  await b.send([34, b.request(), sub]);
  await b.next(35);
  t.same(await listed(ops, 'alice'), [], 'UNSUBSCRIBE ended it');
  await publish(pub, 'com.ttl', ['nobody']);
  t.same(await listed(ops, 'alice'), []);

  // A ttl over max_persistent_ttl is refused, the session goes on.
  const bob = await user(r, 'bob');
  t.teardown(() => closeAll(bob));
  const long = await within(callError(bob.session.subscribe('com.ttl', () => {}, persistent('long', 61))));
  t.equal(long.error, 'wamp.error.invalid_option');
  t.match(long.args[0], /x_persistent.ttl of 61 seconds is longer than max_persistent_ttl \(60\)/);
  t.ok(await bob.session.subscribe('com.ttl', () => {}, persistent('long', 60)), 'max_persistent_ttl itself is allowed');
});

t.test('identity: (authid, name); another authid gets its own; anonymous and bad options refused', async (t) => {
  const r = await startAuthRouter(persistConfig());
  t.teardown(() => r.stop());
  const pub = await user(r, 'pub');
  const ops = await user(r, 'ops');
  t.teardown(() => closeAll(pub, ops));

  const a = await wireUser(r, 'alice');
  await a.subscribe(TOPIC, persistent('mine'));
  await leave(a);
  await publish(pub, TOPIC, ['for alice']);

  const b = await wireUser(r, 'bob');
  t.teardown(() => b.close());
  const sub = await b.subscribe(TOPIC, persistent('mine'));
  await publish(pub, TOPIC, ['live']);
  await until(b, sub, 'live');
  t.same(argsOf(events(b, sub)), ['live'], 'bob does not get what alice\'s kept');
  const all = await listed(ops);
  t.same(all.map((p) => [p.authid, p.name, p.events, p.sessions.length]), [['alice', 'mine', 2, 0], ['bob', 'mine', 0, 1]], 'two subscriptions of the same name, one per authid (alice\'s keeps both events)');

  const same = await user(r, 'alice');
  t.teardown(() => closeAll(same));
  const other = await callError(same.session.subscribe('com.persist.other', () => {}, persistent('mine')));
  t.equal(other.error, 'wamp.error.invalid_option');
  t.match(other.args[0], /x_persistent "mine" of authid "alice" is a persistent subscription to exact topic "com.persist.a": unsubscribe it first, or use another name/);
  const filtered = await callError(same.session.subscribe(TOPIC, () => {}, { ...persistent('mine'), x_filter: 'args[0] == 1' }));
  t.equal(filtered.error, 'wamp.error.invalid_option', 'the same topic with another filter is another subscription');
  t.equal((await listed(ops, 'alice'))[0]!.events, 2, 'refusals leave the kept events alone');

  const anon = await new Promise<Login>((resolve, reject) => {
    const connection = new ab.Connection({ url: `ws://127.0.0.1:${r.port}/ws`, realm: 'realm1', max_retries: 0, retry_if_unreachable: false });
    connection.onopen = (session: unknown, details: Record<string, unknown>) => resolve({ session, connection, details });
    connection.onclose = () => { reject(new Error('closed')); return true; };
    connection.open();
  });
  t.teardown(() => closeAll(anon));
  const refused = await callError(anon.session.subscribe(TOPIC, () => {}, persistent('guest')));
  t.equal(refused.error, 'wamp.error.option_not_allowed');
  t.match(refused.args[0], /anonymous sessions can't hold persistent subscriptions/);
  t.ok(await anon.session.subscribe(TOPIC, () => {}), 'the anonymous session goes on');

  const bad: [unknown, RegExp][] = [
    ['inbox', /x_persistent must be a dict \{name, ttl\?\}, got string "inbox"/],
    [{}, /x_persistent.name must be a string, got undefined/],
    [{ name: '' }, /x_persistent.name must not be empty/],
    [{ name: 'n'.repeat(129) }, /x_persistent.name has 129 characters, more than 128/],
    [{ name: 'a\nb' }, /control characters/],
    [{ name: 'x', tll: 5 }, /x_persistent has an unknown key "tll"/],
    [{ name: 'x', ttl: 0 }, /x_persistent.ttl must be a whole number of seconds, at least 1/],
    [{ name: 'x', ttl: 1.5 }, /x_persistent.ttl must be a whole number of seconds/],
    [{ name: 'x', ttl: 86401 }, /longer than max_persistent_ttl \(86400\)/],
  ];
  for (const [option, message] of bad) {
    const e = await callError(same.session.subscribe(TOPIC, () => {}, { x_persistent: option }));
    t.equal(e.error, 'wamp.error.invalid_option', JSON.stringify(option));
    t.match(e.args[0], message);
  }
  t.ok(same.session.isOpen, 'the session stays open through all of them');
});

t.test('meta procedures: list, drop, and who may call them', async (t) => {
  const r = await startAuthRouter(persistConfig());
  t.teardown(() => r.stop());
  const ops = await user(r, 'ops');
  const pub = await user(r, 'pub');
  t.teardown(() => closeAll(ops, pub));
  const a = await user(r, 'alice');
  await a.session.subscribe('com.meta.', () => {}, { match: 'prefix', ...persistent('p', 120) });
  await a.session.subscribe('com.meta.f', () => {}, { ...persistent('f'), x_filter: 'args[0] > 1' });
  const [f, p] = await listed(ops, 'alice');
  t.match(p, { authid: 'alice', name: 'p', topic: 'com.meta.', match: 'prefix', ttl: 120, authrole: 'user', sessions: [a.session.id], detached: null, expires: null, events: 0, bytes: 0, dropped: 0 });
  t.match(f, { name: 'f', topic: 'com.meta.f', match: 'exact', x_filter: 'args[0] > 1', ttl: 300 });
  t.ok(typeof p!.created === 'string' && !Number.isNaN(Date.parse(p!.created)), 'created: an ISO time');
  closeAll(a);
  await settled(async () => (await listed(ops, 'alice')).every((x) => x.detached !== null), 'detached', 5000);

  // While detached: the filter and the pattern apply to what is kept.
  await publish(pub, 'com.meta.f', [1]);
  await publish(pub, 'com.meta.f', [2]);
  const kept = await listed(ops, 'alice');
  t.same(kept.map((x) => [x.name, x.events]), [['f', 1], ['p', 2]], 'the filtered one keeps what passes its filter; the prefix one both');

  const dave = await user(r, 'dave');
  t.teardown(() => closeAll(dave));
  t.equal((await callError(dave.session.call('clawgate.persistent.list'))).error, 'wamp.error.not_authorized', 'guarded by call permissions');
  t.equal((await callError(dave.session.call('clawgate.persistent.drop', ['alice', 'p']))).error, 'wamp.error.not_authorized');

  t.equal(await ops.session.call('clawgate.persistent.drop', ['alice', 'p']), null, 'dropped');
  t.same((await listed(ops)).map((x) => x.name), ['f']);
  const missing = await callError(ops.session.call('clawgate.persistent.drop', ['alice', 'p']));
  t.equal(missing.error, 'wamp.error.no_such_subscription');
  t.match(missing.args[0], /authid "alice" has no persistent subscription "p"/);
  t.equal((await callError(ops.session.call('clawgate.persistent.drop', ['alice']))).error, 'wamp.error.invalid_argument');
  t.equal((await callError(ops.session.call('clawgate.persistent.list', [5]))).error, 'wamp.error.invalid_argument');

  // Dropped while held: the session keeps its (now plain) subscription; nothing is kept once it leaves.
  const b = await user(r, 'bob');
  const got: unknown[] = [];
  await b.session.subscribe('com.meta.held', (args: unknown[]) => { got.push(args[0]); }, persistent('held'));
  await ops.session.call('clawgate.persistent.drop', ['bob', 'held']);
  await publish(pub, 'com.meta.held', ['still']);
  await eventually(() => got.length === 1, 5000, 'the live event');
  closeAll(b);
  await sleep(100);
  t.same(await listed(ops, 'bob'), [], 'nothing of bob\'s');
});

t.test('two sessions of one authid; black/whitelists and retained events', async (t) => {
  const r = await startAuthRouter(persistConfig());
  t.teardown(() => r.stop());
  const pub = await wireUser(r, 'pub');
  const ops = await user(r, 'ops');
  t.teardown(() => { pub.close(); closeAll(ops); });
  const publishW = async (args: unknown[], options: Record<string, unknown> = {}): Promise<void> => {
    const req = pub.request();
    await pub.send([16, req, { acknowledge: true, ...options }, TOPIC, args]);
    await pub.take((m) => m[0] === 17 && m[1] === req, 'PUBLISHED');
  };

  const tab1 = await wireUser(r, 'alice');
  const tab2 = await wireUser(r, 'alice');
  const s1 = await tab1.subscribe(TOPIC, persistent('tabs'));
  const s2 = await tab2.subscribe(TOPIC, persistent('tabs'));
  t.equal(s1, s2, 'one subscription');
  await leave(tab1);
  await publishW(['tab2 holds it']);
  t.equal((await listed(ops, 'alice'))[0]!.events, 0, 'nothing kept while another session of the authid holds it');
  await until(tab2, s2, 'tab2 holds it');
  await leave(tab2);

  await publishW(['for alice'], { eligible_authid: ['alice'] });
  await publishW(['not for alice'], { exclude_authid: ['alice'] });
  await publishW(['not for users'], { exclude_authrole: ['user'] });
  await publishW(['for one session'], { eligible: [tab2.sessionId] });
  await publishW(['retained'], { retain: true });
  t.equal((await listed(ops, 'alice'))[0]!.events, 2, 'kept: what alice, with her role, could have received');

  const back1 = await wireUser(r, 'alice');
  const back2 = await wireUser(r, 'alice');
  t.teardown(() => { back1.close(); back2.close(); });
  const b1 = await back1.subscribe(TOPIC, { ...persistent('tabs'), get_retained: true });
  await until(back1, b1, 'retained');
  t.same(argsOf(events(back1, b1)), ['for alice', 'retained'], 'the retained event once, in its place in the replay');
  const b2 = await back2.subscribe(TOPIC, { ...persistent('tabs'), get_retained: true });
  await until(back2, b2, 'retained');
  await sleep(100);
  const second = events(back2, b2);
  t.same(argsOf(second), ['retained'], 'the second session back: the replay went to the first; it gets the retained event as any subscriber');
  t.equal((second[0]![3] as Record<string, unknown>).retained, true);
});
