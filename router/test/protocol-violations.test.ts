// Protocol abuse over WebSocket: every malformed or out-of-order message must
// end that one session with ABORT wamp.error.protocol_violation (and a reason
// a human can read), close the socket, and leave the router serving everyone
// else. Plus the handshake-level answers: unknown realm, GOODBYE, HTTP errors.
import t, { type Test } from 'tap';
import http from 'node:http';
import WebSocket from 'ws';
import { startRouter, testConfig, eventually, sleep, within, type RunningRouter } from './helpers.js';
import { Wire } from './wire.js';
import { msgpackSerializer, cborSerializer } from '../src/serializers/index.js';


const PV = 'wamp.error.protocol_violation';
const ROLES = { roles: { caller: {}, callee: {}, publisher: {}, subscriber: {} } };

/** Expects ABORT [3, {message}, reason] next, then the socket to close. Returns the message text. */
async function expectAbort(t: Test, c: Wire, reason = PV, contains?: RegExp | string): Promise<string> {
  const m = await c.next(3);
  t.equal(m.length, 3, 'ABORT has 3 elements');
  t.equal(m[2], reason, `ABORT reason is ${reason}`);
  const details = m[1] as Record<string, unknown>;
  t.type(details.message, 'string', 'ABORT.Details.message is a string');
  const text = String(details.message);
  t.ok(text.length > 5, `ABORT message is readable: "${text}"`);
  if (contains !== undefined) t.match(text, contains, 'ABORT message names the problem');
  await within(c.closed, 3000, 'socket closes after ABORT');
  t.equal(c.ws!.readyState, WebSocket.CLOSED, 'socket closed after ABORT');
  t.same(c.messages, [], 'nothing after ABORT');
  return text;
}

/** A fresh, well-behaved JSON session can join, call the meta API and leave. */
async function stillServes(t: Test, r: RunningRouter): Promise<void> {
  const c = Wire.connect({ url: r.url, codec: 'json-text' });
  const id = await c.join();
  t.ok(Number.isInteger(id) && id > 0, 'a new session is welcomed');
  c.send([48, 1, {}, 'wamp.session.count']);
  const res = await c.next(50);
  t.equal(res[1], 1, 'RESULT answers the call');
  t.type((res[3] as unknown[])[0], 'number', 'wamp.session.count returns a number');
  c.send([6, {}, 'wamp.close.normal']);
  await c.next(6);
  await within(c.closed, 3000, 'well-behaved session closes');
}

