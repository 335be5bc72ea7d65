// WAMP-CRA against a real router with autobahn-js's own auth_cra client code
// (sign, derive_key): static users salted and unsalted, a dynamic
// authenticator, and the challenge's contents.
import t from 'tap';
import { deriveCraKey, WampError } from '../src/index.js';
import { ab, authConfig, closeAll, login, refused, startAuthRouter } from './auth-helpers.js';

const cra = ab.auth_cra as { sign(key: string, challenge: string): string; derive_key(secret: string, salt: string, iterations?: number, keylen?: number): string };

/** autobahn's documented WAMP-CRA onchallenge, for a password (salted or not). */
function craLogin(password: string, seen?: Record<string, unknown>[]) {
  return (_s: unknown, method: string, extra: Record<string, unknown>) => {
    if (method !== 'wampcra') throw new Error(`unexpected ${method}`);
    seen?.push(extra);
    const key = typeof extra.salt === 'string'
      ? cra.derive_key(password, extra.salt, extra.iterations as number, extra.keylen as number)
      : password;
    return cra.sign(key, extra.challenge as string);
  };
}

t.test("our derived key is autobahn's derive_key", async (t) => {
  t.equal(deriveCraKey('secret123', 'salt123', 100, 16), cra.derive_key('secret123', 'salt123', 100, 16));
  t.equal(deriveCraKey('pässwörd', 'sälz'), cra.derive_key('pässwörd', 'sälz'), 'defaults 1000 / 32, UTF-8');
});

t.test('static users, salted and unsalted', async (t) => {
  const r = await startAuthRouter(authConfig({
    auth: {
      wampcra: {
        type: 'static',
        users: {
          joe: { secret: 'secret2', role: 'user' },
          peter: { secret: deriveCraKey('secret1', 'salt123', 100, 16), role: 'admin', salt: 'salt123', iterations: 100, keylen: 16 },
          backend: { secret: { env: 'BACKEND_KEY' }, role: 'admin', salt: 'pepper', extra: { hello: 'backend' } },
        },
      },
    },
  }), { env: { BACKEND_KEY: deriveCraKey('backend-password', 'pepper') } });
  t.teardown(() => r.stop());

  await t.test('unsalted: the challenge as the spec and Crossbar describe it', async (t) => {
    const seen: Record<string, unknown>[] = [];
    const a = await login(r.port, { authmethods: ['wampcra'], authid: 'joe', onchallenge: craLogin('secret2', seen) });
    t.teardown(() => closeAll(a));
    t.equal(a.details.authid, 'joe');
    t.equal(a.details.authrole, 'user');
    t.equal(a.details.authmethod, 'wampcra');
    t.equal(a.details.authprovider, 'static');
    t.equal(seen.length, 1);
    t.notOk('salt' in seen[0]!, 'no salt for an unsalted user');
    const ch = JSON.parse(seen[0]!.challenge as string) as Record<string, unknown>;
    t.equal(ch.authid, 'joe');
    t.equal(ch.authrole, 'user');
    t.equal(ch.authmethod, 'wampcra');
    t.equal(ch.authprovider, 'static');
    t.equal(ch.session, a.session.id, 'challenge.session is the session id WELCOME gave');
    t.type(ch.nonce, 'string');
    t.ok((ch.nonce as string).length >= 32, 'a long nonce');
    t.ok(Math.abs(Date.parse(ch.timestamp as string) - Date.now()) < 60_000, 'timestamp: ISO 8601, now');
  });

  await t.test('salted: CHALLENGE.Extra carries salt, iterations, keylen; derive_key logs in', async (t) => {
    const seen: Record<string, unknown>[] = [];
    const a = await login(r.port, { authmethods: ['wampcra'], authid: 'peter', onchallenge: craLogin('secret1', seen) });
    const b = await login(r.port, { authmethods: ['wampcra'], authid: 'backend', onchallenge: craLogin('backend-password') }, { rawsocket: true });
    t.teardown(() => closeAll(a, b));
    t.equal(a.details.authrole, 'admin');
    t.same({ salt: seen[0]!.salt, iterations: seen[0]!.iterations, keylen: seen[0]!.keylen }, { salt: 'salt123', iterations: 100, keylen: 16 });
    t.equal(b.details.authid, 'backend', 'secret from {"env": ...}; default iterations and keylen');
    t.same(b.details.authextra, { hello: 'backend' });
  });

  await t.test('two logins get different challenges', async (t) => {
    const seen: Record<string, unknown>[] = [];
    const a = await login(r.port, { authmethods: ['wampcra'], authid: 'joe', onchallenge: craLogin('secret2', seen) });
    const b = await login(r.port, { authmethods: ['wampcra'], authid: 'joe', onchallenge: craLogin('secret2', seen) });
    t.teardown(() => closeAll(a, b));
    t.not(seen[0]!.challenge, seen[1]!.challenge);
  });

  await t.test('wrong secret, unknown authid, no authid: refused alike', async (t) => {
    const wrongPlain = await refused(r.port, { authmethods: ['wampcra'], authid: 'joe', onchallenge: craLogin('secret1') });
    const wrongSalted = await refused(r.port, { authmethods: ['wampcra'], authid: 'peter', onchallenge: craLogin('secret2') });
    const seen: Record<string, unknown>[] = [];
    const unknown = await refused(r.port, { authmethods: ['wampcra'], authid: 'mallory', onchallenge: craLogin('secret2', seen) });
    const saltedRaw = await refused(r.port, { authmethods: ['wampcra'], authid: 'peter', onchallenge: craLogin(deriveCraKey('secret1', 'salt123', 100, 16).slice(1)) });
    for (const [name, a] of [['wrong secret', wrongPlain], ['wrong salted secret', wrongSalted], ['unknown authid', unknown], ['wrong key', saltedRaw]] as const) {
      t.same(a, { reason: 'wamp.error.authentication_failed', message: 'WAMP-CRA signature is invalid' }, name);
    }
    t.equal(seen.length, 1, 'an unknown authid still gets a challenge');
    t.type(seen[0]!.salt, 'string', 'salted like the real users');
    const again: Record<string, unknown>[] = [];
    await refused(r.port, { authmethods: ['wampcra'], authid: 'mallory', onchallenge: craLogin('x', again) });
    t.equal(again[0]!.salt, seen[0]!.salt, 'and the same salt each time, as a real user has');
    const none = await refused(r.port, { authmethods: ['wampcra'], onchallenge: craLogin('secret2') });
    t.equal(none.reason, 'wamp.error.authentication_failed', 'no authid');
    t.ok(r.logs.some((l) => l.msg === 'authentication failed' && String(l.detail).includes('mallory')), 'logged');
    t.notOk(JSON.stringify(r.logs).includes('secret2'), 'no secret in the log');
  });
});

