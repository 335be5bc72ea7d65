// REGISTER.Options.force_reregister (Crossbar's option, sent by the claw
// node when it reconnects while the router may still hold its half-dead old
// session): a session takes over a registration held by sessions of its own
// authid, the old callee is told (UNREGISTERED with request 0) when it
// announced registration_revocation, and another principal's registration
// is never taken.
import t from 'tap';
import { startRouter, testConfig, connect } from './helpers.js';
import { Wire, ROLES } from './wire.js';

const ALLOW_ALL = [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } }];

t.test('force_reregister', async (t) => {
  const r = await startRouter(testConfig({
    realms: [{ name: 'realm1', roles: [{ name: 'claw', permissions: ALLOW_ALL }, { name: 'anonymous', permissions: ALLOW_ALL }] }],
    transportExtras: {
      websocket: {
        ws: {
          type: 'websocket',
          auth: {
            ticket: { type: 'static', principals: { 'claw-1': { ticket: 's1', role: 'claw' }, 'claw-2': { ticket: 's2', role: 'claw' } } },
            anonymous: { type: 'static', role: 'anonymous' },
          },
        },
      },
    },
  }));
  t.teardown(() => r.stop());

  const ids = new WeakMap<Wire, number>();
  const login = async (authid: string, ticket: string, roles: Record<string, unknown> = ROLES): Promise<Wire> => {
    const w = await Wire.open({ kind: 'ws', port: r.port, serializer: 'msgpack' });
    w.send([1, 'realm1', { ...roles, authmethods: ['ticket'], authid }]);
    await w.next(4);
    w.send([5, ticket, {}]);
    const welcome = await w.next(2);
    ids.set(w, welcome[1] as number);
    t.same((welcome[2] as { roles: { dealer: { features: Record<string, boolean> } } }).roles.dealer.features.registration_revocation, true, 'WELCOME announces registration_revocation');
    return w;
  };

  const old = await login('claw-1', 's1');
  old.send([64, 1, {}, 'claw.start']);
  const oldReg = (await old.next(65))[2] as number;

  const caller = await Wire.open({ kind: 'ws', port: r.port });
  await caller.join();

  await t.test('without the option, or from another authid, the registration is not taken', async (t) => {
    const same = await login('claw-1', 's1');
    same.send([64, 1, {}, 'claw.start']);
    const e1 = await same.next(8);
    t.equal(e1[4], 'wamp.error.procedure_already_exists', 'no force_reregister: procedure_already_exists');
    same.close();
    const intruder = await login('claw-2', 's2');
    intruder.send([64, 1, { force_reregister: true }, 'claw.start']);
    const e2 = await intruder.next(8);
    t.equal(e2[4], 'wamp.error.procedure_already_exists', 'another authid cannot take it, even with force_reregister');
    intruder.close();
    const anon = await Wire.open({ kind: 'ws', port: r.port });
    await anon.join();
    anon.send([64, 1, { force_reregister: true }, 'claw.start']);
    t.equal((await anon.next(8))[4], 'wamp.error.procedure_already_exists', 'nor can an anonymous session');
    anon.close();
    caller.send([48, 1, {}, 'claw.start', []]);
    const inv = await old.next(68);
    old.send([70, inv[1], {}, ['old']]);
    t.same((await caller.next(50))[3], ['old'], 'calls still go to the original callee');
  });

  await t.test('the same authid takes over; the old callee is told', async (t) => {
    const fresh = await login('claw-1', 's1');
    fresh.send([64, 1, { force_reregister: true }, 'claw.start']);
    const registered = await fresh.next(65);
    t.equal(registered[1], 1, 'REGISTERED');
    const revoked = await old.next(67);
    t.same(revoked.slice(0, 2), [67, 0], 'the old callee gets UNREGISTERED with request 0');
    t.equal((revoked[2] as { registration: number }).registration, oldReg, 'naming its old registration');
    t.match((revoked[2] as { reason: string }).reason, /force_reregister/);

    caller.send([48, 2, {}, 'claw.start', []]);
    const inv = await fresh.next(68);
    fresh.send([70, inv[1], {}, ['fresh']]);
    t.same((await caller.next(50))[3], ['fresh'], 'calls go to the new callee');
    t.notOk(old.messages.some((m) => m[0] === 68), 'the old callee gets no invocations');

    old.send([66, 2, oldReg]);
    t.equal((await old.next(8))[4], 'wamp.error.no_such_registration', 'the old registration is gone');
    caller.send([48, 3, {}, 'wamp.registration.list_callees', [registered[2]]]);
    t.same(((await caller.next(50))[3] as unknown[])[0], [ids.get(fresh)], 'only the new callee is listed');
    fresh.close();
  });

  await t.test('autobahn-js as the old callee: its registration is marked inactive', async (t) => {
    const a = await connect({ port: r.port, extra: { authmethods: ['ticket'], authid: 'claw-2', onchallenge: () => 's2' } });
    const reg = await a.session.register('claw.stop', () => 'a');
    const b = await login('claw-2', 's2', { roles: { callee: {} } });
    b.send([64, 1, { force_reregister: true }, 'claw.stop']);
    await b.next(65);
    const deadline = Date.now() + 5000;
    while (reg.active && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    t.equal(reg.active, false, 'autobahn saw the revocation');
    t.notOk(b.messages.some((m) => m[0] === 67), 'a callee without registration_revocation gets no UNREGISTERED');
    a.connection.close();
    b.close();
  });
  old.close();
  caller.close();
});
