// The authentication handshake in raw frames: method negotiation in HELLO's
// order, AUTHENTICATE out of order, the auth timeout, and the default
// anonymous admission of a transport without an `auth` section.
import t from 'tap';
import { Wire } from './wire.js';
import { allowAll, authConfig, closeAll, login, noDisclose, refused, startAuthRouter } from './auth-helpers.js';

const ROLES = { roles: { caller: {}, callee: {}, publisher: {}, subscriber: {} } };
const HELLO = 1, WELCOME = 2, ABORT = 3, CHALLENGE = 4, AUTHENTICATE = 5, GOODBYE = 6, PUBLISH = 16;

async function raw(url: string): Promise<Wire> {
  const w = Wire.connect({ url: url, codec: 'json-text' });
  await w.opened;
  return w;
}

t.test('negotiation and out-of-order AUTHENTICATE', async (t) => {
  const r = await startAuthRouter(authConfig({
    auth: {
      ticket: { type: 'static', principals: { alice: { ticket: 't-alice', role: 'user' } } },
      anonymous: { type: 'static', role: 'anonymous' },
    },
    options: { auth_timeout: 600 },
  }));
  t.teardown(() => r.stop());

  await t.test("HELLO's order decides: ticket first gets a CHALLENGE, anonymous first is welcomed", async (t) => {
    const a = await raw(r.url);
    t.teardown(() => a.end());
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['wampcra', 'ticket', 'anonymous'], authid: 'alice' }]);
    const ch = await a.next();
    t.same(ch, [CHALLENGE, 'ticket', {}], 'wampcra is not offered here; ticket is the first that is');
    a.send([AUTHENTICATE, 't-alice', {}]);
    const w = await a.next();
    t.equal(w[0], WELCOME);
    t.match(w[2], { authid: 'alice', authrole: 'user', authmethod: 'ticket', authprovider: 'static' });

    const b = await raw(r.url);
    t.teardown(() => b.end());
    b.send([HELLO, 'realm1', { ...ROLES, authmethods: ['anonymous', 'ticket'], authid: 'alice' }]);
    const wb = await b.next();
    t.equal(wb[0], WELCOME);
    t.equal((wb[2] as Record<string, unknown>).authmethod, 'anonymous');
    t.not((wb[2] as Record<string, unknown>).authid, 'alice', 'anonymous never takes the claimed authid');
  });

  await t.test('a failed method does not fall back to the next', async (t) => {
    const a = await raw(r.url);
    t.teardown(() => a.end());
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket', 'anonymous'], authid: 'alice' }]);
    await a.next(CHALLENGE);
    a.send([AUTHENTICATE, 'wrong', {}]);
    const ab = await a.next();
    t.equal(ab[0], ABORT);
    t.equal(ab[2], 'wamp.error.authentication_failed');
    await a.closed;
  });

  await t.test('no acceptable method: no_auth_method', async (t) => {
    const a = await refused(r.port, { authmethods: ['cryptosign', 'wampcra'] });
    t.equal(a.reason, 'wamp.error.no_auth_method');
  });

  await t.test('AUTHENTICATE before HELLO', async (t) => {
    const a = await raw(r.url);
    a.send([AUTHENTICATE, 'sig', {}]);
    const m = await a.next();
    t.equal(m[0], ABORT);
    t.equal(m[2], 'wamp.error.protocol_violation');
    await a.closed;
  });

  await t.test('AUTHENTICATE after an anonymous WELCOME', async (t) => {
    const a = await raw(r.url);
    await a.join('realm1', ROLES);
    a.send([AUTHENTICATE, 'sig', {}]);
    const m = await a.next(ABORT);
    t.equal(m[2], 'wamp.error.protocol_violation');
    t.match((m[1] as Record<string, string>).message, /AUTHENTICATE/);
    await a.closed;
  });

  await t.test('a second AUTHENTICATE after a successful one', async (t) => {
    const a = await raw(r.url);
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket'], authid: 'alice' }]);
    await a.next(CHALLENGE);
    a.send([AUTHENTICATE, 't-alice', {}]);
    a.send([AUTHENTICATE, 't-alice', {}]);
    await a.next(WELCOME);
    const m = await a.next(ABORT);
    t.equal(m[2], 'wamp.error.protocol_violation');
    await a.closed;
  });

  await t.test('another message while a CHALLENGE is outstanding', async (t) => {
    const a = await raw(r.url);
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket'], authid: 'alice' }]);
    await a.next(CHALLENGE);
    a.send([PUBLISH, 1, {}, 'com.sneaky']);
    const m = await a.next(ABORT);
    t.equal(m[2], 'wamp.error.protocol_violation');
    await a.closed;
  });

  await t.test('a second HELLO while authenticating', async (t) => {
    const a = await raw(r.url);
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket'], authid: 'alice' }]);
    await a.next(CHALLENGE);
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['anonymous'] }]);
    const m = await a.next(ABORT);
    t.equal(m[2], 'wamp.error.protocol_violation');
    await a.closed;
  });

  await t.test('the client gives up with ABORT: the router closes quietly', async (t) => {
    const a = await raw(r.url);
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket'], authid: 'alice' }]);
    await a.next(CHALLENGE);
    a.send([ABORT, { message: 'cannot' }, 'wamp.error.cannot_authenticate']);
    await a.closed;
    t.notOk(a.messages.some((m) => m[0] === ABORT), 'no ABORT back');
  });

  await t.test('a client that never answers the CHALLENGE is closed after auth_timeout', async (t) => {
    const a = await raw(r.url);
    const t0 = Date.now();
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket'], authid: 'alice' }]);
    await a.next(CHALLENGE);
    const m = await a.next(ABORT, 10_000);
    t.equal(m[2], 'wamp.error.authentication_failed');
    t.equal((m[1] as Record<string, string>).message, 'authentication timed out');
    await a.closed;
    t.ok(Date.now() - t0 >= 500, 'not before the timeout');
    t.ok(r.logs.some((l) => l.msg === 'authentication failed' && String(l.detail).includes('600 ms')), 'logged');
  });

  await t.test('HELLO.Details.authid and authextra must have the right types', async (t) => {
    const a = await raw(r.url);
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket'], authid: 42 }]);
    const m = await a.next(ABORT);
    t.equal(m[2], 'wamp.error.protocol_violation');
    const b = await raw(r.url);
    b.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket'], authextra: 'x' }]);
    t.equal((await b.next(ABORT))[2], 'wamp.error.protocol_violation');
  });

  await t.test('a router shutdown while a session authenticates closes it', async (t) => {
    const a = await raw(r.url);
    a.send([HELLO, 'realm1', { ...ROLES, authmethods: ['ticket'], authid: 'alice' }]);
    await a.next(CHALLENGE);
    t.equal(r.router.sessionCount >= 1, true);
    await r.stop();
    await a.closed;
    t.notOk(a.messages.some((m) => m[0] === GOODBYE), 'no GOODBYE to a session that never joined');
  });
});

