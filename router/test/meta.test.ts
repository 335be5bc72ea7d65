// The WAMP meta API as autobahn clients see it: session, subscription and
// registration procedures and events, and session testaments.
import t from 'tap';
import { startRouter, connect, testConfig, eventually, sleep, callError, type AutobahnSession } from './helpers.js';
import { Wire } from './wire.js';

interface Ev { args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> }

/** Subscribes and collects every event (args, kwargs, details). */
async function collect(session: AutobahnSession, topic: string, options?: Record<string, unknown>): Promise<Ev[]> {
  const events: Ev[] = [];
  await session.subscribe(topic, (args: unknown[] | undefined, kwargs: Record<string, unknown> | undefined, details: Record<string, unknown>) => {
    events.push({ args: args ?? [], kwargs: kwargs ?? {}, details: details ?? {} });
  }, options);
  return events;
}

const allowAll = { call: true, register: true, publish: true, subscribe: true };

/** The close reason autobahn reported, or a failure after `ms` (never hang on a close that doesn't come). */
async function closeReason(c: { closed: Promise<{ details: unknown }> }, ms = 3000): Promise<{ reason?: string; message?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`connection not closed within ${ms} ms`)), ms); });
  try {
    return (await Promise.race([c.closed, timeout])).details as { reason?: string; message?: string };
  } finally {
    clearTimeout(timer);
  }
}

/** Crossbar-style generated serial (anonymous authids). */
const SERIAL = /^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/;

/** realm1 with roles `anonymous` (on /ws) and `frontend` (on /front). */
function twoRoleConfig(): unknown {
  return testConfig({
    realms: [{
      name: 'realm1',
      roles: [
        { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: allowAll }] },
        { name: 'frontend', permissions: [{ uri: '', match: 'prefix', allow: allowAll }] },
      ],
    }],
    transportExtras: {
      websocket: {
        ws: { type: 'websocket' },
        front: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'frontend' } } },
      },
    },
  });
}

t.test('wamp.session.count / list, with and without filter_authroles', async (t) => {
  const r = await startRouter(twoRoleConfig());
  t.teardown(() => r.stop());
  const a = await connect({ port: r.port });
  const b = await connect({ port: r.port });
  const f = await connect({ port: r.port, url: `ws://127.0.0.1:${r.port}/front` });
  t.match(await a.session.call('wamp.session.get', [f.session.id]), { authrole: 'frontend' });

  t.equal(await a.session.call('wamp.session.count'), 3);
  const all = await a.session.call('wamp.session.list') as number[];
  t.same([...all].sort(), [a.session.id, b.session.id, f.session.id].sort());

  t.equal(await a.session.call('wamp.session.count', [['frontend']]), 1);
  t.same(await a.session.call('wamp.session.list', [['frontend']]), [f.session.id]);
  t.equal(await a.session.call('wamp.session.count', [['anonymous']]), 2);
  t.same([...(await a.session.call('wamp.session.list', [['anonymous']]) as number[])].sort(), [a.session.id, b.session.id].sort());
  t.equal(await a.session.call('wamp.session.count', [['anonymous', 'frontend']]), 3);
  t.equal(await a.session.call('wamp.session.count', [['nobody']]), 0);
  t.same(await a.session.call('wamp.session.list', [['nobody']]), []);

  const bad = await callError(a.session.call('wamp.session.count', ['frontend']));
  t.equal(bad.error, 'wamp.error.invalid_argument', 'filter_authroles must be a list');

  b.connection.close();
  await sleep(100);
  t.equal(await a.session.call('wamp.session.count'), 2, 'a session that left is no longer counted');
  a.connection.close();
  f.connection.close();
});

