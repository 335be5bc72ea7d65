// WAMP-Ticket against a real router, logging in with autobahn-js (ticket via
// onchallenge): static principals, signed expiring tickets, a dynamic
// authenticator, and every wrong credential refused with the right ABORT.
import t from 'tap';
import { signTicket, WampError } from '../src/index.js';
import { ab, authConfig, closeAll, login, refused, startAuthRouter, type AuthRouter } from './auth-helpers.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const onticket = (ticket: string) => (_s: unknown, method: string) => {
  if (method !== 'ticket') throw new Error(`unexpected ${method}`);
  return ticket;
};

t.test('static and signed tickets', async (t) => {
  const r = await startAuthRouter(authConfig({
    auth: {
      ticket: {
        type: 'static',
        principals: {
          alice: { ticket: 'alice-secret-ticket', role: 'user' },
          root: { ticket: { env: 'ROOT_TICKET' }, role: 'admin', extra: { motd: 'hello root' } },
          elsewhere: { ticket: 'x-ticket', role: 'user', realm: 'other' },
          // Crossbar's way to say the same (issue 23): the placeholder itself must never log in.
          crossbar: { ticket: '${CROSSBAR_TICKET}', role: 'user' },
        },
        signed: { secret: { env: 'SIGNING_SECRET' }, roles: ['user'] },
      },
    },
    extraRealms: [{ name: 'other', roles: [{ name: 'user', permissions: [] }] }],
  }), { env: { ROOT_TICKET: 'root-ticket-from-env', SIGNING_SECRET: SECRET, CROSSBAR_TICKET: 'crossbar-ticket-from-env' } });
  t.teardown(() => r.stop());

  await t.test('a static principal logs in; WELCOME carries the identity', async (t) => {
    const a = await login(r.port, { authmethods: ['ticket'], authid: 'alice', onchallenge: onticket('alice-secret-ticket') });
    t.teardown(() => closeAll(a));
    t.equal(a.details.authid, 'alice');
    t.equal(a.details.authrole, 'user');
    t.equal(a.details.authmethod, 'ticket');
    t.equal(a.details.authprovider, 'static');
    t.same(a.details.authextra, {});
    t.equal(await a.session.call('wamp.session.count'), 1, 'the session works');
  });

  await t.test('a ticket given as {"env": ...} and a principal\'s extra in WELCOME', async (t) => {
    const a = await login(r.port, { authmethods: ['ticket'], authid: 'root', onchallenge: onticket('root-ticket-from-env') });
    t.teardown(() => closeAll(a));
    t.equal(a.details.authrole, 'admin');
    t.same(a.details.authextra, { motd: 'hello root' });
  });

  await t.test('over RawSocket and msgpack too', async (t) => {
    const raw = await login(r.port, { authmethods: ['ticket'], authid: 'alice', onchallenge: onticket('alice-secret-ticket') }, { rawsocket: true });
    const mp = await login(r.port, { authmethods: ['ticket'], authid: 'alice', onchallenge: onticket('alice-secret-ticket') }, { serializer: 'msgpack' });
    t.teardown(() => closeAll(raw, mp));
    t.equal(raw.details.authid, 'alice');
    t.equal(mp.details.authid, 'alice');
  });

  await t.test('a ticket written as "${VAR}" (Crossbar) is the variable\'s value, never the placeholder', async (t) => {
    const a = await login(r.port, { authmethods: ['ticket'], authid: 'crossbar', onchallenge: onticket('crossbar-ticket-from-env') });
    t.teardown(() => closeAll(a));
    t.equal(a.details.authid, 'crossbar');
    const placeholder = await refused(r.port, { authmethods: ['ticket'], authid: 'crossbar', onchallenge: onticket('${CROSSBAR_TICKET}') });
    t.equal(placeholder.reason, 'wamp.error.authentication_failed', 'the placeholder string is refused');
  });

  await t.test('wrong ticket and unknown authid are refused alike', async (t) => {
    const wrong = await refused(r.port, { authmethods: ['ticket'], authid: 'alice', onchallenge: onticket('guess') });
    const unknown = await refused(r.port, { authmethods: ['ticket'], authid: 'mallory', onchallenge: onticket('guess') });
    const none = await refused(r.port, { authmethods: ['ticket'], onchallenge: onticket('alice-secret-ticket') });
    const proto = await refused(r.port, { authmethods: ['ticket'], authid: '__proto__', onchallenge: onticket('guess') });
    for (const [name, a] of [['wrong ticket', wrong], ['unknown authid', unknown], ['no authid', none], ['__proto__', proto]] as const) {
      t.equal(a.reason, 'wamp.error.authentication_failed', `${name}: authentication_failed`);
      t.equal(a.message, 'invalid ticket', `${name}: the same message, nothing about whether the authid exists`);
    }
    const failures = r.logs.filter((l) => l.msg === 'authentication failed');
    t.ok(failures.length >= 4, 'each failure is logged');
    t.ok(failures.some((l) => String(l.detail).includes('unknown authid "mallory"')), 'the log says why');
    t.notOk(JSON.stringify(r.logs).includes('alice-secret-ticket'), 'no ticket in the log');
    t.notOk(JSON.stringify(r.logs).includes('guess'), 'not even a wrong one');
  });

  await t.test('a principal restricted to another realm is refused after its ticket checks out', async (t) => {
    const a = await refused(r.port, { authmethods: ['ticket'], authid: 'elsewhere', onchallenge: onticket('x-ticket') });
    t.equal(a.reason, 'wamp.error.not_authorized');
  });

  await t.test('a signed ticket: the claims are the identity', async (t) => {
    const ticket = signTicket({ authid: 'guest-42', authrole: 'user', expiresAt: Date.now() + 60_000 }, SECRET);
    const a = await login(r.port, { authmethods: ['ticket'], onchallenge: onticket(ticket) });
    const b = await login(r.port, { authmethods: ['ticket'], authid: 'guest-42', onchallenge: onticket(ticket) });
    t.teardown(() => closeAll(a, b));
    t.equal(a.details.authid, 'guest-42', 'no HELLO.authid: taken from the ticket');
    t.equal(a.details.authrole, 'user');
    t.equal(a.details.authprovider, 'signed');
    t.equal(typeof (a.details.authextra as Record<string, unknown>).expires_at, 'number', 'the expiry is in authextra');
    t.equal(b.details.authid, 'guest-42', 'a matching HELLO.authid is fine');
  });

  await t.test('signed tickets: expired, forged, tampered, wrong authid, forbidden role', async (t) => {
    const expired = signTicket({ authid: 'guest-1', authrole: 'user', expiresAt: Date.now() - 1 }, SECRET);
    const forged = signTicket({ authid: 'guest-1', authrole: 'user', expiresAt: Date.now() + 60_000 }, 'not-the-secret');
    const good = signTicket({ authid: 'guest-1', authrole: 'user', expiresAt: Date.now() + 60_000 }, SECRET);
    const [v, p, m] = good.split('.');
    const body = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const tampered = [v, Buffer.from(JSON.stringify({ ...body, authrole: 'admin' })).toString('base64url'), m].join('.');
    const admin = signTicket({ authid: 'guest-1', authrole: 'admin', expiresAt: Date.now() + 60_000 }, SECRET);

    const e = await refused(r.port, { authmethods: ['ticket'], onchallenge: onticket(expired) });
    t.same(e, { reason: 'wamp.error.authentication_failed', message: 'ticket expired' }, 'expired');
    const f = await refused(r.port, { authmethods: ['ticket'], onchallenge: onticket(forged) });
    t.same(f, { reason: 'wamp.error.authentication_failed', message: 'invalid ticket' }, 'signed with another secret');
    const tm = await refused(r.port, { authmethods: ['ticket'], onchallenge: onticket(tampered) });
    t.same(tm, { reason: 'wamp.error.authentication_failed', message: 'invalid ticket' }, 'claims edited after signing');
    const w = await refused(r.port, { authmethods: ['ticket'], authid: 'alice', onchallenge: onticket(good) });
    t.equal(w.reason, 'wamp.error.authentication_failed', 'HELLO.authid differs from the ticket');
    t.match(w.message, /not issued for this authid/);
    const ad = await refused(r.port, { authmethods: ['ticket'], onchallenge: onticket(admin) });
    t.equal(ad.reason, 'wamp.error.not_authorized', 'a validly signed ticket for a role signed tickets may not claim');
  });
});

