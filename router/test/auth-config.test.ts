// Crossbar `auth` sections, secrets by reference, role authorizers and
// permission templates: config → RouterConfig as pure functions; and the
// template expansion rules as unit tests.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromCrossbar, loadConfigFile, ConfigError } from '../src/index.js';
import { expandTemplate, expandPermissions, templateError, isSafeComponent } from '../src/auth/uri-template.js';
import { authorize, type Permission } from '../src/auth/permissions.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-auth-config-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const KEY = 'a'.repeat(64);

function config(auth: unknown, extra: { roles?: unknown[]; realmOptions?: unknown; options?: unknown } = {}): Record<string, unknown> {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{ name: 'r', roles: extra.roles ?? [{ name: 'user', permissions: [] }], ...(extra.realmOptions ? { options: extra.realmOptions } : {}) }],
      transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 0 }, ...(auth !== undefined ? { auth } : {}), ...(extra.options ? { options: extra.options } : {}) }],
    }],
  };
}
const policyOf = (raw: unknown, src = {}) => fromCrossbar(raw, src).config.listeners[0]!.websocket.get('*')!.auth;
function thrownBy(fn: () => unknown): string {
  try { fn(); return 'no error'; } catch (e) { return e instanceof ConfigError ? e.message : `not a ConfigError: ${String(e)}`; }
}

t.test('every method, static and dynamic', async (t) => {
  const policy = policyOf(config({
    anonymous: { type: 'static', role: 'guest' },
    ticket: { type: 'static', principals: { a: { ticket: 't', role: 'user', realm: 'r', extra: { x: 1 } } }, signed: { secret: 's', roles: ['user'] } },
    wampcra: { type: 'static', users: { b: { secret: 'k', role: 'user' }, c: { secret: 'k2', role: 'user', salt: 'NaCl' } } },
    cryptosign: { type: 'static', principals: { d: { role: 'user', authorized_keys: [KEY.toUpperCase()] } } },
  }, { options: { auth_timeout: 2500 }, roles: [{ name: 'user', permissions: [] }, { name: 'guest', permissions: [] }] }));
  t.same(policy, {
    timeoutMs: 2500,
    anonymous: { type: 'static', role: 'guest' },
    ticket: { type: 'static', principals: { a: { ticket: 't', role: 'user', realm: 'r', extra: { x: 1 } } }, signed: { secret: 's', roles: ['user'] } },
    wampcra: { type: 'static', users: { b: { secret: 'k', role: 'user' }, c: { secret: 'k2', role: 'user', salt: 'NaCl', iterations: 1000, keylen: 32 } } },
    cryptosign: { type: 'static', principals: { d: { role: 'user', authorized_keys: [KEY] } } },
  });
  const dyn = policyOf(config({
    ticket: { type: 'dynamic', authenticator: 'com.a.ticket', signed: { secret: 's' } },
    wampcra: { type: 'dynamic', authenticator: 'com.a.cra', 'authenticator-realm': 'auth' },
    cryptosign: { type: 'dynamic', authenticator: 'com.a.cs' },
  }));
  t.same(dyn, {
    ticket: { type: 'dynamic', authenticator: 'com.a.ticket', signed: { secret: 's' } },
    wampcra: { type: 'dynamic', authenticator: 'com.a.cra', authenticatorRealm: 'auth' },
    cryptosign: { type: 'dynamic', authenticator: 'com.a.cs' },
  });
  const { unsupported } = fromCrossbar(config({ scram: { type: 'static' }, anonymous: { type: 'dynamic', authenticator: 'x' } }));
  t.ok(unsupported.some((u) => u.includes('auth.scram')), 'unknown methods are listed');
  t.ok(unsupported.some((u) => u.includes('auth.anonymous') && u.includes('dynamic')), 'unsupported types are listed');
});