t.test('wamp.session.get returns the session details; unknown id is no_such_session', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const a = await connect({ port: r.port });
  const b = await connect({ port: r.port, serializer: 'msgpack', extra: { authid: 'bob' } });
  const d = await a.session.call('wamp.session.get', [b.session.id]) as Record<string, unknown>;
  t.equal(d.session, b.session.id);
  // anonymous is unproven: the router generates the authid (as Crossbar does) instead of taking HELLO's
  t.match(d.authid, SERIAL, 'generated Crossbar-style authid');
  t.not(d.authid, 'bob', 'a claimed authid is not adopted for anonymous');
  t.equal(d.authrole, 'anonymous');
  t.equal(d.authmethod, 'anonymous');
  t.equal(d.authprovider, 'static');
  t.type(d.transport, 'object');
  const tr = d.transport as Record<string, unknown>;
  t.equal(tr.type, 'websocket');
  t.equal(tr.serializer, 'msgpack');
  t.match(tr.peer, /^tcp4:127\.0\.0\.1:\d+$/);

  const own = await a.session.call('wamp.session.get', [a.session.id]) as Record<string, unknown>;
  t.equal(own.session, a.session.id);
  t.type(own.authid, 'string');
  t.not(own.authid, '', 'anonymous sessions get a generated authid');

  const e = await callError(a.session.call('wamp.session.get', [123456789]));
  t.equal(e.error, 'wamp.error.no_such_session');
  a.connection.close();
  b.connection.close();
});

t.test('wamp.session.kill: target gets GOODBYE wamp.close.killed; killing oneself is refused', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const a = await connect({ port: r.port });
  const b = await connect({ port: r.port });
  const c = await connect({ port: r.port });

  t.same(await a.session.call('wamp.session.kill', [b.session.id]), null, 'kill returns no result');
  t.equal((await closeReason(b)).reason, 'wamp.close.killed');
  t.equal((await b.closed).reason, 'closed', 'autobahn saw a clean close');

  // custom reason and message as keyword arguments (Crossbar's signature)
  await a.session.call('wamp.session.kill', [c.session.id], { reason: 'com.example.go_away', message: 'bye now' });
  const cc = await closeReason(c);
  t.equal(cc.reason, 'com.example.go_away');
  t.equal(cc.message, 'bye now');

  // WAMP spec (Session Meta API, wamp.session.kill): "Specifying the caller's own
  // session will result in a wamp.error.no_such_session since no other session
  // with that ID exists."
  const self = await callError(a.session.call('wamp.session.kill', [a.session.id]));
  t.equal(self.error, 'wamp.error.no_such_session', 'killing oneself is refused with no_such_session');
  t.equal(await a.session.call('wamp.session.count'), 1, 'the caller is still there');
  t.equal(a.session.isOpen, true);

  const unknown = await callError(a.session.call('wamp.session.kill', [987654321]));
  t.equal(unknown.error, 'wamp.error.no_such_session');
  a.connection.close();
});

t.test('kill_by_authid returns the killed ids, kill_by_authrole their number (spec); both spare the caller', async (t) => {
  const r = await startRouter(twoRoleConfig());
  t.teardown(() => r.stop());
  const me = await connect({ port: r.port });
  const other = await connect({ port: r.port });
  const bob = await connect({ port: r.port });
  const f1 = await connect({ port: r.port, url: `ws://127.0.0.1:${r.port}/front` });
  const f2 = await connect({ port: r.port, url: `ws://127.0.0.1:${r.port}/front` });
  const authidOf = async (id: number): Promise<string> => ((await me.session.call('wamp.session.get', [id])) as { authid: string }).authid;
  const myAuthid = await authidOf(me.session.id);
  const otherAuthid = await authidOf(other.session.id);
  // anonymous authids are generated per session; in-process sessions can share the caller's
  const twin1 = await r.router.localSession('realm1', { authid: myAuthid, authrole: 'anonymous' });
  const twin2 = await r.router.localSession('realm1', { authid: myAuthid, authrole: 'anonymous' });
  // autobahn forgets a session's id once it closed: take them now
  const [otherId, bobId, f1Id, f2Id] = [other, bob, f1, f2].map((c) => c.session.id as number);

  const killed = await me.session.call('wamp.session.kill_by_authid', [myAuthid]) as number[];
  t.same([...killed].sort(), [twin1.id, twin2.id].sort(), 'the other sessions with that authid, not the caller');
  t.equal(me.session.isOpen, true);
  const left = await me.session.call('wamp.session.list') as number[];
  t.notOk(left.includes(twin1.id) || left.includes(twin2.id), 'killed sessions left the realm');
  t.ok(left.includes(me.session.id));
  await t.rejects(twin1.call('wamp.session.count'), /closed|killed/, 'the killed local session is closed');

  t.same(await me.session.call('wamp.session.kill_by_authid', [otherAuthid], { message: 'only you' }), [otherId]);
  const oc = await closeReason(other);
  t.equal(oc.reason, 'wamp.close.killed', 'default reason');
  t.equal(oc.message, 'only you');

  const byRole = await me.session.call('wamp.session.kill_by_authrole', ['frontend'], { reason: 'com.example.maintenance' });
  t.equal(byRole, 2, 'kill_by_authrole answers with the count (the spec; Crossbar answers with the ids)');
  for (const c of [f1, f2]) t.equal((await closeReason(c)).reason, 'com.example.maintenance');
  t.notOk(((await me.session.call('wamp.session.list')) as number[]).some((id) => id === f1Id || id === f2Id), 'both left the realm');

  // the caller's own role: everybody else with it goes, the caller stays
  const anon = await me.session.call('wamp.session.kill_by_authrole', ['anonymous']);
  t.equal(anon, 1, 'bob only');
  t.notOk(((await me.session.call('wamp.session.list')) as number[]).includes(bobId), 'bob left');
  t.equal((await closeReason(bob)).reason, 'wamp.close.killed');
  t.same(await me.session.call('wamp.session.kill_by_authid', ['nobody']), [], 'nobody to kill: empty list');
  t.equal(await me.session.call('wamp.session.kill_by_authrole', ['nobody']), 0);
  t.same(await me.session.call('wamp.session.list'), [me.session.id]);
  const badReason = await callError(me.session.call('wamp.session.kill_by_authrole', ['frontend'], { reason: 'not a uri!' }));
  t.equal(badReason.error, 'wamp.error.invalid_uri', 'a reason that is not a URI');
  me.connection.close();
});