t.test('dynamic ticket authenticator (Crossbar convention)', async (t) => {
  const r = await startAuthRouter(authConfig({
    auth: { ticket: { type: 'dynamic', authenticator: 'com.example.authenticate', signed: { secret: SECRET } } },
    roles: [
      { name: 'authenticator', permissions: [{ uri: 'com.example.authenticate', match: 'exact', allow: { register: true } }] },
      { name: 'user', permissions: [{ uri: '', match: 'prefix', allow: { call: true } }] },
    ],
  }));
  t.teardown(() => r.stop());

  // Before the authenticator is registered, logins fail without hanging.
  const early = await refused(r.port, { authmethods: ['ticket'], authid: 'joe', onchallenge: onticket('secret123') });
  t.same(early, { reason: 'wamp.error.authentication_failed', message: 'authentication service unavailable' }, 'no authenticator registered yet');

  const calls: unknown[][] = [];
  const svc = await r.router.localSession('realm1', { authrole: 'authenticator', authid: 'auth-svc' });
  t.teardown(() => svc.close());
  await svc.register('com.example.authenticate', (args) => {
    calls.push(args);
    const [, authid, details] = args as [string, string, { ticket: string }];
    if (details.ticket === 'secret123') return 'user';
    if (details.ticket === 'renamer') return { role: 'user', authid: `renamed-${authid}`, extra: { tier: 'gold' } };
    if (details.ticket === 'nonsense') return 42;
    if (details.ticket === 'ghost-role') return 'ghost';
    throw new WampError('com.example.invalid_ticket', ['ticket revoked']);
  });

  await t.test('returns a role', async (t) => {
    const a = await login(r.port, { authmethods: ['ticket'], authid: 'joe', onchallenge: onticket('secret123') });
    t.teardown(() => closeAll(a));
    t.equal(a.details.authid, 'joe');
    t.equal(a.details.authrole, 'user');
    t.equal(a.details.authprovider, 'dynamic');
    const [realm, authid, details] = calls.at(-1) as [string, string, Record<string, unknown>];
    t.equal(realm, 'realm1', 'called with (realm, authid, details)');
    t.equal(authid, 'joe');
    t.equal(details.ticket, 'secret123', 'details.ticket');
    t.equal(details.authmethod, 'ticket');
    t.type(details.session, 'number', 'details.session: the id WELCOME carries');
    t.equal((details.transport as Record<string, unknown>).type, 'websocket', 'details.transport');
  });

  await t.test('returns {role, authid, extra}', async (t) => {
    const a = await login(r.port, { authmethods: ['ticket'], authid: 'joe', onchallenge: onticket('renamer') });
    t.teardown(() => closeAll(a));
    t.equal(a.details.authid, 'renamed-joe', 'authid from the authenticator');
    t.same(a.details.authextra, { tier: 'gold' });
  });

  await t.test('refusals', async (t) => {
    const err = await refused(r.port, { authmethods: ['ticket'], authid: 'joe', onchallenge: onticket('wrong') });
    t.same(err, { reason: 'wamp.error.not_authorized', message: 'ticket revoked' }, 'the authenticator raised: not_authorized with its message');
    const bad = await refused(r.port, { authmethods: ['ticket'], authid: 'joe', onchallenge: onticket('nonsense') });
    t.equal(bad.reason, 'wamp.error.authentication_failed', 'an answer that is neither role nor principal');
    const ghost = await refused(r.port, { authmethods: ['ticket'], authid: 'joe', onchallenge: onticket('ghost-role') });
    t.equal(ghost.reason, 'wamp.error.no_such_role', 'a role the realm lacks');
  });

  await t.test('signed tickets beside a dynamic authenticator skip it', async (t) => {
    const before = calls.length;
    const ticket = signTicket({ authid: 'guest-7', authrole: 'user', expiresAt: Date.now() + 60_000 }, SECRET);
    const a = await login(r.port, { authmethods: ['ticket'], onchallenge: onticket(ticket) });
    t.teardown(() => closeAll(a));
    t.equal(a.details.authid, 'guest-7');
    t.equal(calls.length, before, 'the authenticator was not asked');
  });
});