t.test('dynamic WAMP-CRA authenticator returns the secret, salted or not', async (t) => {
  const r = await startAuthRouter(authConfig({ auth: { wampcra: { type: 'dynamic', authenticator: 'com.example.cra' } } }));
  t.teardown(() => r.stop());
  const svc = await r.router.localSession('realm1');
  t.teardown(() => svc.close());
  const asked: unknown[][] = [];
  await svc.register('com.example.cra', (args) => {
    asked.push(args);
    const authid = args[1] as string;
    if (authid === 'plain') return { secret: 'pw-plain', role: 'user' };
    if (authid === 'salty') return { secret: deriveCraKey('pw-salty', 'NaCl', 500, 32), role: 'admin', salt: 'NaCl', iterations: 500, keylen: 32, extra: { x: 1 } };
    if (authid === 'nosecret') return { role: 'user' };
    throw new WampError('wamp.error.not_authorized', ['go away']);
  });

  const a = await login(r.port, { authmethods: ['wampcra'], authid: 'plain', onchallenge: craLogin('pw-plain') });
  const b = await login(r.port, { authmethods: ['wampcra'], authid: 'salty', onchallenge: craLogin('pw-salty') });
  t.teardown(() => closeAll(a, b));
  t.equal(a.details.authrole, 'user');
  t.equal(a.details.authprovider, 'dynamic');
  t.equal(b.details.authrole, 'admin');
  t.same(b.details.authextra, { x: 1 });
  const [realm, authid, details] = asked[0] as [string, string, Record<string, unknown>];
  t.equal(realm, 'realm1');
  t.equal(authid, 'plain');
  t.equal(details.authmethod, 'wampcra');

  t.same(await refused(r.port, { authmethods: ['wampcra'], authid: 'salty', onchallenge: craLogin('pw-plain') }),
    { reason: 'wamp.error.authentication_failed', message: 'WAMP-CRA signature is invalid' }, 'wrong password');
  t.same(await refused(r.port, { authmethods: ['wampcra'], authid: 'someone', onchallenge: craLogin('x') }),
    { reason: 'wamp.error.not_authorized', message: 'go away' }, 'the authenticator refused');
  t.equal((await refused(r.port, { authmethods: ['wampcra'], authid: 'nosecret', onchallenge: craLogin('x') })).reason,
    'wamp.error.authentication_failed', 'a principal without a secret');
});
