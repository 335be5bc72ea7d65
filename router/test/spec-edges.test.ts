// The spec's remaining edges, with raw frames (issue 20 item 5): a YIELD or
// ERROR for an invocation the router never sent, request ids out of
// sequence (and the realm option for legacy clients), progressive call
// invocations. autobahn-js has no progressive call invocations (26.x), so
// those are raw frames too; wampy.test.ts and the broker/dealer matrices
// run autobahn-js and wampy under the sequential-id check.
import t from 'tap';
import { startRouter, testConfig, sleep } from './helpers.js';
import { Wire, ROLES } from './wire.js';

const PROTOCOL_VIOLATION = 'wamp.error.protocol_violation';

const CALLER = { roles: { caller: { features: { progressive_call_invocations: true, progressive_call_results: true } } } };
const CALLEE = { roles: { callee: { features: { progressive_call_invocations: true, call_canceling: true, progressive_call_results: true } } } };

function legacyConfig(): unknown {
  return testConfig({ realms: [{
    name: 'realm1',
    options: { legacy_request_ids: true },
    roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }] }],
  }] });
}

async function joined(port: number, details: Record<string, unknown> = ROLES): Promise<Wire> {
  const w = await Wire.open({ port });
  await w.join('realm1', details);
  return w;
}

/** The ABORT that ended `w`'s session, and that its connection closed. */
async function aborted(w: Wire): Promise<unknown[]> {
  const m = await w.next(3);
  await w.closed;
  return m;
}

t.test('YIELD or ERROR for an invocation the router never sent: ABORT protocol_violation', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());

  const callee = await joined(r.port);
  callee.send([70, 1, {}, ['made up']]);
  const a = await aborted(callee);
  t.equal(a[2], PROTOCOL_VIOLATION);
  t.match((a[1] as { message: string }).message, /YIELD for invocation 1, which the router never sent/);

  const callee2 = await joined(r.port);
  const reg = await callee2.register('com.edge.p');
  const caller = await joined(r.port);
  caller.send([48, caller.request(), {}, 'com.edge.p', []]);
  const inv = await callee2.next(68);
  t.equal(inv[1], 1, 'the first INVOCATION id');
  t.equal(inv[2], reg);
  callee2.send([8, 68, 2, {}, 'com.edge.error']);
  const b = await aborted(callee2);
  t.equal(b[2], PROTOCOL_VIOLATION, 'ERROR for invocation 2, one past the last sent');
  t.match((b[1] as { message: string }).message, /ERROR for invocation 2, which the router never sent/);
  const lost = await caller.next(8);
  t.equal(lost[4], 'wamp.error.canceled', 'the caller learns its callee is gone');
});

t.test('answers to invocations that timed out, were canceled or were answered: dropped quietly', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const callee = await joined(r.port, { roles: { callee: { features: { call_canceling: true } } } });
  await callee.register('com.edge.slow');
  const caller = await joined(r.port);

  const timedOut = caller.request();
  caller.send([48, timedOut, { timeout: 100 }, 'com.edge.slow', []]);
  const inv1 = await callee.next(68);
  t.equal((await caller.next(8))[4], 'wamp.error.timeout');
  await callee.next(69); // INTERRUPT
  callee.send([70, inv1[1], {}, ['too late']]);

  const canceled = caller.request();
  caller.send([48, canceled, {}, 'com.edge.slow', []]);
  const inv2 = await callee.next(68);
  caller.send([49, canceled, { mode: 'killnowait' }]);
  t.equal((await caller.next(8))[4], 'wamp.error.canceled');
  callee.send([8, 68, inv2[1], {}, 'com.edge.late']);

  const answered = caller.request();
  caller.send([48, answered, {}, 'com.edge.slow', []]);
  const inv3 = await callee.next(68);
  callee.send([70, inv3[1], {}, ['once']]);
  t.same((await caller.next(50))[3], ['once']);
  callee.send([70, inv3[1], {}, ['twice']]);

  await sleep(200);
  t.notOk(callee.isClosed, 'the callee is still connected');
  t.equal(caller.peek((m) => m[0] === 50 || m[0] === 8).length, 0, 'nothing of the late answers reached the caller');
  // and both sessions work on
  const again = caller.request();
  caller.send([48, again, {}, 'com.edge.slow', []]);
  const inv4 = await callee.next(68);
  callee.send([70, inv4[1], {}, ['fine']]);
  t.same((await caller.next(50)).slice(1, 4), [again, {}, ['fine']]);
});

