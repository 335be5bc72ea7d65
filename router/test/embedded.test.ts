// The router embedded in an application: `new Router(config)`, in-process
// sessions from router.localSession(), talking to remote autobahn clients.
import t from 'tap';
import net from 'node:net';
import { Router, Result, WampError, fromCrossbar, silentLogger, type LocalSession } from '../src/index.js';
import { autobahn, connect, testConfig, eventually, sleep, within, callError } from './helpers.js';

// autobahn's Result class (not in the helpers' typing of the module)
const AbResult = (autobahn as unknown as { Result: new (args?: unknown[], kwargs?: Record<string, unknown>) => { args: unknown[]; kwargs: Record<string, unknown> } }).Result;

/** The test config with a fixed port instead of 0. */
function configOnPort(port: number): unknown {
  const cfg = structuredClone(testConfig()) as { workers: { transports: { endpoint: { port: number } }[] }[] };
  cfg.workers[0]!.transports[0]!.endpoint.port = port;
  return cfg;
}

async function embedded(config: unknown = testConfig()): Promise<{ router: Router; port: number }> {
  const router = new Router(fromCrossbar(config).config, { log: silentLogger() });
  await router.start();
  return { router, port: Object.values(router.ports())[0]! };
}

t.test('a local procedure called by a remote autobahn client', async (t) => {
  const { router, port } = await embedded();
  t.teardown(() => router.stop(200));
  const local = await router.localSession('realm1');
  const seen: { args: unknown[]; kwargs: Record<string, unknown> }[] = [];
  await local.register('com.local.add', (args, kwargs) => {
    seen.push({ args, kwargs });
    return (args as number[]).reduce((a, b) => a + b, 0) + Number(kwargs.extra ?? 0);
  });
  await local.register('com.local.multi', (args, kwargs) => new Result(['a', args[0]], { echoed: kwargs, n: 2 }));
  await local.register('com.local.nothing', () => undefined);
  await local.register('com.local.async', async (args) => { await sleep(10); return { deferred: args[0] }; });

  const c = await connect({ port });
  t.equal(await c.session.call('com.local.add', [1, 2, 3], { extra: 10 }), 16);
  t.same(seen[0], { args: [1, 2, 3], kwargs: { extra: 10 } });

  const multi = await c.session.call('com.local.multi', ['x'], { k: true });
  t.ok(multi instanceof AbResult, 'several results arrive as autobahn.Result');
  t.same(multi.args, ['a', 'x']);
  t.same(multi.kwargs, { echoed: { k: true }, n: 2 });

  t.equal(await c.session.call('com.local.nothing'), null, 'undefined → no result');
  t.same(await c.session.call('com.local.async', [42]), { deferred: 42 }, 'async procedures');

  // over another serializer and RawSocket too
  const m = await connect({ port, serializer: 'cbor' });
  t.equal(await m.session.call('com.local.add', [2, 2]), 4);
  const raw = await connect({ port, rawsocket: true });
  t.equal(await raw.session.call('com.local.add', [5]), 5);
  for (const x of [c, m, raw]) x.connection.close();
  local.close();
});

t.test('errors thrown by a local procedure reach the remote caller', async (t) => {
  const { router, port } = await embedded();
  t.teardown(() => router.stop(200));
  const local = await router.localSession('realm1');
  await local.register('com.local.fail', (args) => {
    throw new WampError('com.example.error.bad_input', ['bad input', args[0]], { field: 'x' });
  });
  await local.register('com.local.crash', () => { throw new Error('boom'); });
  await local.register('com.local.reject', async () => { throw new WampError('com.example.error.async'); });

  const c = await connect({ port });
  const e = await callError(c.session.call('com.local.fail', [7]));
  t.equal(e.error, 'com.example.error.bad_input');
  t.same(e.args, ['bad input', 7]);
  t.same(e.kwargs, { field: 'x' });

  const crash = await callError(c.session.call('com.local.crash'));
  t.equal(crash.error, 'wamp.error.runtime_error', 'a plain Error becomes runtime_error');
  t.match(String(crash.args[0]), /boom/);

  t.equal((await callError(c.session.call('com.local.reject'))).error, 'com.example.error.async');

  // the session survives its procedures' errors
  await local.register('com.local.ok', () => 'ok');
  t.equal(await c.session.call('com.local.ok'), 'ok');
  c.connection.close();
});

