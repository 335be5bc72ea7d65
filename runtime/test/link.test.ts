// The Node link (src/wamp/link.ts) against a real router on a loopback port:
// each HELLO auth method joins (and a wrong secret is retried, never
// joined); a router restart (GOODBYE system_shutdown, then nobody listening,
// then a new router on the same port) is survived; a message over the
// inbound bound closes the connection and the link comes back; a failed
// setup is retried; errors of our own handlers reach onUserError; stop()
// leaves and stays gone. (How the backend and the claw node use it is
// covered by their own tests: backend/test/reconnect.test.ts,
// claw-node/test/integration.test.ts and hostile-control.test.ts.)
import t from 'tap';
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { Router, deriveCraKey, fromCrossbar, silentLogger, type LocalSession } from '@clawgate/router';
import { WampLink, autobahn, type AutobahnSession, type HelloAuth, type LinkOptions, type LogLevel } from '../src/index.js';

const allow = { call: true, register: true, publish: true, subscribe: true };
const role = (name: string) => ({ name, permissions: [{ uri: '', match: 'prefix', allow, disclose: { caller: true, publisher: true } }] });

/** An Ed25519 key as the claw node holds one: hex public key, signs hex(signature ‖ challenge). */
function cryptosignKey(): { publicKey: string; sign(challengeHex: string): string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pk = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return {
    publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex'),
    sign: (challengeHex) => sign(null, Buffer.from(challengeHex, 'hex'), pk).toString('hex') + challengeHex,
  };
}

const KEY = cryptosignKey();
const CRA_PASSWORD = 'backend-password';

/** Every method on one WebSocket path, as the claw realm's router config has them. */
function config(port: number): unknown {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{ name: 'r', roles: ['anonymous', 'player', 'backend', 'claw'].map(role) }],
      transports: [{
        type: 'websocket',
        endpoint: { type: 'tcp', port, interface: '127.0.0.1' },
        auth: {
          anonymous: { type: 'static', role: 'anonymous' },
          ticket: { type: 'static', principals: { ann: { ticket: 'ann-ticket', role: 'player' } } },
          wampcra: { type: 'static', users: { backend: { secret: deriveCraKey(CRA_PASSWORD, 'salty', 1000, 32), role: 'backend', salt: 'salty', iterations: 1000, keylen: 32 } } },
          cryptosign: { type: 'static', principals: { 'claw-1': { role: 'claw', authorized_keys: [KEY.publicKey] } } },
        },
      }],
    }],
  };
}

async function startRouter(port = 0): Promise<{ router: Router; port: number; url: string; local: LocalSession; stop(): Promise<void> }> {
  const router = new Router(fromCrossbar(config(port)).config, { log: silentLogger() });
  await router.start();
  const p = Object.values(router.ports())[0]!;
  const local = await router.localSession('r');
  return { router, port: p, url: `ws://127.0.0.1:${p}/`, local, stop: () => router.stop(200) };
}

function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

