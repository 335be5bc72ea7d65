// Limits against a real router over real sockets: message size on every
// transport and serializer, the hello timeout, session counts per realm and
// per authid, publish and call rate limits, pending calls, role overrides,
// and in-process sessions being exempt. Each refusal must be readable and
// must leave other sessions alone.
import t, { type Test } from 'tap';
import net from 'node:net';
import { startRouter, testConfig, connect, eventually, sleep, within, type RunningRouter } from './helpers.js';
import { Wire, ROLES, type WireKind } from './wire.js';
import type { SerializerId } from '../src/serializers/index.js';

const ALLOW_ALL = [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } }];
const SERIALIZERS: SerializerId[] = ['json', 'msgpack', 'cbor'];
const KINDS: WireKind[] = ['ws', 'raw'];

/** A fresh session still gets answers. */
async function stillServes(t: Test, r: RunningRouter): Promise<void> {
  const c = await Wire.open({ kind: 'ws', port: r.port });
  await c.join();
  const res = await c.call(1, 'wamp.session.count');
  t.equal(res[0], 50, 'a fresh session still gets answers');
  c.close();
}

t.test('max_message_size: every transport and serializer gets ABORT with a reason, then close', async (t) => {
  const opts = { max_message_size: 2048 };
  const r = await startRouter(testConfig({ transportExtras: { rawsocket: { options: opts }, websocket: { ws: { type: 'websocket', options: opts } } } }));
  t.teardown(() => r.stop());
  const bystander = await Wire.open({ kind: 'raw', port: r.port, serializer: 'msgpack' });
  await bystander.join();
  for (const kind of KINDS) {
    for (const serializer of SERIALIZERS) {
      await t.test(`${kind} ${serializer}`, async (t) => {
        const c = await Wire.open({ kind, port: r.port, serializer });
        await c.join();
        c.send([16, 1, { acknowledge: true }, 'com.topic', ['x'.repeat(1500)]]);
        t.equal((await c.next(17))[1], 1, 'a message under the limit passes');
        c.send([16, 2, { acknowledge: true }, 'com.topic', ['x'.repeat(4000)]]);
        const abort = await c.next(3);
        t.equal(abort[2], 'wamp.error.protocol_violation', 'ABORT');
        t.match((abort[1] as { message: string }).message, kind === 'ws' ? /max_message_size \(2048 bytes\)/ : /exceeds the negotiated maximum of 2048/, 'the ABORT names the limit');
        const ended = await within(c.closed, 5000, 'connection closes');
        if (kind === 'ws') {
          t.equal(ended.code, 1009, 'WebSocket close 1009 (message too big)');
          t.match(ended.reason, /max_message_size/, 'with a reason');
        }
        t.notOk(c.messages.some((m) => m[0] === 17), 'the oversize publication was not processed');
      });
    }
  }
  t.equal((await bystander.call(1, 'wamp.session.count'))[0], 50, 'the bystander is unaffected');
  await stillServes(t, r);
  bystander.close();
});