t.test('request ids out of sequence: ABORT protocol_violation', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());

  const skip = await joined(r.port);
  skip.send([32, 1, {}, 'com.edge.a']);
  t.equal((await skip.next(33))[1], 1);
  skip.send([32, 7, {}, 'com.edge.b']);
  const a = await aborted(skip);
  t.equal(a[2], PROTOCOL_VIOLATION, '1, then 7');
  t.match((a[1] as { message: string }).message, /SUBSCRIBE request id 7 is out of sequence: expected 2/);

  const zero = await joined(r.port);
  zero.send([16, 0, { acknowledge: true }, 'com.edge.a', []]);
  t.match(((await aborted(zero))[1] as { message: string }).message, /PUBLISH request id 0 is out of sequence: expected 1/, 'the first is 1, not 0');

  const repeat = await joined(r.port);
  repeat.send([16, 1, { acknowledge: true }, 'com.edge.a', []]);
  await repeat.next(17);
  repeat.send([16, 1, { acknowledge: true }, 'com.edge.a', []]);
  t.match(((await aborted(repeat))[1] as { message: string }).message, /PUBLISH request id 1 is out of sequence: expected 2/, 'a repeated id');

  const mixed = await joined(r.port);
  mixed.send([64, 1, {}, 'com.edge.proc']);
  await mixed.next(65);
  mixed.send([16, 2, {}, 'com.edge.t', []]);
  mixed.send([32, 3, {}, 'com.edge.t']);
  await mixed.next(33);
  mixed.send([48, 4, {}, 'com.edge.proc', []]);
  const inv = await mixed.next(68);
  mixed.send([70, inv[1], {}, [1]]);
  t.equal((await mixed.next(50))[1], 4, 'one sequence across PUBLISH, SUBSCRIBE, REGISTER, CALL; refused ones count too');
  mixed.send([34, 5, 123]);
  t.equal((await mixed.next(8))[4], 'wamp.error.no_such_subscription');
  mixed.send([49, 4, {}]); // CANCEL names an earlier request: not a new id
  mixed.send([66, 6, 456]);
  t.equal((await mixed.next(8))[4], 'wamp.error.no_such_registration');
  t.notOk(mixed.isClosed);
});

t.test('realm option legacy_request_ids: any id accepted, as before', async (t) => {
  const r = await startRouter(legacyConfig());
  t.teardown(() => r.stop());
  const w = await joined(r.port);
  w.send([32, 7, {}, 'com.edge.a']);
  t.equal((await w.next(33))[1], 7);
  w.send([16, 7, { acknowledge: true }, 'com.edge.a', []]);
  t.equal((await w.next(17))[1], 7);
  w.send([16, 0, { acknowledge: true }, 'com.edge.a', []]);
  t.equal((await w.next(17))[1], 0);
  t.notOk(w.isClosed);
});

t.test('progressive call invocations: chunks go to the first chunk\'s callee under one INVOCATION id', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const caller = await Wire.open({ port: r.port });
  const welcome = await (async () => { await caller.send([1, 'realm1', CALLER]); return caller.next(2); })();
  t.equal((welcome[2] as { roles: { dealer: { features: Record<string, boolean> } } }).roles.dealer.features.progressive_call_invocations, true, 'WELCOME announces it');
  // Two callees on a roundrobin registration: every chunk must reach the first one.
  const c1 = await joined(r.port, CALLEE);
  const c2 = await joined(r.port, CALLEE);
  const reg = await c1.register('com.edge.upload', { invoke: 'roundrobin' });
  await c2.register('com.edge.upload', { invoke: 'roundrobin' });

  caller.send([48, 1, { progress: true, receive_progress: true }, 'com.edge.upload', ['a']]);
  const i1 = await c1.next(68);
  t.same(i1.slice(2, 5), [reg, { progress: true, receive_progress: true }, ['a']], 'INVOCATION with progress: true');
  caller.send([48, 1, { progress: true, timeout: 1 }, 'com.edge.upload', ['b']]);
  const i2 = await c1.next(68);
  t.same(i2.slice(1, 5), [i1[1], reg, { progress: true, receive_progress: true }, ['b']], 'same INVOCATION id, the first chunk\'s Details (options are frozen)');
  c1.send([70, i1[1], { progress: true }, ['got a, b']]);
  t.same((await caller.next(50)).slice(1, 4), [1, { progress: true }, ['got a, b']], 'progressive results flow meanwhile');
  caller.send([48, 1, {}, 'com.edge.upload', ['c']]);
  const i3 = await c1.next(68);
  t.same(i3.slice(1, 5), [i1[1], reg, { receive_progress: true }, ['c']], 'the last chunk: no progress');
  c1.send([70, i1[1], {}, ['abc']]);
  t.same((await caller.next(50)).slice(1, 4), [1, {}, ['abc']], 'one final RESULT');
  t.equal(c2.peek((m) => m[0] === 68).length, 0, 'the other callee got nothing');

  // The next call is a new request with the next id, and goes round-robin to c2.
  caller.send([48, 2, {}, 'com.edge.upload', ['x']]);
  const j = await c2.next(68);
  c2.send([70, j[1], {}, ['y']]);
  t.equal((await caller.next(50))[1], 2);
});