t.test('pub/sub between local and remote sessions', async (t) => {
  const { router, port } = await embedded();
  t.teardown(() => router.stop(200));
  const local = await router.localSession('realm1');
  const c = await connect({ port });

  // remote publish → local subscriber
  const got: { args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> }[] = [];
  const subId = await local.subscribe('com.events', (args, kwargs, details) => got.push({ args, kwargs, details }));
  t.type(subId, 'number');
  await c.session.publish('com.events', [1, 'two'], { three: 3 }, { acknowledge: true });
  const ev = await eventually(() => got[0]);
  t.same(ev.args, [1, 'two']);
  t.same(ev.kwargs, { three: 3 });

  // prefix subscription: details.topic
  const pre: string[] = [];
  await local.subscribe('com.pre', (_a, _k, details) => pre.push(details.topic as string), { match: 'prefix' });
  c.session.publish('com.pre.fix', []);
  t.equal(await eventually(() => pre[0]), 'com.pre.fix');

  // local publish → remote subscriber
  const remote: unknown[][] = [];
  const remoteKw: Record<string, unknown>[] = [];
  await c.session.subscribe('com.from.local', (args: unknown[], kwargs: Record<string, unknown>) => { remote.push(args ?? []); remoteKw.push(kwargs ?? {}); });
  await local.publish('com.from.local', ['hello'], { from: 'local' });
  t.same(await eventually(() => remote[0]), ['hello']);
  t.same(remoteKw[0], { from: 'local' });

  // a local publisher is excluded from its own event by default, included with exclude_me: false
  const mine: unknown[] = [];
  await local.subscribe('com.from.local', (args) => mine.push(args[0]));
  await local.publish('com.from.local', ['again']);
  await eventually(() => remote.length === 2);
  await sleep(30);
  t.same(mine, [], 'exclude_me defaults to true');
  await local.publish('com.from.local', ['me too'], {}, { exclude_me: false });
  t.equal(await eventually(() => mine[0]), 'me too');

  // unsubscribe stops delivery
  await local.unsubscribe(subId);
  await c.session.publish('com.events', ['after'], {}, { acknowledge: true });
  await sleep(50);
  t.equal(got.length, 1, 'no events after unsubscribe');

  // publishing is subject to the same rules as a remote publish
  const reserved = await callError(local.publish('wamp.session.on_join', []));
  t.equal(reserved.error, 'wamp.error.invalid_uri');
  c.connection.close();
  local.close();
});

t.test('a local session calls a remote callee', async (t) => {
  const { router, port } = await embedded();
  t.teardown(() => router.stop(200));
  const local = await router.localSession('realm1');
  const c = await connect({ port, serializer: 'msgpack' });
  await c.session.register('com.remote.echo', (args: unknown[], kwargs: Record<string, unknown>) => new AbResult(args, kwargs));
  await c.session.register('com.remote.single', (args: unknown[]) => (args[0] as number) * 2);
  await c.session.register('com.remote.fail', () => { throw new autobahn.Error('com.example.remote_error', ['nope'], { code: 1 }); });

  t.same(await local.call('com.remote.echo', [1, 2], { a: 'b' }), { args: [1, 2], kwargs: { a: 'b' } });
  t.same(await local.call('com.remote.single', [21]), { args: [42], kwargs: {} });

  const e = await local.call('com.remote.fail').then(() => { throw new Error('expected a rejection'); }, (x: unknown) => x as WampError);
  t.ok(e instanceof WampError, 'errors are WampError');
  t.equal(e.uri, 'com.example.remote_error');
  t.same(e.args, ['nope']);
  t.same(e.kwargs, { code: 1 });

  const none = await callError(local.call('com.remote.none'));
  t.equal(none.error, 'wamp.error.no_such_procedure');

  // local ↔ local works as well
  const other = await router.localSession('realm1');
  await other.register('com.local.twice', (args) => (args[0] as number) * 2);
  t.same(await local.call('com.local.twice', [4]), { args: [8], kwargs: {} });
  // and the meta API
  const count = await local.call('wamp.session.count');
  t.equal(count.args[0], 3);
  c.connection.close();
  local.close();
  other.close();
});

t.test('progressive call results', async (t) => {
  const { router, port } = await embedded();
  t.teardown(() => router.stop(200));
  const local = await router.localSession('realm1');
  await local.register('com.local.countdown', (args, _kwargs, details) => {
    const n = args[0] as number;
    t.type(details.progress, 'function', 'details.progress when the caller asked for progress');
    for (let i = n; i > 0; i--) details.progress?.([i], { left: i });
    return 'liftoff';
  });
  await local.register('com.local.noprogress', (_args, _kwargs, details) => typeof details.progress);

  const c = await connect({ port });
  const progress: unknown[] = [];
  // autobahn (when.js): the third `then` callback receives progressive results
  const result = await c.session.call('com.local.countdown', [3], {}, { receive_progress: true })
    .then((r: unknown) => r, (e: unknown) => { throw e; }, (p: unknown) => progress.push(p));
  t.equal(result, 'liftoff');
  t.equal(progress.length, 3);
  t.same(progress.map((p) => (p as { args: unknown[] }).args), [[3], [2], [1]]);
  t.same((progress[0] as { kwargs: unknown }).kwargs, { left: 3 });

  t.equal(await c.session.call('com.local.noprogress'), 'undefined', 'no progress function without receive_progress');

  // a local caller receiving progress from a remote autobahn callee
  await c.session.register('com.remote.steps', (_args: unknown[], _kw: unknown, details: { progress?: (a: unknown[]) => void }) => {
    details.progress?.(['step1']);
    details.progress?.(['step2']);
    return 'done';
  });
  const steps: unknown[][] = [];
  const r = await local.call('com.remote.steps', [], {}, {}, (p) => steps.push(p.args));
  t.same(r.args, ['done']);
  t.same(steps, [['step1'], ['step2']]);
  c.connection.close();
  local.close();
});