t.test("an authenticator's own error URI and message reach the client", async (t) => {
  const r = await startAuthRouter(authConfig({
    auth: { ticket: { type: 'dynamic', authenticator: 'com.example.authenticate' } },
  }));
  t.teardown(() => r.stop());
  const svc = await r.router.localSession('realm1');
  t.teardown(() => svc.close());
  await svc.register('com.example.authenticate', (args) => {
    const details = args[2] as { ticket: string };
    if (details.ticket === 'failed') throw new WampError('wamp.error.authentication_failed', ['ticket revoked']);
    throw new WampError('com.example.no_such_user', ['no such user']);
  });
  const a = await refused(r.port, { authmethods: ['ticket'], authid: 'x', onchallenge: onticket('failed') });
  t.same(a, { reason: 'wamp.error.authentication_failed', message: 'ticket revoked' });
  const b = await refused(r.port, { authmethods: ['ticket'], authid: 'x', onchallenge: onticket('other') });
  t.same(b, { reason: 'wamp.error.not_authorized', message: 'no such user' }, 'other error URIs become not_authorized');
});

t.test('an authenticator that never answers: the login fails at the auth timeout', async (t) => {
  let r: AuthRouter | undefined = await startAuthRouter(authConfig({
    auth: { ticket: { type: 'dynamic', authenticator: 'com.example.slow' } },
    options: { auth_timeout: 400 },
  }));
  t.teardown(() => r?.stop());
  const svc = await r.router.localSession('realm1');
  t.teardown(() => svc.close());
  await svc.register('com.example.slow', () => new Promise(() => { /* never */ }));
  const a = await refused(r.port, { authmethods: ['ticket'], authid: 'x', onchallenge: onticket('t') });
  t.equal(a.reason, 'wamp.error.authentication_failed');
  t.ok(a.message === 'authentication timed out' || a.message === 'authentication service unavailable', `message: ${a.message}`);
  await r.stop();
  r = undefined;
});