t.test('hello timeout: a connection that never says HELLO is closed', async (t) => {
  const opts = { hello_timeout: 400 };
  const r = await startRouter(testConfig({ transportExtras: { rawsocket: { options: opts }, websocket: { ws: { type: 'websocket', options: opts } } } }));
  t.teardown(() => r.stop());

  for (const kind of KINDS) {
    await t.test(`${kind}: ABORT clawgate.error.handshake_timeout, then close`, async (t) => {
      const c = await Wire.open({ kind, port: r.port, serializer: 'cbor' });
      const abort = await c.next(3, 5000);
      t.equal(abort[2], 'clawgate.error.handshake_timeout');
      t.match((abort[1] as { message: string }).message, /no HELLO within \d+ ms/);
      await within(c.closed, 5000, 'closed after the timeout');
    });
  }

  await t.test('silent TCP, half a RawSocket handshake, half an HTTP request: closed', async (t) => {
    const open = async (bytes: Buffer | null): Promise<net.Socket> => {
      const s = net.connect(r.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((res) => s.once('connect', res));
      if (bytes) s.write(bytes);
      return s;
    };
    const sockets = await Promise.all([open(null), open(Buffer.from([0x7f, 0xf1])), open(Buffer.from('GET /ws HTTP/1.1\r\nHost: x\r\n'))]);
    await within(Promise.all(sockets.map((s) => new Promise((res) => (s.destroyed ? res(null) : s.once('close', res))))), 5000, 'all three closed');
    t.pass('all closed by the router');
  });

  await t.test('a session that said HELLO in time is not affected', async (t) => {
    const c = await Wire.open({ kind: 'ws', port: r.port });
    await c.join();
    await sleep(700);
    t.equal((await c.call(1, 'wamp.session.count'))[0], 50, 'still served after the timeout passed');
    c.close();
  });
  t.ok(r.router.limitCounters.helloTimeouts >= 2, 'hello timeouts are counted');
});

t.test('max_sessions and max_sessions_per_authid', async (t) => {
  const ticketAuth = {
    ticket: {
      type: 'static',
      principals: {
        alice: { ticket: 'alice-secret', role: 'player' },
        bob: { ticket: 'bob-secret', role: 'player' },
      },
    },
    anonymous: { type: 'static', role: 'anonymous', authid: 'shared-anon' },
  };
  const r = await startRouter(testConfig({
    realms: [{
      name: 'realm1',
      options: { limits: { max_sessions: 4 } },
      roles: [{ name: 'anonymous', permissions: ALLOW_ALL }, { name: 'player', permissions: ALLOW_ALL, limits: { max_sessions_per_authid: 1 } }],
    }],
    transportExtras: { websocket: { ws: { type: 'websocket', auth: ticketAuth } } },
  }));
  t.teardown(() => r.stop());

  const login = async (authid: string, ticket: string): Promise<Wire> => {
    const c = await Wire.open({ kind: 'ws', port: r.port });
    c.send([1, 'realm1', { ...ROLES, authmethods: ['ticket'], authid }]);
    await c.next(4);
    c.send([5, ticket, {}]);
    return c;
  };
  const alice1 = await login('alice', 'alice-secret');
  t.equal((await alice1.next())[0], 2, 'alice welcomed');
  const alice2 = await login('alice', 'alice-secret');
  const refused = await alice2.next();
  t.same([refused[0], refused[2]], [3, 'clawgate.error.too_many_sessions'], 'a second alice is refused');
  t.match((refused[1] as { message: string }).message, /authid "alice" already has 1 sessions.*limit 1/);
  await within(alice2.closed, 5000, 'refused connection closes');
  const bob = await login('bob', 'bob-secret');
  t.equal((await bob.next())[0], 2, 'bob is not affected by alice\'s limit');

  const anon1 = await Wire.open({ kind: 'ws', port: r.port });
  await anon1.join();
  const anon2 = await Wire.open({ kind: 'ws', port: r.port });
  await anon2.join();
  t.pass('anonymous sessions sharing a fixed authid are not limited per authid');

  const fifth = await Wire.open({ kind: 'raw', port: r.port });
  fifth.send([1, 'realm1', ROLES]);
  const full = await fifth.next();
  t.same([full[0], full[2]], [3, 'clawgate.error.too_many_sessions'], 'the realm is full at 4');
  t.match((full[1] as { message: string }).message, /realm "realm1" has reached its limit of 4 sessions/);

  const local = await r.router.localSession('realm1');
  t.ok(local.id > 0, 'in-process sessions are not refused');
  local.close();

  alice1.close();
  await eventually(() => r.router.realm('realm1')!.sessions.size <= 3, 5000);
  const alice3 = await login('alice', 'alice-secret');
  t.equal((await alice3.next())[0], 2, 'once alice\'s session left, alice may join again');
  t.ok(r.router.limitCounters.sessionsRefused >= 2, 'refusals are counted');
  for (const c of [bob, anon1, anon2, alice3]) c.close();
});

t.test('publish rate limit', async (t) => {
  const r = await startRouter(testConfig({
    realms: [{
      name: 'realm1',
      options: { limits: { publish_rate: { rate: 4, burst: 3 } } },
      roles: [{ name: 'anonymous', permissions: ALLOW_ALL }],
    }],
  }));
  t.teardown(() => r.stop());
  const sub = await Wire.open({ kind: 'ws', port: r.port, serializer: 'msgpack' });
  await sub.join();
  sub.send([32, 1, {}, 'com.flood']);
  await sub.next(33);
  const pub = await Wire.open({ kind: 'raw', port: r.port, serializer: 'json' });
  await pub.join();

  for (let i = 1; i <= 3; i++) pub.send([16, i, { acknowledge: true }, 'com.flood', [i]]);
  for (let i = 1; i <= 3; i++) t.equal((await pub.next(17))[1], i, `publication ${i} of the burst passes`);
  pub.send([16, 4, { acknowledge: true }, 'com.flood', [4]]);
  const err = await pub.next(8);
  t.same(err.slice(0, 3), [8, 16, 4], 'ERROR for PUBLISH 4');
  t.equal(err[4], 'clawgate.error.rate_limited');
  const retry = (err[3] as { retry_after_ms: number }).retry_after_ms;
  t.ok(Number.isInteger(retry) && retry > 0 && retry <= 250, `Details.retry_after_ms = ${retry}`);
  t.match(err[5], [/rate limit of 4 publications per second \(burst 3\) exceeded/]);
  t.same(err[6], { retry_after_ms: retry }, 'also in ArgumentsKw');

  const dropped = r.router.limitCounters.publishDropped;
  for (let i = 10; i < 20; i++) pub.send([16, i - 5, {}, 'com.flood', [i]]); // request ids 5 to 14: sequential
  await eventually(() => r.router.limitCounters.publishDropped >= dropped + 9, 5000);
  t.ok(r.router.limitCounters.publishDropped >= dropped + 9, 'unacknowledged publications over the limit are dropped and counted');
  t.notOk(pub.messages.some((m) => m[0] === 8), 'no ERROR for unacknowledged ones');

  await sleep(400);
  pub.send([16, 15, { acknowledge: true }, 'com.flood', [30]]);
  t.equal((await pub.next(17))[1], 15, 'after waiting, publishing works again');
  await eventually(() => sub.messages.some((m) => m[0] === 36 && (m[4] as number[])[0] === 30), 5000);
  const got = sub.messages.filter((m) => m[0] === 36).map((m) => (m[4] as number[])[0]);
  t.ok(got.length <= 3 + 2 + 1, `the subscriber got only what passed (${got.join(',')})`);
  t.same(got.slice(0, 3), [1, 2, 3]);

  await t.test('autobahn sees the reason and the delay', async (t) => {
    const { session, connection } = await connect({ port: r.port });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => session.publish('com.flood', [i], {}, { acknowledge: true })));
    const rejected = results.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
    t.ok(rejected.length >= 2, `${rejected.length} of 6 refused`);
    const e = rejected[0]!.reason as { error: string; kwargs: { retry_after_ms: number } };
    t.equal(e.error, 'clawgate.error.rate_limited');
    t.ok(e.kwargs.retry_after_ms > 0, 'retry_after_ms reaches autobahn in kwargs');
    connection.close();
  });
  sub.close();
  pub.close();
});