t.test('a local session is a session like any other in the meta API', async (t) => {
  const { router, port } = await embedded();
  t.teardown(() => router.stop(200));
  const c = await connect({ port });
  t.equal(await c.session.call('wamp.session.count'), 1);
  const joins: Record<string, unknown>[] = [];
  await c.session.subscribe('wamp.session.on_join', (args: unknown[]) => joins.push(args[0] as Record<string, unknown>));
  const leaves: unknown[][] = [];
  await c.session.subscribe('wamp.session.on_leave', (args: unknown[]) => leaves.push(args));

  const local: LocalSession = await router.localSession('realm1', { authid: 'backend' });
  t.type(local.id, 'number');
  t.equal(local.authid, 'backend');
  t.equal(local.authrole, 'trusted', 'the default role of a local session');
  t.equal(await c.session.call('wamp.session.count'), 2);
  t.ok((await c.session.call('wamp.session.list') as number[]).includes(local.id));
  const d = await c.session.call('wamp.session.get', [local.id]) as Record<string, unknown>;
  t.equal(d.session, local.id);
  t.equal(d.authid, 'backend');
  t.equal(d.authrole, 'trusted');
  t.equal((d.transport as Record<string, unknown>).type, 'local');
  t.equal((await eventually(() => joins.find((j) => j.session === local.id))).authid, 'backend');

  // a registration by the local session shows in the registration meta API
  const reg = await local.register('com.local.visible', () => 1);
  t.equal(await c.session.call('wamp.registration.lookup', ['com.local.visible']), reg);
  t.same(await c.session.call('wamp.registration.list_callees', [reg]), [local.id]);

  const id = local.id;
  local.close();
  t.same(await eventually(() => leaves.find((l) => l[0] === id)), [id, 'backend', 'trusted']);
  t.equal(await c.session.call('wamp.session.count'), 1);
  t.equal(await c.session.call('wamp.registration.lookup', ['com.local.visible']), null, 'its registrations went with it');
  await t.rejects(local.call('com.local.visible'), /closed/, 'a closed local session refuses calls');
  c.connection.close();
});

t.test('local sessions: unknown realm and role are refused', async (t) => {
  const { router } = await embedded();
  t.teardown(() => router.stop(200));
  const noRealm = await callError(router.localSession('nowhere'));
  t.equal(noRealm.error, 'wamp.error.no_such_realm');
  const noRole = await callError(router.localSession('realm1', { authrole: 'ghost' }));
  t.equal(noRole.error, 'wamp.error.no_such_role');
  const anon = await router.localSession('realm1', { authrole: 'anonymous' });
  t.equal(anon.authrole, 'anonymous', 'a role defined by the config can be used');
  anon.close();
});

t.test('start/stop: GOODBYE wamp.close.system_shutdown to every session, port freed', async (t) => {
  const first = await embedded();
  t.teardown(() => first.router.stop(200));
  const port = first.port;
  t.not(port, 0);
  const local = await first.router.localSession('realm1');
  await local.register('com.local.p', () => 1);
  const c1 = await connect({ port });
  const c2 = await connect({ port, rawsocket: true });
  t.equal(await c1.session.call('com.local.p'), 1);

  const t0 = Date.now();
  await first.router.stop();
  t.ok(Date.now() - t0 < 1500, 'stop does not wait for the whole grace period when clients answer');
  for (const c of [c1, c2]) {
    const closed = await within(c.closed, 3000, 'client close');
    t.equal((closed.details as { reason?: string }).reason, 'wamp.close.system_shutdown');
  }
  t.equal(first.router.sessionCount, 0, 'no sessions left');
  await t.rejects(local.call('com.local.p'), /closed/, 'the local session is closed too');

  // the port is free: a plain server can bind it...
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
  // ...and so can a new router, which then works
  const second = await embedded(configOnPort(port));
  t.teardown(() => second.router.stop(200));
  t.equal(second.port, port);
  const c3 = await connect({ port });
  t.equal(await c3.session.call('wamp.session.count'), 1);
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(health.status, 200);
  await second.router.stop(200);
  t.equal(((await within(c3.closed, 3000, 'client close')).details as { reason?: string }).reason, 'wamp.close.system_shutdown');
  const after = await fetch(`http://127.0.0.1:${port}/health`).then(() => 'reachable', () => 'refused');
  t.equal(after, 'refused', 'nothing listens after stop');
});

t.test('start fails cleanly when the port is taken', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const port = (blocker.address() as net.AddressInfo).port;
  const router = new Router(fromCrossbar(configOnPort(port)).config, { log: silentLogger() });
  await t.rejects(router.start(), /EADDRINUSE|in use/);
});
