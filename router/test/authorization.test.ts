// Authorization that tries to break in, on a realm shaped like the claw
// system's: players (signed tickets), the backend (WAMP-CRA), claw nodes
// (cryptosign). Permission URI templates give each player and machine its
// own URIs; disclosure is forced per role. Every refusal is checked and
// must be logged.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { signTicket, deriveCraKey } from '../src/index.js';
import { ab, closeAll, login, startAuthRouter, type Login, type AuthRouter } from './auth-helpers.js';
import { errorOf, eventually } from './helpers.js';

const SECRET = 'claw-ticket-secret-for-tests-0123456789';
const machineKey = nacl.sign.keyPair.fromSeed(new Uint8Array(randomBytes(32)));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const p = (uri: string, match: string, allow: Record<string, boolean>, disclose: Record<string, boolean> = {}) =>
  ({ uri, match, allow, disclose: { caller: false, publisher: false, ...disclose } });

/** The claw realm's roles, as the contract's table has them. */
const clawRealm = {
  name: 'claw',
  options: { uri_check: 'loose' },
  roles: [
    {
      name: 'player',
      permissions: [
        p('claw.machines.list', 'exact', { call: true }, { caller: true }),
        p('claw.queue.', 'prefix', { call: true }, { caller: true }),
        p('claw.turn.ready', 'exact', { call: true }, { caller: true }),
        p('claw.machine..status', 'wildcard', { subscribe: true }),
        p('claw.machine..queue', 'wildcard', { subscribe: true }),
        p('claw.player.{authid}', 'exact', { subscribe: true }),
        p('claw.machine..control.{authid}', 'wildcard', { publish: true }, { publisher: true }),
      ],
    },
    {
      name: 'backend',
      permissions: [
        p('claw.queue.', 'prefix', { register: true }),
        p('claw.turn.', 'prefix', { register: true }),
        p('claw.machines.', 'prefix', { register: true }),
        p('claw.admin.', 'prefix', { register: true }),
        p('claw.player.', 'prefix', { publish: true }),
        p('claw.machine..start_turn', 'wildcard', { call: true }),
        p('claw.machine..status', 'wildcard', { subscribe: true }),
      ],
    },
    {
      name: 'claw',
      permissions: [
        p('claw.machine.{authid}.', 'prefix', { register: true }),
        p('claw.machine.{authid}.status', 'exact', { publish: true }),
        p('claw.machine.{authid}.control.', 'prefix', { subscribe: true }),
      ],
    },
    { name: 'operator', permissions: [p('claw.admin.', 'prefix', { call: true }, { caller: true })] },
  ],
};

function clawConfig(): unknown {
  const auth = {
    ticket: { type: 'static', principals: {}, signed: { secret: SECRET, roles: ['player'] } },
    wampcra: { type: 'static', users: { backend: { secret: deriveCraKey('backend-pw', 'backend-salt'), role: 'backend', salt: 'backend-salt' } } },
    cryptosign: { type: 'static', principals: { m1: { role: 'claw', authorized_keys: [hex(machineKey.publicKey)] } } },
  };
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [clawRealm],
      transports: [{ type: 'universal', endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' }, websocket: { ws: { type: 'websocket', auth } } }],
    }],
  };
}

const player = (port: number, authid: string): Promise<Login> => {
  const ticket = signTicket({ authid, authrole: 'player', expiresAt: Date.now() + 60_000 }, SECRET);
  return login(port, { authmethods: ['ticket'], onchallenge: () => ticket }, { realm: 'claw' });
};
const backend = (port: number): Promise<Login> => login(port, {
  authmethods: ['wampcra'], authid: 'backend',
  onchallenge: (_s: unknown, _m: string, extra: Record<string, unknown>) =>
    ab.auth_cra.sign(ab.auth_cra.derive_key('backend-pw', extra.salt, extra.iterations, extra.keylen), extra.challenge),
}, { realm: 'claw' });
const machine = (url: string): Promise<Login> => new Promise((resolve, reject) => {
  const c = ab.auth_cryptosign.create_connection({ url, realm: 'claw', authid: 'm1', pkey: machineKey });
  c.onopen = (session: unknown, details: Record<string, unknown>) => resolve({ session, connection: c, details });
  c.onclose = (reason: string) => { reject(new Error(reason)); return true; };
  c.open();
});

interface Ev { args: unknown[]; details: Record<string, unknown> }