t.test('secrets from the environment and from files', async (t) => {
  fs.writeFileSync(path.join(tmp, 'ticket.secret'), 'file-secret\n');
  const raw = config({
    ticket: { type: 'static', principals: { a: { ticket: { file: 'ticket.secret' }, role: 'user' } }, signed: { secret: { env: 'SIGN' } } },
    wampcra: { type: 'static', users: { b: { secret: { env: 'CRA_B' }, role: 'user' } } },
  });
  const p = policyOf(raw, { env: { SIGN: 'sign-secret', CRA_B: 'cra-secret' }, baseDir: tmp });
  t.equal(p.ticket!.type === 'static' && p.ticket!.principals.a!.ticket, 'file-secret', 'file, trailing newline dropped, relative to baseDir');
  t.equal(p.ticket!.signed!.secret, 'sign-secret');
  t.equal(p.wampcra!.type === 'static' && p.wampcra!.users.b!.secret, 'cra-secret');

  t.match(thrownBy(() => policyOf(raw, { env: { CRA_B: 'x' }, baseDir: tmp })), /workers\[0\]\.transports\[0\]\.auth\.ticket\.signed\.secret: environment variable SIGN is not set/);
  t.match(thrownBy(() => policyOf(raw, { env: { SIGN: 'x', CRA_B: 'y' }, baseDir: path.join(tmp, 'nowhere') })), /auth\.ticket\.principals\.a\.ticket: cannot read secret file/);

  // Crossbar's "${VAR}": every secret, resolved from the environment; unset stops the start (issue 23).
  const crossbar = config({
    ticket: { type: 'static', principals: { a: { ticket: '${MYTICKET}', role: 'user' } }, signed: { secret: '${SIGN}' } },
    wampcra: { type: 'static', users: { b: { secret: '${CRA_B}', role: 'user' } } },
  });
  const q = policyOf(crossbar, { env: { MYTICKET: 'the-ticket', SIGN: 'sign-secret', CRA_B: 'cra-secret' } });
  t.equal(q.ticket!.type === 'static' && q.ticket!.principals.a!.ticket, 'the-ticket', 'ticket from ${MYTICKET}');
  t.equal(q.ticket!.signed!.secret, 'sign-secret', 'signed secret from ${SIGN}');
  t.equal(q.wampcra!.type === 'static' && q.wampcra!.users.b!.secret, 'cra-secret', 'WAMP-CRA secret from ${CRA_B}');
  t.match(thrownBy(() => policyOf(crossbar, { env: { SIGN: 'x', CRA_B: 'y' } })),
    /^invalid config at workers\[0\]\.transports\[0\]\.auth\.ticket\.principals\.a\.ticket: environment variable MYTICKET is not set \(written as "\$\{MYTICKET\}"\)$/, 'unset: the start fails naming it');
  t.match(thrownBy(() => policyOf(crossbar, { env: { MYTICKET: '', SIGN: 'x', CRA_B: 'y' } })), /environment variable MYTICKET is not set/, 'empty counts as unset');
  const literal = policyOf(config({ ticket: { type: 'static', principals: { a: { ticket: 'pa$$word{x}', role: 'user' } } } }));
  t.equal(literal.ticket!.type === 'static' && literal.ticket!.principals.a!.ticket, 'pa$$word{x}', 'only a whole "${...}" value is a reference');

  // loadConfigFile resolves files next to the config file
  const file = path.join(tmp, 'node.json');
  fs.writeFileSync(file, JSON.stringify(config({ ticket: { type: 'static', principals: { a: { ticket: { file: 'ticket.secret' }, role: 'user' } } } })));
  const loaded = loadConfigFile(file).config.listeners[0]!.websocket.get('*')!.auth;
  t.equal(loaded.ticket!.type === 'static' && loaded.ticket!.principals.a!.ticket, 'file-secret');
});

t.test('malformed auth sections name the bad key', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ ticket: { type: 'static', principals: { a: { role: 'user' } } } }, /auth\.ticket\.principals\.a\.ticket/],
    [{ ticket: { type: 'dynamic' } }, /auth\.ticket\.authenticator/],
    [{ wampcra: { type: 'static', users: { b: { secret: 'k', role: 'user', iterations: -1 } } } }, /auth\.wampcra\.users\.b\.iterations/],
    [{ cryptosign: { type: 'static', principals: { d: { role: 'user', authorized_keys: ['abc'] } } } }, /auth\.cryptosign\.principals\.d\.authorized_keys\[0\]: must be an Ed25519 public key/],
    [{ cryptosign: { type: 'static', principals: { d: { role: 'user', authorized_keys: [] } } } }, /authorized_keys/],
    [{ ticket: { type: 'static', signed: { secret: '' } } }, /auth\.ticket\.signed\.secret/],
  ];
  for (const [auth, re] of cases) t.match(thrownBy(() => fromCrossbar(config(auth))), re, JSON.stringify(auth));
  // Keys we don't act on are warnings (Crossbar configs carry keys of their own), like everywhere else in the config;
  // a misspelling of a key we know is an error (issue 14).
  const { unsupported } = fromCrossbar(config({
    wampcra: { type: 'static', users: { b: { secret: 'k', role: 'user', pepper: 'x' } }, 'default-role': 'user' },
    cryptosign: { type: 'dynamic', authenticator: 'a', cache: true },
  }));
  t.same(unsupported.sort(), [
    'workers[0].transports[0].auth.cryptosign.cache',
    'workers[0].transports[0].auth.wampcra.default-role',
    'workers[0].transports[0].auth.wampcra.users.b.pepper',
  ], 'unknown keys are named in the warning');
  t.match(thrownBy(() => fromCrossbar(config({ wampcra: { type: 'static', users: { b: { secret: 'k', role: 'user', sallt: 'x' } } } }))),
    /auth\.wampcra\.users\.b\.sallt: unknown key; did you mean "salt"\?/, 'a misspelt key is an error');
});