t.test('progressive call invocations: refusals and endings', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const plain = await joined(r.port, { roles: { callee: { features: { call_canceling: true } } } });
  await plain.register('com.edge.plain');
  const streaming = await joined(r.port, CALLEE);
  await streaming.register('com.edge.stream');

  await t.test('a caller that did not announce the feature: ABORT', async (t) => {
    const w = await joined(r.port);
    w.send([48, 1, { progress: true }, 'com.edge.stream', []]);
    const a = await aborted(w);
    t.equal(a[2], PROTOCOL_VIOLATION);
    t.match((a[1] as { message: string }).message, /did not announce progressive_call_invocations/);
  });

  await t.test('a callee that does not take them: ERROR feature_not_supported, later chunks dropped', async (t) => {
    const w = await joined(r.port, CALLER);
    w.send([48, 1, { progress: true }, 'com.edge.plain', ['a']]);
    w.send([48, 1, { progress: true }, 'com.edge.plain', ['b']]);
    w.send([48, 1, {}, 'com.edge.plain', ['c']]);
    const e = await w.next(8);
    t.same([e[2], e[4]], [1, 'wamp.error.feature_not_supported']);
    w.send([48, 2, {}, 'com.edge.stream', []]);
    const inv = await streaming.next(68);
    streaming.send([70, inv[1], {}, ['ok']]);
    t.equal((await w.next(50))[1], 2, 'the chunks sent before the ERROR arrived were dropped, not read as new calls');
    t.equal(plain.peek((m) => m[0] === 68).length, 0, 'the plain callee never saw them');
    w.close();
  });

  await t.test('the callee answers early: the caller\'s remaining chunks are dropped', async (t) => {
    const w = await joined(r.port, CALLER);
    w.send([48, 1, { progress: true }, 'com.edge.stream', ['a']]);
    const inv = await streaming.next(68);
    streaming.send([8, 68, inv[1], {}, 'com.edge.too_big']);
    t.equal((await w.next(8))[4], 'com.edge.too_big');
    w.send([48, 1, { progress: true }, 'com.edge.stream', ['b']]);
    w.send([48, 1, {}, 'com.edge.stream', ['c']]);
    w.send([48, 2, {}, 'com.edge.stream', ['new']]);
    const next = await streaming.next(68);
    t.same(next[4], ['new'], 'the next INVOCATION is the new call, not a chunk');
    streaming.send([70, next[1], {}, []]);
    await w.next(50);
    w.close();
  });

  await t.test('the caller leaves mid-stream: INTERRUPT killnowait to the callee', async (t) => {
    const w = await joined(r.port, CALLER);
    w.send([48, 1, { progress: true }, 'com.edge.stream', ['a']]);
    const inv = await streaming.next(68);
    w.close();
    const interrupt = await streaming.next(69);
    t.same(interrupt.slice(1, 3), [inv[1], { mode: 'killnowait', reason: 'wamp.error.canceled' }]);
  });

  await t.test('a second CALL with the id of a call in flight that is not progressive: ABORT', async (t) => {
    const w = await Wire.open({ port: r.port });
    await w.join('realm1', CALLER);
    w.send([48, 1, {}, 'com.edge.stream', []]);
    await streaming.next(68);
    w.send([48, 1, {}, 'com.edge.stream', []]);
    t.equal((await aborted(w))[2], PROTOCOL_VIOLATION);
  });
});