t.test('wamp.session.on_join and on_leave', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const obs = await connect({ port: r.port });
  const joins = await collect(obs.session, 'wamp.session.on_join');
  const leaves = await collect(obs.session, 'wamp.session.on_leave');

  const c = await connect({ port: r.port });
  const j = await eventually(() => joins.find((e) => (e.args[0] as { session?: number })?.session === c.session.id));
  t.equal(j.args.length, 1, 'one positional argument: the details');
  const d = j.args[0] as Record<string, unknown>;
  t.match(d.authid, SERIAL);
  t.equal(d.authrole, 'anonymous');
  t.equal(d.authmethod, 'anonymous');
  t.equal((d.transport as Record<string, unknown>).type, 'websocket');
  t.same(d, await obs.session.call('wamp.session.get', [c.session.id]), 'the same details as wamp.session.get');

  const cid = c.session.id;
  c.connection.close();
  const l = await eventually(() => leaves.find((e) => e.args[0] === cid));
  t.same(l.args, [cid, d.authid, 'anonymous']);

  // a session that drops its socket also leaves
  const raw = Wire.connect({ url: r.url, codec: 'json-text' });
  const rid = await raw.join();
  await eventually(() => joins.find((e) => (e.args[0] as { session?: number })?.session === rid));
  raw.close();
  const rl = await eventually(() => leaves.find((e) => e.args[0] === rid));
  t.equal(rl.args.length, 3);
  t.equal(rl.args[2], 'anonymous');
  obs.connection.close();
});

