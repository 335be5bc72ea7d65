// A second, independent WAMP client: wampy.js (v8) in Node with the `ws`
// package, over JSON, MessagePack and CBOR, and against autobahn peers.
import t from 'tap';
import WebSocket from 'ws';
import { Wampy, Errors } from 'wampy';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { CborSerializer } from 'wampy/CborSerializer.js';
import { JsonSerializer } from 'wampy/JsonSerializer.js';
import { startRouter, connect, eventually, sleep, autobahn, within } from './helpers.js';

type SerializerName = 'json' | 'msgpack' | 'cbor';

function serializer(name: SerializerName): JsonSerializer | MsgpackSerializer | CborSerializer {
  if (name === 'msgpack') return new MsgpackSerializer();
  if (name === 'cbor') return new CborSerializer();
  return new JsonSerializer();
}

interface Client { wampy: Wampy; welcome: Record<string, unknown>; closed: Promise<void> }

async function wampyClient(url: string, name: SerializerName = 'json', realm = 'realm1'): Promise<Client> {
  let onClose!: () => void;
  const closed = new Promise<void>((r) => { onClose = r; });
  const wampy = new Wampy(url, {
    // wampy's `ws` option wants a W3C-style constructor; the ws package is one
    ws: WebSocket as never,
    realm,
    serializer: serializer(name),
    autoReconnect: false,
    onClose: () => onClose(),
  });
  const welcome = await wampy.connect();
  return { wampy, welcome, closed };
}

async function rejection(p: Promise<unknown>): Promise<Error & { errorUri?: string; argsList?: unknown[]; argsDict?: Record<string, unknown> }> {
  try { await p; } catch (e) { return e as Error & { errorUri?: string }; }
  throw new Error('expected a rejection');
}