async function eventually<T>(fn: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Probe {
  link: WampLink;
  opened: { session: AutobahnSession; details: Record<string, unknown> }[];
  closed: { reason: string; message: string }[];
  logs: { level: LogLevel; msg: string; extra: Record<string, unknown> }[];
}

/** A link with a fast backoff whose hooks record what happened; stopped at the end of the test. */
function probe(t: { teardown(fn: () => Promise<void>): void }, url: string, auth: HelloAuth, o: Partial<LinkOptions> = {}): Probe {
  const p: Probe = { opened: [], closed: [], logs: [], link: undefined as unknown as WampLink };
  p.link = new WampLink({
    url, realm: 'r', auth,
    backoff: { initialMs: 50, maxMs: 200, factor: 2, jitter: 0.2 },
    log: (level, msg, extra = {}) => { p.logs.push({ level, msg, extra }); },
    onOpen: async (session, details) => { p.opened.push({ session, details }); },
    onClose: (reason, message) => { p.closed.push({ reason, message }); },
    ...o,
  });
  p.link.start();
  t.teardown(() => p.link.stop());
  return p;
}

t.test('each auth method joins with the identity the router gave it', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const cases: [HelloAuth, string, string, string][] = [
    [{ method: 'anonymous' }, 'anonymous', 'anonymous', 'anonymous'],
    [{ method: 'ticket', authid: 'ann', ticket: 'ann-ticket' }, 'ticket', 'ann', 'player'],
    [{ method: 'wampcra', authid: 'backend', secret: CRA_PASSWORD }, 'wampcra', 'backend', 'backend'],
    [{ method: 'cryptosign', authid: 'claw-1', key: KEY }, 'cryptosign', 'claw-1', 'claw'],
  ];
  for (const [auth, method, authid, authrole] of cases) {
    const p = probe(t, r.url, auth);
    const { session, details } = await eventually(() => p.opened[0], `${method} to join`);
    t.match(details, { authmethod: method, authrole }, `${method}: WELCOME as ${authrole}`);
    if (method !== 'anonymous') t.equal(details.authid, authid, `${method}: authid ${authid}`);
    t.equal(p.link.session, session, `${method}: the open session`);
    const info = await r.local.call('wamp.session.get', [session.id]);
    t.match(info.args[0], { authrole, authmethod: method }, `${method}: the router agrees`);
    await p.link.stop();
    t.equal(p.link.session, undefined, `${method}: no session after stop()`);
  }
});

t.test('a refused login is retried with backoff and never joins', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const p = probe(t, r.url, { method: 'wampcra', authid: 'backend', secret: 'wrong' });
  await eventually(() => p.logs.filter((l) => l.msg === 'could not join the router').length >= 3, 'three refused attempts');
  t.equal(p.opened.length, 0, 'never joined');
  t.equal(p.closed.length, 0, 'onClose is for sessions that were open, not for failed attempts');
  t.match(p.logs.find((l) => l.msg === 'could not join the router')!.extra, { detail: /wamp\.error\.(authentication_failed|not_authorized)/ }, 'the reason is logged');
  const delays = p.logs.filter((l) => l.msg === 'reconnecting').map((l) => l.extra.inMs as number);
  t.ok(delays.every((d) => d >= 0 && d <= 200), `delays within the backoff's cap: ${delays.join(', ')}`);
  t.ok(delays[1]! > delays[0]! * 1.2, `the second delay grew (${delays[0]} → ${delays[1]})`);
});

t.test('router restart: GOODBYE, nobody listening, a new router on the same port: back without help', async (t) => {
  const first = await startRouter();
  const p = probe(t, first.url, { method: 'cryptosign', authid: 'claw-1', key: KEY });
  await eventually(() => p.opened.length === 1, 'joined');
  await first.stop();
  await eventually(() => p.closed.length === 1, 'the lost session reported');
  t.match(p.closed[0], { message: /wamp\.close\.system_shutdown/ }, 'the router said it is shutting down');
  t.equal(p.link.session, undefined);
  await eventually(() => p.logs.some((l) => l.msg === 'could not join the router'), 'refused attempts while the router is down');
  await sleep(300);
  t.equal(p.opened.length, 1, 'not joined while nobody listens');

  const second = await startRouter(first.port);
  t.teardown(() => second.stop());
  await eventually(() => p.opened.length === 2, 'joined the new router');
  const info = await second.local.call('wamp.session.get', [p.opened[1]!.session.id]);
  t.match(info.args[0], { authid: 'claw-1', authrole: 'claw' }, 'a session on the new router');
});