t.test('subscription meta procedures', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const obs = await connect({ port: r.port });
  const s1 = await connect({ port: r.port });
  const s2 = await connect({ port: r.port });
  const exact1 = await s1.session.subscribe('com.meta.topic', () => {});
  const exact2 = await s2.session.subscribe('com.meta.topic', () => {});
  t.equal(exact1.id, exact2.id, 'same topic and policy share one subscription');
  const prefix = await s1.session.subscribe('com.meta', () => {}, { match: 'prefix' });
  const wild = await s2.session.subscribe('com..topic', () => {}, { match: 'wildcard' });

  const list = await obs.session.call('wamp.subscription.list') as Record<string, number[]>;
  t.ok(list.exact!.includes(exact1.id));
  t.ok(list.prefix!.includes(prefix.id));
  t.ok(list.wildcard!.includes(wild.id));
  t.notOk(list.exact!.includes(prefix.id));

  t.equal(await obs.session.call('wamp.subscription.lookup', ['com.meta.topic']), exact1.id, 'lookup defaults to exact');
  t.equal(await obs.session.call('wamp.subscription.lookup', ['com.meta.topic', { match: 'exact' }]), exact1.id);
  t.equal(await obs.session.call('wamp.subscription.lookup', ['com.meta', { match: 'prefix' }]), prefix.id);
  t.equal(await obs.session.call('wamp.subscription.lookup', ['com..topic', { match: 'wildcard' }]), wild.id);
  t.equal(await obs.session.call('wamp.subscription.lookup', ['com.meta']), null, 'no exact subscription on the prefix URI');
  t.equal(await obs.session.call('wamp.subscription.lookup', ['com.nothing']), null);

  const matched = await obs.session.call('wamp.subscription.match', ['com.meta.topic']) as number[];
  t.same([...matched].sort(), [exact1.id, prefix.id, wild.id].sort());
  t.same(await obs.session.call('wamp.subscription.match', ['com.meta.other']), [prefix.id]);
  t.equal(await obs.session.call('wamp.subscription.match', ['org.none']), null);

  const got = await obs.session.call('wamp.subscription.get', [exact1.id]) as Record<string, unknown>;
  t.equal(got.id, exact1.id);
  t.equal(got.uri, 'com.meta.topic');
  t.equal(got.match, 'exact');
  t.type(got.created, 'string');
  t.ok(!Number.isNaN(Date.parse(got.created as string)), 'created is an ISO timestamp');
  const gotW = await obs.session.call('wamp.subscription.get', [wild.id]) as Record<string, unknown>;
  t.equal(gotW.match, 'wildcard');

  t.same([...(await obs.session.call('wamp.subscription.list_subscribers', [exact1.id]) as number[])].sort(), [s1.session.id, s2.session.id].sort());
  t.equal(await obs.session.call('wamp.subscription.count_subscribers', [exact1.id]), 2);
  t.equal(await obs.session.call('wamp.subscription.count_subscribers', [prefix.id]), 1);

  for (const p of ['wamp.subscription.get', 'wamp.subscription.list_subscribers', 'wamp.subscription.count_subscribers']) {
    const e = await callError(obs.session.call(p, [1234567]));
    t.equal(e.error, 'wamp.error.no_such_subscription', p);
  }
  const badMatch = await callError(obs.session.call('wamp.subscription.lookup', ['com.meta', { match: 'fuzzy' }]));
  t.equal(badMatch.error, 'wamp.error.invalid_argument');

  await s2.session.unsubscribe(exact2);
  t.same(await obs.session.call('wamp.subscription.list_subscribers', [exact1.id]), [s1.session.id]);
  await s1.session.unsubscribe(exact1);
  const gone = await callError(obs.session.call('wamp.subscription.get', [exact1.id]));
  t.equal(gone.error, 'wamp.error.no_such_subscription', 'the last unsubscribe deletes the subscription');
  t.equal(await obs.session.call('wamp.subscription.lookup', ['com.meta.topic']), null);
  for (const c of [obs, s1, s2]) c.connection.close();
});

t.test('subscription meta events: on_create, on_subscribe, on_unsubscribe, on_delete', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const obs = await connect({ port: r.port });
  const created = await collect(obs.session, 'wamp.subscription.on_create');
  const subscribed = await collect(obs.session, 'wamp.subscription.on_subscribe');
  const unsubscribed = await collect(obs.session, 'wamp.subscription.on_unsubscribe');
  const deleted = await collect(obs.session, 'wamp.subscription.on_delete');
  const a = await connect({ port: r.port });
  const b = await connect({ port: r.port });

  const subA = await a.session.subscribe('com.ev.topic', () => {});
  const c = await eventually(() => created.find((e) => (e.args[1] as { id?: number })?.id === subA.id));
  t.equal(c.args[0], a.session.id, 'on_create: [session, details]');
  t.match(c.args[1], { id: subA.id, uri: 'com.ev.topic', match: 'exact' });
  t.type((c.args[1] as Record<string, unknown>).created, 'string');
  const s = await eventually(() => subscribed.find((e) => e.args[1] === subA.id && e.args[0] === a.session.id));
  t.same(s.args, [a.session.id, subA.id], 'on_subscribe: [session, subscription]');

  const subB = await b.session.subscribe('com.ev.topic', () => {});
  await eventually(() => subscribed.find((e) => e.args[0] === b.session.id && e.args[1] === subA.id));
  await sleep(50);
  t.equal(created.filter((e) => (e.args[1] as { id?: number })?.id === subA.id).length, 1, 'second subscriber: no second on_create');

  await b.session.unsubscribe(subB);
  const u = await eventually(() => unsubscribed.find((e) => e.args[0] === b.session.id));
  t.same(u.args, [b.session.id, subA.id], 'on_unsubscribe: [session, subscription]');
  await sleep(50);
  t.equal(deleted.filter((e) => e.args[1] === subA.id).length, 0, 'not deleted while a subscriber remains');

  await a.session.unsubscribe(subA);
  const d = await eventually(() => deleted.find((e) => e.args[1] === subA.id));
  t.same(d.args, [a.session.id, subA.id], 'on_delete: [session, subscription]');
  t.ok(unsubscribed.find((e) => e.args[0] === a.session.id && e.args[1] === subA.id));

  // a session leaving unsubscribes (and deletes) too
  const subP = await a.session.subscribe('com.ev', () => {}, { match: 'prefix' });
  const cp = await eventually(() => created.find((e) => (e.args[1] as { id?: number })?.id === subP.id));
  t.equal((cp.args[1] as Record<string, unknown>).match, 'prefix');
  const aid = a.session.id;
  a.connection.close();
  await eventually(() => unsubscribed.find((e) => e.args[0] === aid && e.args[1] === subP.id));
  await eventually(() => deleted.find((e) => e.args[0] === aid && e.args[1] === subP.id));
  for (const x of [obs, b]) x.connection.close();
});