t.test('an authenticator registered by a remote (autobahn) session on another path', async (t) => {
  const r = await startAuthRouter({
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
        roles: [
          { name: 'authenticator', permissions: [{ uri: 'com.example.authenticate', match: 'exact', allow: { register: true } }] },
          { name: 'user', permissions: [{ uri: 'com.', match: 'prefix', allow: { call: true } }] },
        ],
      }],
      transports: [{
        type: 'universal', endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' },
        websocket: {
          ws: { type: 'websocket', auth: { ticket: { type: 'dynamic', authenticator: 'com.example.authenticate' } } },
          internal: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'authenticator' } } },
        },
      }],
    }],
  });
  t.teardown(() => r.stop());
  const svc = await login(r.port, {}, { url: `ws://127.0.0.1:${r.port}/internal`, serializer: 'msgpack' });
  t.teardown(() => closeAll(svc));
  await svc.session.register('com.example.authenticate', (args: unknown[]) => {
    const [, authid, details] = args as [string, string, { ticket: string }];
    if (details.ticket === `pw-${authid}`) return { role: 'user' };
    throw new (ab.Error)('wamp.error.not_authorized', ['wrong password']);
  });
  const a = await login(r.port, { authmethods: ['ticket'], authid: 'zoe', onchallenge: onticket('pw-zoe') });
  t.teardown(() => closeAll(a));
  t.equal(a.details.authid, 'zoe');
  t.equal(a.details.authrole, 'user');
  t.same(await refused(r.port, { authmethods: ['ticket'], authid: 'zoe', onchallenge: onticket('pw-bob') }), { reason: 'wamp.error.not_authorized', message: 'wrong password' });
});
