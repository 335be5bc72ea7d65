// WAMP-Cryptosign (Ed25519) against a real router with autobahn-js's own
// auth_cryptosign client code: create_connection, sign_challenge.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { WampError } from '../src/index.js';
import { verifySignature } from '../src/auth/cryptosign-auth.js';
import { ab, authConfig, closeAll, login, openConnection, refused, startAuthRouter } from './auth-helpers.js';

const cs = ab.auth_cryptosign as {
  create_connection(cfg: Record<string, unknown>): import('./helpers.js').AutobahnConnection;
  sign_challenge(pkey: nacl.SignKeyPair, extra: Record<string, unknown>): string;
  public_key(pkey: nacl.SignKeyPair): string;
};

const keyPair = (): nacl.SignKeyPair => nacl.sign.keyPair.fromSeed(new Uint8Array(randomBytes(32)));
const hex = (k: nacl.SignKeyPair): string => Buffer.from(k.publicKey).toString('hex');

const claw1 = keyPair();
const claw1b = keyPair(); // a second authorized key for the same machine (rotation)
const claw2 = keyPair();
const stranger = keyPair();
const shared = keyPair();

/** autobahn's cryptosign login with a given key, by hand (to vary what is announced). */
function csExtra(pkey: nacl.SignKeyPair, opts: { authid?: string; announce?: nacl.SignKeyPair; channelBinding?: string } = {}): Record<string, unknown> {
  return {
    authmethods: ['cryptosign'],
    ...(opts.authid ? { authid: opts.authid } : {}),
    authextra: { pubkey: hex(opts.announce ?? pkey), ...(opts.channelBinding ? { channel_binding: opts.channelBinding } : {}) },
    onchallenge: (_s: unknown, method: string, extra: Record<string, unknown>) => {
      if (method !== 'cryptosign') throw new Error(`unexpected ${method}`);
      return cs.sign_challenge(pkey, extra);
    },
  };
}

t.test('signature check (unit)', async (t) => {
  const k = keyPair();
  const msg = new Uint8Array(randomBytes(32));
  const sig = Buffer.from(nacl.sign.detached(msg, k.secretKey)).toString('hex');
  t.ok(verifySignature(sig, msg, k.publicKey), '64-byte signature');
  t.ok(verifySignature(sig + Buffer.from(msg).toString('hex'), msg, k.publicKey), 'signature + message (autobahn)');
  t.notOk(verifySignature(sig + '00'.repeat(32), msg, k.publicKey), 'appended message not the challenge');
  t.notOk(verifySignature(sig, msg, keyPair().publicKey), 'another key');
  t.notOk(verifySignature(sig.slice(2), msg, k.publicKey), 'short');
  t.notOk(verifySignature('zz' + sig.slice(2), msg, k.publicKey), 'not hex');
  t.notOk(verifySignature('', msg, k.publicKey), 'empty');
});