t.test('claw realm: templates, forced disclosure, and break-in attempts', async (t) => {
  const r: AuthRouter = await startAuthRouter(clawConfig());
  t.teardown(() => r.stop());
  const be = await backend(r.port);
  const m1 = await machine(r.url);
  const alice = await player(r.port, 'alice');
  const bob = await player(r.port, 'bob');
  t.teardown(() => closeAll(alice, bob, m1, be));
  t.equal(be.details.authrole, 'backend');
  t.equal(m1.details.authrole, 'claw');
  t.equal(alice.details.authrole, 'player');

  // The backend's procedures; it relies on the caller's disclosed authid.
  const invocations: Record<string, unknown>[] = [];
  await be.session.register('claw.queue.request_slot', (_a: unknown, _k: unknown, details: Record<string, unknown>) => {
    invocations.push(details);
    return 'ok';
  });
  // The machine listens on all its control topics and registers its procedures.
  const control: Ev[] = [];
  await m1.session.subscribe('claw.machine.m1.control.', (args: unknown[], _k: unknown, details: Record<string, unknown>) => control.push({ args, details }), { match: 'prefix' });
  await m1.session.register('claw.machine.m1.start_turn', () => ({ topic: 'claw.machine.m1.control.alice' }));

  await t.test("a player's call discloses its authid to the backend, without asking", async (t) => {
    t.equal(await alice.session.call('claw.queue.request_slot', ['m1']), 'ok');
    t.equal(invocations.at(-1)!.caller_authid, 'alice');
    t.equal(invocations.at(-1)!.caller_authrole, 'player');
    t.type(invocations.at(-1)!.caller, 'number');
  });

  await t.test("a player's control publish reaches the machine with the publisher's authid", async (t) => {
    await alice.session.publish('claw.machine.m1.control.alice', [{ command: 'upOn' }], {}, { acknowledge: true });
    const ev = await eventually(() => control.find((e) => (e.args[0] as { command: string }).command === 'upOn'), 5000, 'control event');
    t.equal(ev.details.publisher_authid, 'alice');
    t.equal(ev.details.topic, 'claw.machine.m1.control.alice');
  });

  await t.test('a player publishing on another player\'s control topic is refused', async (t) => {
    const before = control.length;
    t.equal(await errorOf(alice.session.publish('claw.machine.m1.control.bob', [{ command: 'drop' }], {}, { acknowledge: true })), 'wamp.error.not_authorized');
    // and without acknowledge it is dropped silently: nothing arrives
    alice.session.publish('claw.machine.m1.control.bob', [{ command: 'drop' }]);
    await bob.session.publish('claw.machine.m1.control.bob', [{ command: 'leftOn' }], {}, { acknowledge: true });
    await eventually(() => control.some((e) => (e.args[0] as { command: string }).command === 'leftOn'), 5000, "bob's own event");
    t.same(control.slice(before).map((e) => e.details.publisher_authid), ['bob'], "only bob's own command arrived");
  });

  await t.test("subscribing to another player's private topic, or all of them", async (t) => {
    t.type(await alice.session.subscribe('claw.player.alice', () => {}), 'object', 'own topic: fine');
    t.equal(await errorOf(alice.session.subscribe('claw.player.bob', () => {})), 'wamp.error.not_authorized');
    t.equal(await errorOf(alice.session.subscribe('claw.player.', () => {}, { match: 'prefix' })), 'wamp.error.not_authorized', 'prefix');
    t.equal(await errorOf(alice.session.subscribe('claw.player.', () => {}, { match: 'wildcard' })), 'wamp.error.not_authorized', 'wildcard');
    t.equal(await errorOf(alice.session.subscribe('claw.machine.m1.control.', () => {}, { match: 'prefix' })), 'wamp.error.not_authorized', 'control topics');
    t.equal(await errorOf(alice.session.subscribe('claw.machine..control.alice', () => {}, { match: 'wildcard' })), 'wamp.error.not_authorized', 'not even her own control topic');
    t.type(await alice.session.subscribe('claw.machine..status', () => {}, { match: 'wildcard' }), 'object', 'status of every machine: fine');
  });

  await t.test('calling a backend-only procedure, registering a claw or backend procedure', async (t) => {
    t.equal(await errorOf(alice.session.call('claw.machine.m1.start_turn', [{ player: 'alice' }])), 'wamp.error.not_authorized', "the machine's start_turn");
    t.equal(await errorOf(alice.session.call('claw.admin.skip', ['m1'])), 'wamp.error.not_authorized', 'admin');
    t.equal(await errorOf(alice.session.register('claw.machine.m1.start_turn', () => 1)), 'wamp.error.not_authorized', "register the claw's procedure");
    t.equal(await errorOf(alice.session.register('claw.machine.m2.start_turn', () => 1)), 'wamp.error.not_authorized', 'or a free one');
    t.equal(await errorOf(alice.session.register('claw.queue.leave', () => 1)), 'wamp.error.not_authorized', "a backend procedure");
    t.equal(await errorOf(m1.session.register('claw.machine.m2.start_turn', () => 1)), 'wamp.error.not_authorized', "a machine registering another machine's procedure");
    t.equal(await errorOf(m1.session.publish('claw.machine.m2.status', [{}], {}, { acknowledge: true })), 'wamp.error.not_authorized', "or publishing its status");
    t.equal(await errorOf(m1.session.subscribe('claw.machine.m2.control.', () => {}, { match: 'prefix' })), 'wamp.error.not_authorized', "or listening to its controls");
    t.equal(await be.session.call('claw.machine.m1.start_turn', [{ player: 'alice' }]).then((x: { topic: string }) => x.topic), 'claw.machine.m1.control.alice', 'the backend may');
  });

  await t.test('asking for disclosure the role may not give is refused', async (t) => {
    t.equal(await errorOf(m1.session.publish('claw.machine.m1.status', [{ state: 'ready' }], {}, { acknowledge: true, disclose_me: true })), 'wamp.error.option_disallowed.disclose_me');
    t.equal(await errorOf(be.session.call('claw.machine.m1.start_turn', [{}], {}, { disclose_me: true })), 'wamp.error.option_disallowed.disclose_me');
    t.equal(await alice.session.call('claw.queue.request_slot', ['m1'], {}, { disclose_me: true }), 'ok', 'where disclosure is forced, asking is fine');
  });

  await t.test('refusals are logged with who and what', async (t) => {
    const denied = r.logs.filter((l) => l.msg === 'not authorized');
    for (const [authid, uri, action] of [
      ['alice', 'claw.machine.m1.control.bob', 'publish'],
      ['alice', 'claw.player.bob', 'subscribe'],
      ['alice', 'claw.machine.m1.start_turn', 'call'],
      ['alice', 'claw.machine.m1.start_turn', 'register'],
      ['m1', 'claw.machine.m1.status', 'publish'],
    ]) {
      t.ok(denied.some((l) => l.authid === authid && l.uri === uri && l.action === action), `${authid} ${action} ${uri}`);
    }
  });
});