t.test('protocol violations over WebSocket (JSON)', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());

  // A session that stays connected through all the abuse below.
  const bystander = Wire.connect({ url: r.url, codec: 'json-text' });
  await bystander.join();
  bystander.send([32, 1, {}, 'com.bystander.topic']);
  await bystander.next(33);
  const baseline = r.router.sessionCount;

  const cases: { name: string; joined: boolean; send: unknown; contains?: RegExp | string }[] = [
    { name: 'SUBSCRIBE before HELLO', joined: false, send: [32, 1, {}, 'com.topic'], contains: /SUBSCRIBE.*before.*HELLO/ },
    { name: 'CALL before HELLO', joined: false, send: [48, 1, {}, 'wamp.session.count'], contains: /HELLO/ },
    { name: 'HELLO twice', joined: true, send: [1, 'realm1', ROLES], contains: /HELLO/ },
    { name: 'HELLO without roles', joined: false, send: [1, 'realm1', {}], contains: /roles/ },
    { name: 'HELLO with empty roles', joined: false, send: [1, 'realm1', { roles: {} }], contains: /roles/ },
    { name: 'HELLO with roles a list', joined: false, send: [1, 'realm1', { roles: ['caller'] }], contains: /roles/ },
    { name: 'HELLO realm a number', joined: false, send: [1, 42, ROLES], contains: /Realm/ },
    { name: 'HELLO details a list', joined: false, send: [1, 'realm1', []], contains: /Details/ },
    { name: 'HELLO with 2 elements', joined: false, send: [1, 'realm1'], contains: /HELLO must have 3 elements/ },
    { name: 'request id a string', joined: true, send: [32, 'seven', {}, 'com.topic'], contains: /Request/ },
    { name: 'request id > 2^53', joined: true, send: [32, 2 ** 54, {}, 'com.topic'], contains: /Request/ },
    { name: 'request id negative', joined: true, send: [48, -1, {}, 'wamp.session.count'], contains: /Request/ },
    { name: 'request id a float', joined: true, send: [48, 1.5, {}, 'wamp.session.count'], contains: /Request/ },
    { name: 'subscription id > 2^53 in UNSUBSCRIBE', joined: true, send: [34, 1, 2 ** 54], contains: /Subscription/ },
    { name: 'unknown message code 99', joined: true, send: [99, 1, {}], contains: /99/ },
    { name: 'unknown message code 99 before HELLO', joined: false, send: [99], contains: /99/ },
    { name: 'message type a string', joined: true, send: ['PUBLISH', 1, {}, 'com.topic'], contains: /type/ },
    { name: 'empty list', joined: true, send: [], contains: /empty/ },
    { name: 'JSON object instead of a list', joined: true, send: '{"type":16}', contains: /list/ },
    { name: 'JSON number instead of a list', joined: false, send: '42', contains: /list/ },
    { name: 'JSON string instead of a list', joined: true, send: '"hello"', contains: /list/ },
    { name: 'garbage text that is not JSON', joined: true, send: 'this is {not json', contains: /json/i },
    { name: 'garbage text before HELLO', joined: false, send: '\u0001\u0002[[[', contains: /json/i },
    { name: 'EVENT sent by a client', joined: true, send: [36, 1, 2, {}, ['x']], contains: /EVENT/ },
    { name: 'WELCOME sent by a client', joined: true, send: [2, 12345, {}], contains: /WELCOME/ },
    { name: 'WELCOME sent by a client before HELLO', joined: false, send: [2, 12345, {}], contains: /WELCOME/ },
    { name: 'INVOCATION sent by a client', joined: true, send: [68, 1, 2, {}], contains: /INVOCATION/ },
    { name: 'RESULT sent by a client', joined: true, send: [50, 1, {}], contains: /RESULT/ },
    { name: 'ERROR answering a CALL (not an INVOCATION)', joined: true, send: [8, 48, 1, {}, 'com.myapp.error'], contains: /ERROR.*INVOCATION/ },
    { name: 'ERROR answering a SUBSCRIBE', joined: true, send: [8, 32, 1, {}, 'com.myapp.error'], contains: /32/ },
    { name: 'YIELD with args not a list', joined: true, send: [70, 1, {}, 'not a list'], contains: /Arguments/ },
    { name: 'YIELD with kwargs not a dict', joined: true, send: [70, 1, {}, [], ['x']], contains: /ArgumentsKw/ },
    { name: 'PUBLISH acknowledge: "yes"', joined: true, send: [16, 1, { acknowledge: 'yes' }, 'com.topic'], contains: /acknowledge/ },
    { name: 'PUBLISH exclude_me: 0', joined: true, send: [16, 1, { exclude_me: 0 }, 'com.topic'], contains: /exclude_me/ },
    { name: 'PUBLISH options a list', joined: true, send: [16, 1, [], 'com.topic'], contains: /Options/ },
    { name: 'SUBSCRIBE match: "regex"', joined: true, send: [32, 1, { match: 'regex' }, 'com.topic'], contains: /match/ },
    { name: 'CALL timeout: -5', joined: true, send: [48, 1, { timeout: -5 }, 'com.proc'], contains: /timeout/ },
    { name: 'REGISTER invoke: "everyone"', joined: true, send: [64, 1, { invoke: 'everyone' }, 'com.proc'], contains: /invoke/ },
    { name: 'PUBLISH with too many elements', joined: true, send: [16, 1, {}, 'com.topic', [], {}, 'extra'], contains: /PUBLISH must have/ },
  ];

  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const w = Wire.connect({ url: r.url, codec: 'json-text' });
      if (c.joined) await w.join();
      else await w.opened;
      w.send(c.send);
      // Sent right behind the violation: must not be processed (no RESULT after the ABORT).
      w.send([48, 424242, {}, 'wamp.session.count']);
      await expectAbort(t, w, PV, c.contains);
      await eventually(() => r.router.sessionCount === baseline);
    });
  }

  await t.test('after all that, the router still serves', async (t) => {
    await stillServes(t, r);
    bystander.send([48, 2, {}, 'wamp.session.count']);
    const res = await bystander.next(50);
    t.equal(res[1], 2, 'the bystander session was never disturbed');
    t.equal(bystander.ws!.readyState, WebSocket.OPEN);
  });

  await t.test('a violation does not disturb the subscriptions of others', async (t) => {
    const pub = Wire.connect({ url: r.url, codec: 'json-text' });
    await pub.join();
    pub.send([16, 1, { acknowledge: true }, 'com.bystander.topic', ['still here']]);
    await pub.next(17);
    const ev = await bystander.next(36);
    t.same(ev[4], ['still here']);
    pub.send([16, 6, { acknowledge: 7 }, 'com.bystander.topic']);
    await expectAbort(t, pub, PV, /acknowledge/);
  });

  bystander.end();
  await bystander.closed;
});