for (const name of ['json', 'msgpack', 'cbor'] as const) {
  t.test(`wampy over ${name}: connect, RPC, errors, unregister, disconnect`, async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const a = await wampyClient(r.url, name);
    const b = await wampyClient(r.url, name);

    // connect: WELCOME with a session id and the router's roles
    // ids are integers; msgpackr (wampy's MessagePack) reads uint64 as BigInt
    const isId = (v: unknown): boolean => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
    const sid = a.wampy.getSessionId();
    t.ok(isId(sid), 'session id');
    t.equal(a.welcome.authrole, 'anonymous');
    t.equal(a.welcome.authmethod, 'anonymous');
    t.ok((a.welcome.roles as Record<string, unknown>).broker, 'broker role');
    t.ok((a.welcome.roles as Record<string, unknown>).dealer, 'dealer role');
    const info = await b.wampy.call('wamp.session.get', [sid]);
    t.equal((info.argsList![0] as Record<string, unknown>).session, sid);
    t.equal(((info.argsList![0] as Record<string, Record<string, unknown>>).transport!).serializer, name, 'negotiated the serializer');

    // register + call with args and kwargs
    const reg = await a.wampy.register('com.wampy.add', ({ argsList, argsDict }) => ({
      argsList: [(argsList as number[]).reduce((x, y) => x + y, 0)],
      argsDict: { scale: argsDict?.scale ?? null, echo: argsList },
    }));
    t.ok(isId(reg.registrationId), 'registration id');
    const res = await b.wampy.call('com.wampy.add', { argsList: [1, 2, 3.5], argsDict: { scale: 'x' } });
    t.same(res.argsList, [6.5]);
    t.same(res.argsDict, { scale: 'x', echo: [1, 2, 3.5] });
    const plain = await b.wampy.call('com.wampy.add', [10, 20]);
    t.same(plain.argsList, [30], 'a list payload is the positional arguments');

    // nested values, unicode and large integers survive the serializer
    await a.wampy.register('com.wampy.echo', ({ argsList, argsDict }) => ({ argsList: argsList ?? [], argsDict: argsDict ?? {} }));
    const nested = { list: [1, [2, [3]]], map: { k: { deep: true } }, n: null, s: 'ünïcödé ✓', big: 2 ** 50 };
    const echoed = await b.wampy.call('com.wampy.echo', { argsList: [nested], argsDict: { nested } });
    t.same(echoed.argsList, [nested]);
    t.same(echoed.argsDict, { nested });

    // an error thrown by the callee reaches the caller with URI, args and kwargs
    await a.wampy.register('com.wampy.fail', () => {
      throw Object.assign(new Error('nope'), { error: 'com.example.wampy_error', argsList: ['bad', 42], argsDict: { why: 'because' } });
    });
    const err = await rejection(b.wampy.call('com.wampy.fail'));
    t.ok(err instanceof Errors.CallError, 'a CallError');
    t.equal(err.errorUri, 'com.example.wampy_error');
    t.same(err.argsList, ['bad', 42]);
    t.same(err.argsDict, { why: 'because' });
    const missing = await rejection(b.wampy.call('com.wampy.missing'));
    t.equal(missing.errorUri, 'wamp.error.no_such_procedure');
    const dup = await rejection(b.wampy.register('com.wampy.add', () => null));
    t.equal(dup.errorUri, 'wamp.error.procedure_already_exists');

    // unregister
    await a.wampy.unregister('com.wampy.add');
    t.equal((await rejection(b.wampy.call('com.wampy.add', [1]))).errorUri, 'wamp.error.no_such_procedure', 'gone after unregister');

    // disconnect: GOODBYE handshake, the router forgets the session
    await a.wampy.disconnect();
    await within(a.closed);
    t.notOk(a.wampy.getSessionId(), 'wampy has no session any more');
    const count = await b.wampy.call('wamp.session.count');
    t.same(count.argsList, [1]);
    await b.wampy.disconnect();
    await eventually(() => r.router.sessionCount === 0);
  });

  // wampy's msgpack serializer (msgpackr) writes the `undefined` it leaves in
  // SUBSCRIBE.Options ({match: undefined, get_retained: undefined}) as
  // fixext1 type 0 — the usual MessagePack spelling of undefined.
  t.test(`wampy over ${name}: subscribe, publish, unsubscribe`, async (t) => {
    const r = await startRouter();
    t.teardown(() => r.stop());
    const a = await wampyClient(r.url, name);
    const b = await wampyClient(r.url, name);
    const events: { args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> }[] = [];
    const sub = await a.wampy.subscribe('com.wampy.topic', ({ argsList, argsDict, details }) => {
      events.push({ args: argsList ?? [], kwargs: argsDict ?? {}, details });
    }).catch((e: Error) => e);
    if (!('subscriptionId' in sub)) {
      t.fail(`wampy could not subscribe over ${name}: ${String((sub as Error).message ?? sub)}`);
      return;
    }
    t.ok(typeof sub.subscriptionId === 'number' || typeof sub.subscriptionId === 'bigint', 'subscription id');
    const pub = await b.wampy.publish('com.wampy.topic', { argsList: ['hi', 1], argsDict: { from: 'b' } });
    t.ok(typeof pub.publicationId === 'number' || typeof pub.publicationId === 'bigint', 'publish is acknowledged');
    const ev = await eventually(() => events[0]);
    t.same(ev.args, ['hi', 1]);
    t.same(ev.kwargs, { from: 'b' });

    // a publisher does not get its own event (exclude_me defaults to true).
    // (wampy 8 cannot send exclude_me: false — it drops falsy options.)
    await a.wampy.publish('com.wampy.topic', ['self']);
    await b.wampy.publish('com.wampy.topic', ['after-self']);
    await eventually(() => events.length >= 2);
    await sleep(30);
    t.same(events.map((e) => e.args[0]), ['hi', 'after-self']);

    // pattern-based subscription: details.topic names the concrete topic
    const wild: unknown[] = [];
    await a.wampy.subscribe('com.wampy..deep', ({ details }) => { wild.push(details.topic); }, { match: 'wildcard' });
    await b.wampy.publish('com.wampy.x.deep', []);
    t.equal(await eventually(() => wild[0]), 'com.wampy.x.deep');

    await a.wampy.unsubscribe('com.wampy.topic');
    const before = events.length;
    await b.wampy.publish('com.wampy.topic', ['after-unsubscribe']);
    await sleep(50);
    t.equal(events.length, before, 'no events after unsubscribe');
    await a.wampy.disconnect();
    await b.wampy.disconnect();
  });
}