t.test('the default: no auth section admits anonymous as role anonymous; an auth section without anonymous does not', async (t) => {
  const r = await startAuthRouter({
    version: 2,
    workers: [{
      type: 'router',
      realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: noDisclose }] }, { name: 'user', permissions: [] }] }],
      transports: [{
        type: 'universal', endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' },
        websocket: {
          ws: { type: 'websocket' },
          locked: { type: 'websocket', auth: { ticket: { type: 'static', principals: { bob: { ticket: 'b', role: 'user' } } } } },
        },
      }],
    }],
  });
  t.teardown(() => r.stop());
  const a = await login(r.port, {});
  t.teardown(() => closeAll(a));
  t.equal(a.details.authrole, 'anonymous');
  t.equal(a.details.authmethod, 'anonymous');
  const b = await refused(r.port, {}, { url: `ws://127.0.0.1:${r.port}/locked` });
  t.equal(b.reason, 'wamp.error.no_auth_method', 'anonymous is not offered where the auth section leaves it out');
  const c = await login(r.port, { authmethods: ['ticket'], authid: 'bob', onchallenge: () => 'b' }, { url: `ws://127.0.0.1:${r.port}/locked` });
  t.teardown(() => closeAll(c));
  t.equal(c.details.authid, 'bob');
});