t.test('binary garbage on msgpack and cbor sessions', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  for (const serializer of [msgpackSerializer, cborSerializer]) {
    for (const when of ['before HELLO', 'after WELCOME'] as const) {
      await t.test(`${serializer.id}: garbage ${when}`, async (t) => {
        const c = Wire.connect({ url: r.url, serializer: serializer.id });
        await c.opened;
        if (when === 'after WELCOME') {
          c.send([1, 'realm1', ROLES]);
          const w = await c.next(2);
          t.ok(Number.isInteger(w[1]), 'WELCOME');
        }
        // 0xc1 is never used in MessagePack; a truncated array header is bad in both.
        c.ws!.send(Buffer.from(serializer.id === 'msgpack' ? [0xc1, 0xde, 0xad] : [0xff, 0x00, 0x13]));
        const abort = await c.next(3);
        t.equal(abort[2], PV);
        t.match((abort[1] as { message: string }).message, new RegExp(`cannot decode ${serializer.id}`));
        await within(c.closed, 3000, 'close after ABORT');
        // The shared decoder must not be left in a broken state.
        const ok = Wire.connect({ url: r.url, serializer: serializer.id });
        await ok.opened;
        ok.send([1, 'realm1', ROLES]);
        await ok.next(2);
        ok.send([48, 1, {}, 'wamp.session.count']);
        const res = await ok.next(50);
        t.equal(res[1], 1, `a new ${serializer.id} session still works`);
        ok.end();
        await ok.closed;
      });
    }
    await t.test(`${serializer.id}: a text frame where binary is expected`, async (t) => {
      const c = Wire.connect({ url: r.url, serializer: serializer.id });
      await c.opened;
      c.ws!.send('[1,"realm1",{}]');
      const abort = await c.next(3);
      t.equal(abort[2], PV);
      await within(c.closed, 3000, 'close after ABORT');
    });
  }
  await t.test('valid msgpack that is not a list', async (t) => {
    const c = Wire.connect({ url: r.url, serializer: msgpackSerializer.id });
    await c.opened;
    c.ws!.send(msgpackSerializer.encode({ hello: 1 } as unknown as unknown[]));
    const abort = await c.next(3);
    t.equal(abort[2], PV);
    t.match((abort[1] as { message: string }).message, /list/);
  });
  await stillServes(t, r);
});