t.test('a message over maxMessageBytes closes the connection; the link comes back', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const events: number[] = [];
  const p = probe(t, r.url, { method: 'anonymous' }, {
    maxMessageBytes: 4096,
    maxMessageBytesKey: 'router.maxMessageBytes',
  });
  // Subscribe on every new session, as the claw node and the backend do in onOpen.
  const opened = p.opened;
  const setup = async () => {
    for (let seen = 0; ; seen++) {
      const o = await eventually(() => opened[seen], `session ${seen + 1}`);
      await o.session.subscribe('com.big', (args) => { events.push(String(args?.[0]).length); });
      if (seen >= 1) return;
    }
  };
  const subscribed = setup();
  await eventually(() => opened.length === 1, 'joined');
  await sleep(100); // the subscription is in place
  await r.local.publish('com.big', ['x'.repeat(1000)], {}, { acknowledge: true });
  await eventually(() => events.length === 1, 'a message under the bound arrives');
  await r.local.publish('com.big', ['x'.repeat(10_000)], {}, { acknowledge: true });
  await eventually(() => p.closed.length === 1, 'the connection closed');
  t.ok(p.logs.some((l) => l.level === 'warn' && l.msg === 'a message from the router was larger than router.maxMessageBytes: connection closed' && l.extra.maxMessageBytes === 4096), 'logged at warn with the key and the bound');
  t.same(events, [1000], 'the big message never reached the handler');
  await eventually(() => opened.length === 2, 'joined again');
  await subscribed;
  await sleep(100);
  await r.local.publish('com.big', ['y'.repeat(2000)], {}, { acknowledge: true });
  await eventually(() => events.length === 2, 'messages flow on the new session');
  t.same(events, [1000, 2000]);
});

t.test('a setup that fails closes the session and is retried', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  let calls = 0;
  let registered = false;
  const p = probe(t, r.url, { method: 'ticket', authid: 'ann', ticket: 'ann-ticket' }, {
    onOpen: async (session) => {
      calls++;
      if (calls === 1) throw new autobahn.Error('com.setup.failed', ['first one fails']);
      await session.register('com.ok', () => 'ok');
      registered = true;
    },
  });
  await eventually(() => registered, 'the second setup');
  t.equal(calls, 2, 'one retry');
  t.match(p.logs.find((l) => l.msg === 'session setup failed; reconnecting')?.extra, { err: /com\.setup\.failed/ }, 'the failure is logged');
  t.equal(p.closed.length, 1, 'the first session was closed');
  t.equal((await r.local.call('com.ok')).args[0], 'ok', 'the second session serves');
});

t.test('errors our handlers raise go to onUserError (by default: logged at warn)', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const seen: string[] = [];
  const register = (name: string) => async (session: AutobahnSession) => {
    await session.register(name, () => { throw new autobahn.Error('claw.error.busy', ['busy']); });
  };
  const hooked = probe(t, r.url, { method: 'anonymous' }, {
    onOpen: register('com.hooked'),
    onUserError: (err) => { seen.push(String((err as { error?: string }).error)); },
  });
  const plain = probe(t, r.url, { method: 'anonymous' }, { onOpen: register('com.plain') });
  await eventually(() => hooked.link.session && plain.link.session, 'both joined');
  await sleep(100);
  for (const name of ['com.hooked', 'com.plain']) {
    await t.rejects(r.local.call(name), { message: /^claw\.error\.busy/ }, `${name}: the caller gets the error`);
  }
  t.same(seen, ['claw.error.busy'], 'the hook saw the error');
  t.notOk(hooked.logs.some((l) => l.msg === 'error raised in a handler'), 'and nothing else was logged');
  await eventually(() => plain.logs.find((l) => l.msg === 'error raised in a handler' && l.level === 'warn'), 'without a hook: a warn line');
});

t.test('stop(): GOODBYE to the router, and no reconnect afterwards', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const p = probe(t, r.url, { method: 'anonymous' }, { name: 'test client' });
  const { session } = await eventually(() => p.opened[0], 'joined');
  const left = new Promise<unknown>((resolve) => { void r.local.subscribe('wamp.session.on_leave', (args) => { if (args[0] === session.id) resolve(args[0]); }); });
  await p.link.stop();
  await left;
  t.match(p.closed, [{ reason: 'closed', message: /wamp\.close\.goodbye_and_out|wamp\.close\.normal/ }], 'a clean close');
  await sleep(500); // more than the backoff's cap
  t.equal(p.opened.length, 1, 'did not come back');
  t.notOk(p.logs.some((l) => l.msg === 'reconnecting'), 'no reconnect was scheduled');
});