t.test('roles: authorizer, templates, authorizer_timeout', async (t) => {
  const { config: rc, unsupported } = fromCrossbar(config(undefined, {
    roles: [
      { name: 'dyn', authorizer: 'com.example.authorize' },
      { name: 'player', permissions: [{ uri: 'claw.player.{authid}', match: 'exact', allow: { subscribe: true } }] },
    ],
    realmOptions: { authorizer_timeout: 1234 },
  }));
  const realm = rc.realms[0]!;
  t.equal(realm.authorizerTimeoutMs, 1234);
  t.same(realm.roles[0], { name: 'dyn', permissions: [], authorizer: 'com.example.authorize' });
  t.equal(realm.roles[1]!.permissions[0]!.uri, 'claw.player.{authid}', 'the template is kept for expansion per session');
  t.same(unsupported, [], 'no warnings');

  t.match(thrownBy(() => fromCrossbar(config(undefined, { roles: [{ name: 'x', authorizer: 'a', permissions: [{ uri: 'a', allow: { call: true } }] }] }))),
    /roles\[0\]: a role has either permissions or an authorizer/);
  t.match(thrownBy(() => fromCrossbar(config(undefined, { roles: [{ name: 'x', permissions: [{ uri: 'a.{user}', allow: { call: true } }] }] }))),
    /roles\[0\]\.permissions\[0\]\.uri: unknown placeholder "\{user\}"/);
  t.match(thrownBy(() => fromCrossbar(config(undefined, { roles: [{ name: 'x', permissions: [{ uri: 'a.{authid', allow: { call: true } }] }] }))),
    /unbalanced/);
});

t.test('template expansion (unit)', async (t) => {
  const v = { authid: 'alice', authrole: 'player', session: '123' };
  t.equal(expandTemplate('claw.player.{authid}', v), 'claw.player.alice');
  t.equal(expandTemplate('a.{authrole}.{session}.{authid}', v), 'a.player.123.alice');
  t.equal(expandTemplate('no.template', v), 'no.template');
  for (const bad of ['', 'a.b', 'a#', 'a b', 'a\tb', '{authid}', 'a}', '*', 'x'.repeat(257)]) {
    t.notOk(isSafeComponent(bad), `${JSON.stringify(bad.slice(0, 20))} is not a safe component`);
    t.equal(expandTemplate('claw.player.{authid}', { ...v, authid: bad }), undefined, 'so the template does not expand');
  }
  for (const good of ['alice', 'Bob-1', 'x_y', 'ünï', '42']) t.ok(isSafeComponent(good), `${good} is safe`);
  t.equal(templateError('claw.{authid}.{authrole}.{session}'), undefined);
  t.match(templateError('claw.{x}') ?? '', /unknown placeholder/);

  const perms: Permission[] = [
    { uri: 'claw.player.', match: 'prefix', allow: { call: false, register: false, publish: false, subscribe: false }, disclose: { caller: false, publisher: false } },
    { uri: 'claw.player.{authid}', match: 'exact', allow: { call: false, register: false, publish: false, subscribe: true }, disclose: { caller: false, publisher: false } },
    { uri: 'claw.machine..control.{authid}', match: 'wildcard', allow: { call: false, register: false, publish: true, subscribe: false }, disclose: { caller: false, publisher: true } },
  ];
  const alice = expandPermissions(perms, v);
  t.ok(authorize(alice, 'claw.player.alice', 'subscribe').allow);
  t.notOk(authorize(alice, 'claw.player.bob', 'subscribe').allow);
  t.same(authorize(alice, 'claw.machine.m1.control.alice', 'publish'), { allow: true, disclose: true });
  t.notOk(authorize(alice, 'claw.machine.m1.control.bob', 'publish').allow);
  const empty = expandPermissions(perms, { ...v, authid: '' });
  t.equal(empty.length, 1, 'templates with an unusable authid are dropped');
  t.notOk(authorize(empty, 'claw.machine.m1.control.bob', 'publish').allow, "an empty authid does not become a wildcard over everyone's controls");
  t.notOk(authorize(empty, 'claw.player.', 'subscribe').allow);
});