t.test('registration meta procedures', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const obs = await connect({ port: r.port });
  const c1 = await connect({ port: r.port });
  const c2 = await connect({ port: r.port });
  const exact = await c1.session.register('com.reg.proc', () => 1, { invoke: 'roundrobin' });
  const shared = await c2.session.register('com.reg.proc', () => 2, { invoke: 'roundrobin' });
  t.equal(shared.id, exact.id, 'shared registration has one id');
  const prefix = await c1.session.register('com.reg', () => 3, { match: 'prefix' });
  const wild = await c2.session.register('com..proc', () => 4, { match: 'wildcard' });

  const list = await obs.session.call('wamp.registration.list') as Record<string, number[]>;
  t.ok(list.exact!.includes(exact.id));
  t.ok(list.prefix!.includes(prefix.id));
  t.ok(list.wildcard!.includes(wild.id));

  t.equal(await obs.session.call('wamp.registration.lookup', ['com.reg.proc']), exact.id);
  t.equal(await obs.session.call('wamp.registration.lookup', ['com.reg', { match: 'prefix' }]), prefix.id);
  t.equal(await obs.session.call('wamp.registration.lookup', ['com..proc', { match: 'wildcard' }]), wild.id);
  t.equal(await obs.session.call('wamp.registration.lookup', ['com.reg']), null);

  t.equal(await obs.session.call('wamp.registration.match', ['com.reg.proc']), exact.id, 'exact wins');
  t.equal(await obs.session.call('wamp.registration.match', ['com.reg.other']), prefix.id, 'then the longest prefix');
  t.equal(await obs.session.call('wamp.registration.match', ['com.x.proc']), wild.id, 'then wildcard');
  t.equal(await obs.session.call('wamp.registration.match', ['org.none']), null);

  const got = await obs.session.call('wamp.registration.get', [exact.id]) as Record<string, unknown>;
  t.match(got, { id: exact.id, uri: 'com.reg.proc', match: 'exact', invoke: 'roundrobin' });
  t.type(got.created, 'string');
  t.match(await obs.session.call('wamp.registration.get', [prefix.id]), { match: 'prefix', invoke: 'single' });

  t.same([...(await obs.session.call('wamp.registration.list_callees', [exact.id]) as number[])].sort(), [c1.session.id, c2.session.id].sort());
  t.equal(await obs.session.call('wamp.registration.count_callees', [exact.id]), 2);
  t.same(await obs.session.call('wamp.registration.list_callees', [wild.id]), [c2.session.id]);
  t.equal(await obs.session.call('wamp.registration.count_callees', [wild.id]), 1);

  for (const p of ['wamp.registration.get', 'wamp.registration.list_callees', 'wamp.registration.count_callees']) {
    const e = await callError(obs.session.call(p, [7654321]));
    t.equal(e.error, 'wamp.error.no_such_registration', p);
  }
  await c2.session.unregister(shared);
  t.same(await obs.session.call('wamp.registration.list_callees', [exact.id]), [c1.session.id]);
  await c1.session.unregister(exact);
  t.equal((await callError(obs.session.call('wamp.registration.get', [exact.id]))).error, 'wamp.error.no_such_registration');
  t.equal(await obs.session.call('wamp.registration.match', ['com.reg.proc']), prefix.id);
  for (const c of [obs, c1, c2]) c.connection.close();
});