t.test('authids that try to escape a template', async (t) => {
  const r = await startAuthRouter(clawConfig());
  t.teardown(() => r.stop());
  const be = await backend(r.port);
  t.teardown(() => closeAll(be));
  const got: Ev[] = [];
  // the backend listens to all player topics... via a local trusted session, which may subscribe anything
  const spy = await r.router.localSession('claw');
  t.teardown(() => spy.close());
  await spy.subscribe('claw.machine..control.', (args, _k, details) => got.push({ args, details }), { match: 'wildcard' });
  await spy.subscribe('claw.machine.m1.control.', (args, _k, details) => got.push({ args, details }), { match: 'prefix' });

  // Signed tickets are only as tame as their issuer: here a careless one.
  for (const evil of ['', 'bob.x', '{authid}', 'bob#', 'a b', '*', 'x.', '.', '..']) {
    await t.test(`authid ${JSON.stringify(evil)}`, async (t) => {
      const s = await player(r.port, evil);
      t.teardown(() => closeAll(s));
      t.equal(s.details.authid, evil, 'logged in with that authid');
      for (const topic of ['claw.machine.m1.control.bob', 'claw.machine.m1.control.bob.x', `claw.machine.m1.control.${evil}`.replace(/\.$/, '.z')]) {
        const e = await errorOf(s.session.publish(topic, [{ command: 'drop', evil }], {}, { acknowledge: true }));
        t.ok(e === 'wamp.error.not_authorized' || e === 'wamp.error.invalid_uri', `publish ${topic}: ${e}`);
      }
      for (const topic of ['claw.player.bob', `claw.player.${evil}`]) {
        const e = await errorOf(s.session.subscribe(topic, () => {}));
        t.ok(e === 'wamp.error.not_authorized' || e === 'wamp.error.invalid_uri', `subscribe ${topic}: ${e}`);
      }
    });
  }
  t.same(got.filter((e) => (e.args[0] as Record<string, unknown>)?.evil !== undefined), [], 'no control event from any of them got through');
});
