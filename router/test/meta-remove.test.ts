// wamp.registration.remove_callee and wamp.subscription.remove_subscriber:
// an operator takes a registration or a subscription away from a session
// without killing it. Real router, autobahn clients (which announce
// registration and subscription revocation), and a raw client that does not.
import t from 'tap';
import { startRouter, connect, eventually, sleep, callError, type AutobahnSession } from './helpers.js';
import { Wire } from './wire.js';

t.test('remove_callee takes the registration; the callee is told; calls then find no callee', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const callee = await connect({ port: r.port });
  const admin = await connect({ port: r.port });
  const watcher = await connect({ port: r.port });
  t.teardown(() => { for (const c of [callee, admin, watcher]) c.connection.close(); });
  const metaEvents: unknown[][] = [];
  await watcher.session.subscribe('wamp.registration.on_unregister', (a: unknown[]) => metaEvents.push(a));
  await watcher.session.subscribe('wamp.registration.on_delete', (a: unknown[]) => metaEvents.push(['deleted', ...a]));

  const reg = await callee.session.register('com.claw.echo', (args: unknown[]) => args[0]);
  t.equal(await admin.session.call('com.claw.echo', ['hi']), 'hi');
  const regId = await admin.session.call('wamp.registration.lookup', ['com.claw.echo']) as number;
  const told = reg.on_unregister as Promise<string>;

  t.equal(await admin.session.call('wamp.registration.remove_callee', [regId, callee.session.id, 'stuck: replaced by a spare']), null, 'returns nothing');
  t.equal(await told, 'stuck: replaced by a spare', 'the callee got UNREGISTERED with the reason (autobahn resolves on_unregister with it)');
  t.equal(reg.active, false);
  t.equal((await callError(admin.session.call('com.claw.echo', ['x']))).error, 'wamp.error.no_such_procedure', 'calls find no callee now');
  await eventually(() => metaEvents.length >= 2);
  t.same(metaEvents, [[callee.session.id, regId], ['deleted', callee.session.id, regId]], 'meta events as for an UNREGISTER');
  t.ok(callee.session.isOpen, 'the callee session itself stays');
  await callee.session.register('com.claw.echo', (args: unknown[]) => args[0]);
  t.equal(await admin.session.call('com.claw.echo', ['back']), 'back', 'and can register again');
});

t.test('remove_subscriber takes the subscription; the subscriber is told and gets no more events', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const sub = await connect({ port: r.port });
  const admin = await connect({ port: r.port });
  t.teardown(() => { sub.connection.close(); admin.connection.close(); });
  const got: unknown[] = [];
  const s = await sub.session.subscribe('com.claw.pos', (a: unknown[]) => got.push(a[0]));
  await admin.session.publish('com.claw.pos', [1], {}, { acknowledge: true });
  await eventually(() => got.length === 1);
  const subId = await admin.session.call('wamp.subscription.lookup', ['com.claw.pos']) as number;

  await admin.session.call('wamp.subscription.remove_subscriber', [subId, sub.session.id]);
  t.equal(await (s.on_unsubscribe as Promise<string>), `removed by session ${admin.session.id}`, 'default reason names who removed it');
  await admin.session.publish('com.claw.pos', [2], {}, { acknowledge: true });
  await sleep(100);
  t.same(got, [1], 'no events after the removal');
  t.same(await admin.session.call('wamp.subscription.list_subscribers', [subId]).catch((e: { error: string }) => e.error), 'wamp.error.no_such_subscription', 'the subscription is gone with its last subscriber');
});

t.test('a client that did not announce revocation is removed silently (no unexpected message)', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const raw = Wire.connect({ url: r.url, codec: 'json-text' });
  const id = await raw.join('realm1', { roles: { subscriber: {}, callee: {} } });
  raw.send([32, 1, {}, 'com.claw.pos']);
  const subId = (await raw.next(33))[2] as number;
  raw.send([64, 2, {}, 'com.claw.echo']);
  const regId = (await raw.next(65))[2] as number;
  const admin = await connect({ port: r.port });
  t.teardown(() => { admin.connection.close(); raw.close(); });
  await admin.session.call('wamp.subscription.remove_subscriber', [subId, id], { reason: 'x' });
  await admin.session.call('wamp.registration.remove_callee', [regId, id]);
  await admin.session.publish('com.claw.pos', [1], {}, { acknowledge: true });
  await sleep(100);
  t.same(raw.messages, [], 'neither UNSUBSCRIBED/UNREGISTERED nor EVENT');
  t.equal(await admin.session.call('wamp.subscription.lookup', ['com.claw.pos']), null);
  t.equal(await admin.session.call('wamp.registration.lookup', ['com.claw.echo']), null);
});

t.test('mistakes get clear errors', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const a = await connect({ port: r.port });
  const b: { session: AutobahnSession; connection: { close(): void } } = await connect({ port: r.port });
  t.teardown(() => { a.connection.close(); b.connection.close(); });
  await a.session.register('com.claw.echo', () => 1);
  const regId = await b.session.call('wamp.registration.lookup', ['com.claw.echo']) as number;
  t.equal((await callError(b.session.call('wamp.registration.remove_callee', [12345, a.session.id]))).error, 'wamp.error.no_such_registration');
  const notCallee = await callError(b.session.call('wamp.registration.remove_callee', [regId, b.session.id]));
  t.equal(notCallee.error, 'wamp.error.no_such_session');
  t.match(notCallee.args[0], /is not a callee of registration/);
  t.equal((await callError(b.session.call('wamp.registration.remove_callee', [regId, 'x']))).error, 'wamp.error.invalid_argument');
  t.equal((await callError(b.session.call('wamp.registration.remove_callee', [regId, a.session.id, 42]))).error, 'wamp.error.invalid_argument', 'reason must be a string');
  t.equal((await callError(b.session.call('wamp.subscription.remove_subscriber', [999, a.session.id]))).error, 'wamp.error.no_such_subscription');
  t.equal(await b.session.call('com.claw.echo'), 1, 'nothing was removed by the failed calls');
});