t.test('registration meta events: on_create, on_register, on_unregister, on_delete', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const obs = await connect({ port: r.port });
  const created = await collect(obs.session, 'wamp.registration.on_create');
  const registered = await collect(obs.session, 'wamp.registration.on_register');
  const unregistered = await collect(obs.session, 'wamp.registration.on_unregister');
  const deleted = await collect(obs.session, 'wamp.registration.on_delete');
  const a = await connect({ port: r.port });
  const b = await connect({ port: r.port });

  const regA = await a.session.register('com.ev.proc', () => 1, { invoke: 'first' });
  const c = await eventually(() => created.find((e) => (e.args[1] as { id?: number })?.id === regA.id));
  t.equal(c.args[0], a.session.id);
  t.match(c.args[1], { id: regA.id, uri: 'com.ev.proc', match: 'exact', invoke: 'first' });
  const rg = await eventually(() => registered.find((e) => e.args[0] === a.session.id));
  t.same(rg.args, [a.session.id, regA.id]);

  const regB = await b.session.register('com.ev.proc', () => 2, { invoke: 'first' });
  await eventually(() => registered.find((e) => e.args[0] === b.session.id && e.args[1] === regA.id));
  await sleep(50);
  t.equal(created.length, 1, 'joining a shared registration does not create one');

  await b.session.unregister(regB);
  const u = await eventually(() => unregistered.find((e) => e.args[0] === b.session.id));
  t.same(u.args, [b.session.id, regA.id]);
  await sleep(50);
  t.equal(deleted.length, 0);

  await a.session.unregister(regA);
  const d = await eventually(() => deleted.find((e) => e.args[1] === regA.id));
  t.same(d.args, [a.session.id, regA.id]);

  // leaving unregisters
  const regL = await a.session.register('com.ev.leaving', () => 1);
  const aid = a.session.id;
  a.connection.close();
  t.same((await eventually(() => unregistered.find((e) => e.args[1] === regL.id))).args, [aid, regL.id]);
  t.same((await eventually(() => deleted.find((e) => e.args[1] === regL.id))).args, [aid, regL.id]);
  for (const x of [obs, b]) x.connection.close();
});