t.test('call rate limit, pending calls, role override, in-process exemption', async (t) => {
  const r = await startRouter(testConfig({
    realms: [{
      name: 'realm1',
      options: { limits: { call_rate: { rate: 2, burst: 2 }, publish_rate: { rate: 1, burst: 1 }, max_pending_calls: 2 } },
      roles: [{ name: 'anonymous', permissions: ALLOW_ALL }, { name: 'backend', permissions: ALLOW_ALL, limits: { call_rate: null, publish_rate: null } }],
    }],
    transportExtras: {
      websocket: {
        ws: { type: 'websocket' },
        backend: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'backend' } } },
      },
    },
  }));
  t.teardown(() => r.stop());

  await t.test('calls over the rate get ERROR rate_limited', async (t) => {
    const c = await Wire.open({ kind: 'ws', port: r.port, serializer: 'cbor' });
    await c.join();
    t.equal((await c.call(1, 'wamp.session.count'))[0], 50);
    t.equal((await c.call(2, 'wamp.session.count'))[0], 50);
    const e = await c.call(3, 'wamp.session.count');
    t.same([e[0], e[4]], [8, 'clawgate.error.rate_limited']);
    t.ok((e[3] as { retry_after_ms: number }).retry_after_ms > 0);
    await sleep((e[3] as { retry_after_ms: number }).retry_after_ms + 50);
    t.equal((await c.call(4, 'wamp.session.count'))[0], 50, 'allowed again after retry_after_ms');
    c.close();
  });

  await t.test('max_pending_calls', async (t) => {
    const callee = await Wire.open({ kind: 'raw', port: r.port, serializer: 'msgpack' });
    await callee.join();
    callee.send([64, 1, {}, 'com.slow']);
    await callee.next(65);
    const caller = await Wire.open({ kind: 'ws', port: r.port });
    await caller.join();
    caller.send([48, 1, {}, 'com.slow', []]);
    caller.send([48, 2, {}, 'com.slow', []]);
    const inv = await callee.next(68);
    await callee.next(68);
    await sleep(1100); // let the call bucket refill
    caller.send([48, 3, {}, 'com.slow', []]);
    const e = await caller.next(8);
    t.same([e[2], e[4]], [3, 'clawgate.error.too_many_pending_calls'], 'the third call in flight is refused');
    t.match(e[5], [/already has 2 calls in flight/]);
    callee.send([70, inv[1], {}, ['done']]);
    t.same((await caller.next(50)).slice(0, 2), [50, 1], 'the first call completes');
    caller.send([48, 4, {}, 'com.slow', []]);
    t.ok(await callee.next(68), 'with one call finished, a new one goes through');
    caller.close();
    callee.close();
  });

  await t.test('a role whose limits are off (backend) is not limited', async (t) => {
    const b = await Wire.open({ kind: 'ws', port: r.port, path: '/backend' });
    await b.join();
    for (let i = 1; i <= 20; i++) b.send([16, i, { acknowledge: true }, 'com.t', []]);
    for (let i = 1; i <= 20; i++) t.equal((await b.next(17))[1], i);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => b.call(21 + i, 'wamp.session.count')));
    t.ok(answers.every((a) => a[0] === 50), '10 calls at once, all answered');
    b.close();
  });

  await t.test('in-process sessions are exempt', async (t) => {
    const s = await r.router.localSession('realm1');
    for (let i = 0; i < 20; i++) await s.publish('com.t', [i]);
    for (let i = 0; i < 10; i++) await s.call('wamp.session.count');
    t.pass('20 publications and 10 calls with limits of 1/s and 2/s');
    s.close();
  });
  t.ok(r.router.limitCounters.callRateLimited >= 1 && r.router.limitCounters.pendingCallsRefused >= 1, 'counted');
});

t.test('a web listener without WebSocket paths still serves slow HTTP clients', async (t) => {
  const raw = testConfig() as { workers: { transports: unknown[] }[] };
  raw.workers[0]!.transports = [{ type: 'web', endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' }, paths: {} }];
  const r = await startRouter(raw);
  t.teardown(() => r.stop());
  const s = net.connect(r.port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((res) => s.once('connect', res));
  await sleep(150);
  let body = '';
  s.on('data', (d: Buffer) => { body += d.toString(); });
  s.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await within(new Promise((res) => s.once('close', res)), 5000, 'response');
  t.match(body, /^HTTP\/1\.1 200/, 'health answered after a pause');
});