t.test('oversize WebSocket frame (max_message_size 1024)', async (t) => {
  const r = await startRouter(testConfig({ transportExtras: { websocket: { ws: { type: 'websocket', options: { max_message_size: 1024 } } } } }));
  t.teardown(() => r.stop());
  const bystander = Wire.connect({ url: r.url, codec: 'json-text' });
  await bystander.join();

  const c = Wire.connect({ url: r.url, codec: 'json-text' });
  await c.join();
  c.send([16, 1, { acknowledge: true }, 'com.topic', ['x'.repeat(900)]]);
  await c.next(17);
  t.pass('a message under the limit is accepted');
  c.send([16, 2, { acknowledge: true }, 'com.topic', ['x'.repeat(2000)]]);
  const abort = await c.next(3);
  t.equal(abort[2], PV, 'ABORT first');
  t.match((abort[1] as { message: string }).message, /max_message_size \(1024 bytes\)/, 'naming the limit');
  const { code, reason } = await within(c.closed, 3000, 'oversize frame closes the connection');
  t.equal(code, 1009, 'closed with 1009 (message too big)');
  t.match(reason, /max_message_size/, 'the close frame has a reason too');
  t.notOk(c.messages.some((m) => m[0] === 17), 'the oversize publication was not acknowledged');
  await eventually(() => r.router.sessionCount === 1);

  bystander.send([48, 1, {}, 'wamp.session.count']);
  const res = await bystander.next(50);
  t.same(res[3], [1], 'the other session is unaffected and alone');
  await stillServes(t, r);
  bystander.end();
});

t.test('handshake-level answers', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());

  await t.test('HELLO to an unknown realm → ABORT wamp.error.no_such_realm', async (t) => {
    const c = Wire.connect({ url: r.url, codec: 'json-text' });
    await c.opened;
    c.send([1, 'no.such.realm', ROLES]);
    await expectAbort(t, c, 'wamp.error.no_such_realm', /no\.such\.realm/);
  });

  await t.test('GOODBYE from the client → GOODBYE goodbye_and_out, then close', async (t) => {
    const c = Wire.connect({ url: r.url, codec: 'json-text' });
    await c.join();
    c.send([6, { message: 'bye' }, 'wamp.close.normal']);
    const g = await c.next(6);
    t.same(g, [6, {}, 'wamp.close.goodbye_and_out']);
    const { code } = await within(c.closed, 3000, 'close after GOODBYE');
    t.equal(code, 1000, 'normal closure');
    t.same(c.messages, [], 'nothing after GOODBYE');
    await eventually(() => r.router.sessionCount === 0);
  });

  const upgrade = (path: string, protocol?: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    };
    if (protocol !== undefined) headers['Sec-WebSocket-Protocol'] = protocol;
    const req = http.request({ host: '127.0.0.1', port: r.port, path, headers });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode ?? 0, body: '' }); });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });

  await t.test('WebSocket upgrade without a WAMP subprotocol → HTTP 400', async (t) => {
    const none = await upgrade('/ws');
    t.equal(none.status, 400);
    t.match(none.body, /subprotocol/);
    const bogus = await upgrade('/ws', 'wamp.2.xml, mqtt');
    t.equal(bogus.status, 400, 'unsupported subprotocols only → 400');
    const ok = await upgrade('/ws', 'wamp.2.xml, wamp.2.json');
    t.equal(ok.status, 101, 'a supported one among others is picked');
  });

  await t.test('WebSocket upgrade on an unknown path → HTTP 404', async (t) => {
    const res = await upgrade('/nope', 'wamp.2.json');
    t.equal(res.status, 404);
    t.match(res.body, /nope/);
  });

  await t.test('GET /health → 200 {status: ok}', async (t) => {
    const res = await fetch(`http://127.0.0.1:${r.port}/health`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = await res.json() as Record<string, unknown>;
    t.equal(body.status, 'ok');
  });

  await sleep(20);
  await stillServes(t, r);
});