t.test('testaments', async (t) => {
  t.test('published when the session closes (GOODBYE)', async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const obs = await connect({ port: r.port });
    const events = await collect(obs.session, 'com.testament.gone');
    const s = await connect({ port: r.port });
    t.same(await s.session.call('wamp.session.add_testament', ['com.testament.gone', [1, 'two'], { who: 'dying' }]), null);
    await sleep(50);
    t.equal(events.length, 0, 'nothing before the session goes');
    s.connection.close();
    const e = await eventually(() => events[0]);
    t.same(e.args, [1, 'two']);
    t.same(e.kwargs, { who: 'dying' });
    await sleep(100);
    t.equal(events.length, 1, 'published once');
    obs.connection.close();
  });

  t.test('published when the socket is destroyed without GOODBYE', async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const obs = await connect({ port: r.port });
    const events = await collect(obs.session, 'com.testament.crash');
    const raw = Wire.connect({ url: r.url, codec: 'json-text' });
    await raw.join();
    raw.send([48, 1, {}, 'wamp.session.add_testament', ['com.testament.crash', ['crashed'], { code: 7 }]]);
    const res = await raw.next();
    t.equal(res[0], 50, 'RESULT for add_testament');
    raw.close();
    const e = await eventually(() => events[0]);
    t.same(e.args, ['crashed']);
    t.same(e.kwargs, { code: 7 });
    obs.connection.close();
  });

  t.test('published when the session is killed', async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const obs = await connect({ port: r.port });
    const events = await collect(obs.session, 'com.testament.killed');
    const s = await connect({ port: r.port });
    await s.session.call('wamp.session.add_testament', ['com.testament.killed', ['k'], {}]);
    await obs.session.call('wamp.session.kill', [s.session.id]);
    t.same((await eventually(() => events[0])).args, ['k']);
    obs.connection.close();
  });

  t.test("scope 'detached'", async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const obs = await connect({ port: r.port });
    const events = await collect(obs.session, 'com.testament', { match: 'prefix' });
    const s = await connect({ port: r.port });
    // added destroyed first, detached second: the spec wants detached published first
    await s.session.call('wamp.session.add_testament', ['com.testament.destroyed', ['x'], {}], { scope: 'destroyed' });
    await s.session.call('wamp.session.add_testament', ['com.testament.destroyed', ['y'], {}]);
    await s.session.call('wamp.session.add_testament', ['com.testament.detached', ['d'], { scope: 'detached-ev' }], { scope: 'detached' });
    const bad = await callError(s.session.call('wamp.session.add_testament', ['com.testament.x', [], {}], { scope: 'forever' }));
    t.equal(bad.error, 'wamp.error.invalid_argument', 'unknown scope');
    s.connection.close();
    await eventually(() => events.length >= 3 && events);
    t.same(events.map((e) => [e.details.topic, e.args]), [
      ['com.testament.detached', ['d']],
      ['com.testament.destroyed', ['x']],
      ['com.testament.destroyed', ['y']],
    ], 'detached scope first, then destroyed, each in the order added');
    t.same(events[0]!.kwargs, { scope: 'detached-ev' });
    await sleep(100);
    t.equal(events.length, 3);
    obs.connection.close();
  });

  t.test('flush_testaments returns the count and nothing is published', async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const obs = await connect({ port: r.port });
    const events = await collect(obs.session, 'com.testament', { match: 'prefix' });
    const s = await connect({ port: r.port });
    await s.session.call('wamp.session.add_testament', ['com.testament.a', [1], {}]);
    await s.session.call('wamp.session.add_testament', ['com.testament.b', [2], {}]);
    await s.session.call('wamp.session.add_testament', ['com.testament.c', [3], {}], { scope: 'detached' });
    t.equal(await s.session.call('wamp.session.flush_testaments'), 2, 'destroyed scope (the default): 2');
    t.equal(await s.session.call('wamp.session.flush_testaments'), 0, 'already flushed');
    t.equal(await s.session.call('wamp.session.flush_testaments', [], { scope: 'detached' }), 1);
    const s2 = await connect({ port: r.port });
    t.equal(await s2.session.call('wamp.session.flush_testaments'), 0, 'a session without testaments');
    s.connection.close();
    s2.connection.close();
    await sleep(200);
    t.same(events, [], 'flushed testaments are not published');
    obs.connection.close();
  });

  t.test('a testament is only allowed on a topic the role may publish to', async (t) => {
    const r = await startRouter(testConfig({
      realms: [{
        name: 'realm1',
        roles: [{
          name: 'anonymous',
          permissions: [
            { uri: 'wamp.', match: 'prefix', allow: { call: true, subscribe: true } },
            { uri: 'com.allowed.', match: 'prefix', allow: { publish: true, subscribe: true } },
            { uri: 'com.forbidden.', match: 'prefix', allow: { subscribe: true } },
          ],
        }],
      }],
    }));
    t.teardown(() => r.stop());
    const obs = await connect({ port: r.port });
    const forbidden = await collect(obs.session, 'com.forbidden.topic');
    const allowed = await collect(obs.session, 'com.allowed.topic');
    const s = await connect({ port: r.port });
    const e = await callError(s.session.call('wamp.session.add_testament', ['com.forbidden.topic', [], {}]));
    t.equal(e.error, 'wamp.error.not_authorized');
    await s.session.call('wamp.session.add_testament', ['com.allowed.topic', ['ok'], {}]);
    s.connection.close();
    t.same((await eventually(() => allowed[0])).args, ['ok']);
    await sleep(100);
    t.same(forbidden, []);
    obs.connection.close();
  });

  t.test('bad arguments', async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const s = await connect({ port: r.port });
    t.equal((await callError(s.session.call('wamp.session.add_testament', []))).error, 'wamp.error.invalid_argument', 'no topic');
    t.equal((await callError(s.session.call('wamp.session.add_testament', ['com.t', 'notalist']))).error, 'wamp.error.invalid_argument', 'args not a list');
    t.equal((await callError(s.session.call('wamp.session.add_testament', ['com..bad', []]))).error, 'wamp.error.invalid_uri', 'bad topic URI');
    s.connection.close();
  });
  t.end();
});