t.test('wampy and autobahn talk to each other', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const w = await wampyClient(r.url, 'cbor');
  const ab = await connect({ port: r.port, serializer: 'msgpack' });

  // autobahn calls wampy
  await w.wampy.register('com.mix.fromwampy', ({ argsList, argsDict }) => ({ argsList: ['w', ...(argsList ?? [])], argsDict: { got: argsDict ?? {} } }));
  const r1 = await ab.session.call('com.mix.fromwampy', [1], { k: 'v' });
  t.same(r1.args, ['w', 1]);
  t.same(r1.kwargs, { got: { k: 'v' } });

  // wampy calls autobahn
  await ab.session.register('com.mix.fromautobahn', (args: unknown[], kwargs: Record<string, unknown>) => new (autobahn as unknown as { Result: new (a: unknown[], k: unknown) => unknown }).Result(['ab', ...args], { kw: kwargs }));
  const r2 = await w.wampy.call('com.mix.fromautobahn', { argsList: [2], argsDict: { x: true } });
  t.same(r2.argsList, ['ab', 2]);
  t.same(r2.argsDict, { kw: { x: true } });

  // autobahn's errors reach wampy
  await ab.session.register('com.mix.fail', () => { throw new autobahn.Error('com.example.ab_error', ['a'], { b: 1 }); });
  const e = await rejection(w.wampy.call('com.mix.fail'));
  t.equal(e.errorUri, 'com.example.ab_error');
  t.same(e.argsList, ['a']);
  t.same(e.argsDict, { b: 1 });

  // events both ways
  const atWampy: unknown[] = [];
  await w.wampy.subscribe('com.mix.topic', ({ argsList }) => { atWampy.push(argsList?.[0]); });
  const atAutobahn: unknown[] = [];
  await ab.session.subscribe('com.mix.topic', (args: unknown[]) => atAutobahn.push(args[0]));
  await ab.session.publish('com.mix.topic', ['from-ab'], {}, { acknowledge: true });
  await w.wampy.publish('com.mix.topic', ['from-w']);
  await eventually(() => atWampy.length === 1 && atAutobahn.length === 1);
  t.same(atWampy, ['from-ab']);
  t.same(atAutobahn, ['from-w']);

  // progressive results to a wampy caller from an autobahn callee
  await ab.session.register('com.mix.progress', (_a: unknown[], _k: unknown, details: { progress?: (args: unknown[]) => void }) => {
    details.progress?.([1]);
    details.progress?.([2]);
    return 3;
  });
  const progress: unknown[] = [];
  const fin = await w.wampy.call('com.mix.progress', [], { progress_callback: ({ argsList }) => { progress.push(argsList?.[0]); } });
  t.same(fin.argsList, [3]);
  t.same(progress, [1, 2]);

  // and from a wampy callee (result_handler with options.progress) to an autobahn caller
  await w.wampy.register('com.mix.wprogress', ({ result_handler }) => {
    result_handler({ argsList: ['p1'], options: { progress: true } });
    result_handler({ argsList: ['p2'], options: { progress: true } });
    return { argsList: ['final'] };
  });
  const abProgress: unknown[] = [];
  const abFinal = await ab.session.call('com.mix.wprogress', [], {}, { receive_progress: true })
    .then((v: unknown) => v, (err: unknown) => { throw err; }, (p: unknown) => abProgress.push(p));
  t.equal(abFinal, 'final');
  t.same(abProgress, ['p1', 'p2']);

  await w.wampy.disconnect();
  ab.connection.close();
});