t.test('static principals', async (t) => {
  const r = await startAuthRouter(authConfig({
    auth: {
      cryptosign: {
        type: 'static',
        principals: {
          'claw-1': { realm: 'realm1', role: 'user', authorized_keys: [hex(claw1), hex(claw1b).toUpperCase()], extra: { machine: 'claw-1' } },
          'claw-2': { role: 'user', authorized_keys: [hex(claw2)] },
          'other-realm': { realm: 'elsewhere', role: 'user', authorized_keys: [hex(stranger)] },
          'twin-a': { role: 'user', authorized_keys: [hex(shared)] },
          'twin-b': { role: 'admin', authorized_keys: [hex(shared)] },
        },
      },
    },
    extraRealms: [{ name: 'elsewhere', roles: [{ name: 'user', permissions: [] }] }],
  }));
  t.teardown(() => r.stop());

  await t.test("autobahn's auth_cryptosign.create_connection logs in", async (t) => {
    const conn = cs.create_connection({ url: r.url, realm: 'realm1', authid: 'claw-1', pkey: claw1 });
    const a = await openConnection(conn);
    t.teardown(() => closeAll(a));
    t.equal(a.details.authid, 'claw-1');
    t.equal(a.details.authrole, 'user');
    t.equal(a.details.authmethod, 'cryptosign');
    t.equal(a.details.authprovider, 'static');
    t.same(a.details.authextra, { machine: 'claw-1' });
  });

  await t.test('without an authid: the key names the principal; second key works; RawSocket and CBOR', async (t) => {
    const a = await login(r.port, csExtra(claw1));
    const b = await login(r.port, csExtra(claw1b, { authid: 'claw-1' }), { rawsocket: true });
    const c = await login(r.port, csExtra(claw2), { serializer: 'cbor' });
    t.teardown(() => closeAll(a, b, c));
    t.equal(a.details.authid, 'claw-1');
    t.equal(b.details.authid, 'claw-1', 'the second authorized key (given uppercase in the config)');
    t.equal(c.details.authid, 'claw-2');
  });

  await t.test('refused: unknown key, key of another principal, bad signature, impersonation', async (t) => {
    const results = {
      unknownKey: await refused(r.port, csExtra(keyPair())),
      unknownAuthid: await refused(r.port, csExtra(claw1, { authid: 'claw-9' })),
      otherPrincipalsKey: await refused(r.port, csExtra(claw2, { authid: 'claw-1' })),
      // announces claw-1's public key but signs with its own
      impersonation: await refused(r.port, csExtra(stranger, { announce: claw1 })),
    };
    for (const [name, a] of Object.entries(results)) {
      t.same(a, { reason: 'wamp.error.authentication_failed', message: 'cryptosign signature is invalid' }, name);
    }
    t.ok(r.logs.some((l) => l.msg === 'authentication failed' && String(l.detail).includes('bad signature')), 'logged with the cause');
  });

  await t.test('a tampered signature', async (t) => {
    const a = await refused(r.port, {
      authmethods: ['cryptosign'], authid: 'claw-1', authextra: { pubkey: hex(claw1) },
      onchallenge: (_s: unknown, _m: string, extra: Record<string, unknown>) => {
        const sig = cs.sign_challenge(claw1, extra);
        return (sig[0] === '0' ? '1' : '0') + sig.slice(1);
      },
    });
    t.equal(a.reason, 'wamp.error.authentication_failed');
  });

  await t.test('a replayed signature (from an earlier challenge) fails', async (t) => {
    let old = '';
    const first = await login(r.port, {
      ...csExtra(claw1),
      onchallenge: (_s: unknown, _m: string, extra: Record<string, unknown>) => (old = cs.sign_challenge(claw1, extra)),
    });
    closeAll(first);
    const a = await refused(r.port, { ...csExtra(claw1), onchallenge: () => old });
    t.equal(a.reason, 'wamp.error.authentication_failed');
  });

  await t.test('no pubkey, a bad pubkey, channel binding without TLS, realm restriction, ambiguous key', async (t) => {
    const noKey = await refused(r.port, { authmethods: ['cryptosign'], authid: 'claw-1', onchallenge: () => 'x' });
    t.equal(noKey.reason, 'wamp.error.authentication_failed');
    t.match(noKey.message, /pubkey/);
    const badKey = await refused(r.port, { authmethods: ['cryptosign'], authextra: { pubkey: 'abc' }, onchallenge: () => 'x' });
    t.equal(badKey.reason, 'wamp.error.authentication_failed');
    const tls = await refused(r.port, csExtra(claw1, { channelBinding: 'tls-unique' }));
    t.equal(tls.reason, 'wamp.error.authentication_failed');
    t.match(tls.message, /tls-unique is not supported by this router/, "the real reason: channel binding is not implemented (issue 23)");
    const realm = await refused(r.port, csExtra(stranger));
    t.equal(realm.reason, 'wamp.error.not_authorized', 'a principal bound to another realm, after a good signature');
    const twin = await refused(r.port, csExtra(shared));
    t.equal(twin.reason, 'wamp.error.authentication_failed', 'a key two principals share needs an authid');
    const twinB = await login(r.port, csExtra(shared, { authid: 'twin-b' }));
    t.teardown(() => closeAll(twinB));
    t.equal(twinB.details.authrole, 'admin', '... and works with one');
  });
});

t.test('dynamic cryptosign authenticator', async (t) => {
  const r = await startAuthRouter(authConfig({ auth: { cryptosign: { type: 'dynamic', authenticator: 'com.example.cs' } } }));
  t.teardown(() => r.stop());
  const svc = await r.router.localSession('realm1');
  t.teardown(() => svc.close());
  const asked: unknown[][] = [];
  await svc.register('com.example.cs', (args) => {
    asked.push(args);
    const details = args[2] as { authextra: { pubkey: string } };
    if (details.authextra.pubkey === hex(claw1)) return { pubkey: hex(claw1), role: 'user', authid: 'claw-1', extra: { dyn: true } };
    if (details.authextra.pubkey === hex(claw2)) return { authorized_keys: [hex(claw1)], role: 'user', authid: 'claw-2' };
    throw new WampError('wamp.error.not_authorized', ['unknown machine']);
  });

  const a = await openConnection(cs.create_connection({ url: r.url, realm: 'realm1', pkey: claw1 }));
  t.teardown(() => closeAll(a));
  t.equal(a.details.authid, 'claw-1', 'authid from the authenticator');
  t.equal(a.details.authprovider, 'dynamic');
  t.same(a.details.authextra, { dyn: true });
  const [realm, authid, details] = asked[0] as [string, unknown, Record<string, unknown>];
  t.equal(realm, 'realm1');
  t.equal(authid, null, 'no authid in HELLO');
  t.equal(details.authmethod, 'cryptosign');
  t.equal((details.authextra as Record<string, unknown>).pubkey, hex(claw1), 'the announced key is in details.authextra');

  t.equal((await refused(r.port, csExtra(claw2))).reason, 'wamp.error.not_authorized', 'the authenticator vouches for other keys only');
  t.same(await refused(r.port, csExtra(stranger)), { reason: 'wamp.error.not_authorized', message: 'unknown machine' });
  t.equal((await refused(r.port, csExtra(stranger, { announce: claw1 }))).reason, 'wamp.error.authentication_failed', 'a known key without its secret');
});