t.test('wampy sees the router close the session', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const w = await wampyClient(r.url);
  const ab = await connect({ port: r.port });
  await ab.session.call('wamp.session.kill', [w.wampy.getSessionId()]);
  await within(w.closed);
  t.notOk(w.wampy.getSessionId(), 'killed: wampy saw the session end');
  t.equal(await ab.session.call('wamp.session.count'), 1);
  ab.connection.close();
  const w2 = await wampyClient(r.url);
  await r.stop();
  await within(w2.closed);
  t.notOk(w2.wampy.getSessionId(), 'router shutdown closed the wampy session');
});

t.test('wampy: joining an unknown realm is refused with ABORT', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const e = await rejection(wampyClient(r.url, 'json', 'no.such.realm'));
  t.ok(e instanceof Errors.AbortError, 'AbortError');
  t.equal(e.errorUri, 'wamp.error.no_such_realm');
});

// Payload Passthru Mode (WAMP spec, "Payload Passthru Mode"): the feature is
// announced as `payload_passthru_mode` (wampy checks exactly that key), the
// payload travels as ONE binary item inside Arguments|list, and the ppt_*
// options are forwarded PUBLISH→EVENT, CALL→INVOCATION and YIELD→RESULT.
t.test('wampy payload passthru mode (ppt_scheme + cbor ppt_serializer)', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  let welcome: Record<string, unknown> = {};
  const ppt = async (): Promise<Wampy> => {
    const w = new Wampy(r.url, {
      ws: WebSocket as never, realm: 'realm1', serializer: new CborSerializer(), autoReconnect: false,
      payloadSerializers: { cbor: new CborSerializer() },
    });
    welcome = await w.connect();
    return w;
  };
  const a = await ppt();
  const b = await ppt();
  const roles = welcome.roles as Record<string, { features: Record<string, boolean> }>;
  t.equal(roles.broker!.features.payload_passthru_mode, true, 'broker announces payload_passthru_mode');
  t.equal(roles.dealer!.features.payload_passthru_mode, true, 'dealer announces payload_passthru_mode');
  const opts = { ppt_scheme: 'x_custom', ppt_serializer: 'cbor' };

  const events: unknown[] = [];
  await a.subscribe('com.ppt.topic', ({ argsList, argsDict, details }) => {
    events.push({ args: argsList, kwargs: argsDict, scheme: details.ppt_scheme });
  });
  const pub = await b.publish('com.ppt.topic', { argsList: ['secret'], argsDict: { k: 1 } }, opts).catch((e: Error) => e);
  t.notOk(pub instanceof Error, `PPT publish accepted (${pub instanceof Error ? pub.constructor.name : 'ok'})`);
  const ev = await eventually(() => events[0], 1000).catch(() => undefined);
  t.same(ev, { args: ['secret'], kwargs: { k: 1 }, scheme: 'x_custom' }, 'PPT event delivered, decoded, with its ppt_scheme');

  const seen: Record<string, unknown>[] = [];
  await a.register('com.ppt.proc', ({ argsList, details }) => {
    seen.push(details);
    return { argsList: ['back', ...(argsList ?? [])], options: opts };
  });
  const res = await b.call('com.ppt.proc', { argsList: ['in'] }, opts).catch((e: Error) => e);
  t.equal(seen[0]?.ppt_scheme, 'x_custom', 'INVOCATION.Details carries ppt_scheme');
  t.same((res as { argsList?: unknown[] }).argsList, ['back', 'in'], 'RESULT decoded by the PPT caller');
  t.equal((res as { details?: Record<string, unknown> }).details?.ppt_scheme, 'x_custom', 'RESULT.Details carries ppt_scheme');
  await a.disconnect().catch(() => undefined);
  await b.disconnect().catch(() => undefined);
});
