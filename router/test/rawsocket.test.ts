// WAMP RawSocket over raw TCP: the 4-byte handshake (serializer and length
// negotiation, error replies), framing (messages, PING/PONG, bad headers,
// oversize frames), TCP segmentation, and half-close. After every failure a
// new session on the same router must still work.
import t, { type Test } from 'tap';
import { encode as mpEncode, decode as mpDecode } from '@msgpack/msgpack';
import { encode as cborEncode, decode as cborDecode } from 'cbor-x';
import { startRouter, testConfig, eventually, sleep, within, type RunningRouter } from './helpers.js';
import { RawClient } from './wire.js';

type Codec = { name: string; code: number; encode(m: unknown): Buffer; decode(b: Buffer): unknown[] };

const PV = 'wamp.error.protocol_violation';
const ROLES = { roles: { caller: {}, callee: {}, publisher: {}, subscriber: {} } };

const codecs: Record<'json' | 'msgpack' | 'cbor', Codec> = {
  json: { name: 'json', code: 1, encode: (m) => Buffer.from(JSON.stringify(m), 'utf8'), decode: (b) => JSON.parse(b.toString('utf8')) as unknown[] },
  msgpack: {
    name: 'msgpack', code: 2,
    encode: (m) => Buffer.from(mpEncode(m)),
    decode: (b) => mpDecode(b, { useBigInt64: false }) as unknown[],
  },
  cbor: { name: 'cbor', code: 3, encode: (m) => Buffer.from(cborEncode(m)), decode: (b) => unBig(cborDecode(b)) as unknown[] },
};

/** cbor-x reads 64-bit integers (ids ≥ 2^32 arrive as CBOR uint64) as BigInt. */
function unBig(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(unBig);
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unBig(x)]));
  }
  return v;
}

/** A RawSocket frame: 5 reserved bits, 3 bits type, 24 bits length, payload. */
function frame(payload: Buffer, type = 0): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(((type & 0x07) << 24) | payload.length, 0);
  return Buffer.concat([h, payload]);
}

/** Reads the next whole frame the router sent. */
async function readFrame(c: RawClient, timeoutMs = 3000): Promise<{ type: number; payload: Buffer }> {
  const head = await c.waitBytes(4, timeoutMs);
  if (head.length < 4) throw new Error(`no frame header (got ${head.length} bytes, socket destroyed: ${c.socket.destroyed})`);
  const len = head.readUInt32BE(0) & 0x00ffffff;
  const all = await c.waitBytes(4 + len, timeoutMs);
  if (all.length < 4 + len) throw new Error(`truncated frame: want ${len} bytes`);
  const h = c.take(4);
  return { type: h[0]! & 0x07, payload: Buffer.from(c.take(len)) };
}

async function readMessage(c: RawClient, codec: Codec): Promise<unknown[]> {
  const f = await readFrame(c);
  if (f.type !== 0) throw new Error(`expected a message frame, got type ${f.type}`);
  return codec.decode(f.payload);
}

async function handshake(c: RawClient, code: number, expectedReply: number[]): Promise<void> {
  await c.connected();
  c.write(Buffer.from([0x7f, 0xf0 | code, 0, 0]));
  const reply = await c.waitBytes(4);
  if (!Buffer.from(c.take(4)).equals(Buffer.from(expectedReply))) throw new Error(`handshake reply ${reply.subarray(0, 4).toString('hex')} != ${Buffer.from(expectedReply).toString('hex')}`);
}

/** HELLO → WELCOME; returns the session id. */
async function join(c: RawClient, codec: Codec): Promise<number> {
  c.write(frame(codec.encode([1, 'realm1', ROLES])));
  const w = await readMessage(c, codec);
  if (w[0] !== 2) throw new Error(`expected WELCOME, got ${JSON.stringify(w)}`);
  return w[1] as number;
}

async function expectAbortAndClose(t: Test, c: RawClient, codec: Codec, contains?: RegExp): Promise<void> {
  const m = await readMessage(c, codec);
  t.equal(m[0], 3, 'ABORT');
  t.equal(m[2], PV, 'reason protocol_violation');
  const text = (m[1] as { message?: unknown }).message;
  t.type(text, 'string', 'ABORT carries a readable message');
  if (contains) t.match(String(text), contains);
  await within(c.closed, 3000, 'router closes the connection after ABORT');
  t.equal(c.received.length, 0, 'nothing after ABORT');
}

/** A new RawSocket JSON session can join, call the meta API and leave cleanly. */
async function stillServes(t: Test, r: RunningRouter, exponent = 15): Promise<void> {
  const c = new RawClient(r.port);
  await handshake(c, 1, [0x7f, (exponent << 4) | 1, 0, 0]);
  const id = await join(c, codecs.json);
  t.ok(Number.isInteger(id) && id > 0, 'a new RawSocket session is welcomed');
  c.write(frame(codecs.json.encode([48, 1, {}, 'wamp.session.count'])));
  const res = await readMessage(c, codecs.json);
  t.same(res.slice(0, 2), [50, 1], 'and gets a RESULT');
  c.write(frame(codecs.json.encode([6, {}, 'wamp.close.normal'])));
  t.same(await readMessage(c, codecs.json), [6, {}, 'wamp.close.goodbye_and_out']);
  await within(c.closed, 3000, 'closed after GOODBYE');
}

t.test('RawSocket handshake and framing', async (t) => {
  // max_message_size 16 MiB (the default was 16 MiB when these were written; now 256 KiB): the handshake replies below announce 2^24.
  const r = await startRouter(testConfig({ transportExtras: { rawsocket: { options: { max_message_size: 16 * 1024 * 1024 } } } }));
  t.teardown(() => r.stop());

  await t.test('handshake 0x7F 0xF1 0 0 → 0x7F, (15<<4)|1, 0, 0 (16 MiB, JSON)', async (t) => {
    const c = new RawClient(r.port);
    await c.connected();
    c.write(Buffer.from([0x7f, 0xf1, 0, 0]));
    const reply = await c.waitBytes(4);
    t.same([...reply], [0x7f, (15 << 4) | 1, 0, 0]);
    c.destroy();
    await stillServes(t, r);
  });

  for (const codec of Object.values(codecs)) {
    await t.test(`serializer ${codec.code} (${codec.name}): handshake, HELLO/WELCOME, a call, GOODBYE`, async (t) => {
      const c = new RawClient(r.port);
      await handshake(c, codec.code, [0x7f, 0xf0 | codec.code, 0, 0]);
      t.pass(`handshake reply 0x7f ${(0xf0 | codec.code).toString(16)} 0 0`);
      c.write(frame(codec.encode([1, 'realm1', ROLES])));
      const wf = await readFrame(c);
      t.equal(wf.type, 0, 'WELCOME arrives in a message frame');
      const w = codec.decode(wf.payload);
      t.equal(w[0], 2, 'WELCOME');
      if (codec.name !== 'json') {
        // Ids are integers: on the wire they must be integers too (WELCOME = [2, Session|id, ...],
        // so the id's type byte is at offset 2), never float64 (msgpack 0xcb, CBOR 0xfb).
        const typeByte = wf.payload[2]!;
        const integer = codec.name === 'msgpack'
          ? typeByte < 0x80 || (typeByte >= 0xcc && typeByte <= 0xcf)
          : typeByte <= 0x1b;
        t.ok(integer, `session id ${String(w[1])} is encoded as a ${codec.name} integer (type byte 0x${typeByte.toString(16)})`);
      }
      t.ok(Number.isSafeInteger(w[1]) && (w[1] as number) > 0, 'session id is a positive integer');
      const details = w[2] as Record<string, unknown>;
      t.equal(details.realm, 'realm1');
      t.ok(typeof details.roles === 'object' && details.roles !== null, 'WELCOME announces router roles');
      c.write(frame(codec.encode([48, 1, {}, 'wamp.session.get', [w[1]]])));
      const res = await readMessage(c, codec);
      t.same(res.slice(0, 2), [50, 1], 'RESULT');
      const sess = (res[3] as Record<string, unknown>[])[0]!;
      t.equal(sess.session, w[1]);
      t.match(sess.transport, { type: 'rawsocket', serializer: codec.name }, 'meta API knows the transport');
      c.write(frame(codec.encode([6, {}, 'wamp.close.normal'])));
      t.same(await readMessage(c, codec), [6, {}, 'wamp.close.goodbye_and_out']);
      await within(c.closed, 3000, 'close after GOODBYE');
    });
  }

  for (const code of [0, 4, 5, 15]) {
    await t.test(`unsupported serializer ${code} → 0x7F 0x10 0 0, then close`, async (t) => {
      const c = new RawClient(r.port);
      await c.connected();
      c.write(Buffer.from([0x7f, 0xf0 | code, 0, 0]));
      await within(c.closed, 3000, 'close after the error reply');
      t.same([...c.received], [0x7f, 0x10, 0, 0]);
      await stillServes(t, r);
    });
  }

  for (const reserved of [[1, 0], [0, 1], [0xff, 0xff]]) {
    await t.test(`reserved handshake bytes ${reserved} → 0x7F 0x30 0 0, then close`, async (t) => {
      const c = new RawClient(r.port);
      await c.connected();
      c.write(Buffer.from([0x7f, 0xf1, ...reserved]));
      await within(c.closed, 3000, 'close after the error reply');
      t.same([...c.received], [0x7f, 0x30, 0, 0]);
      await stillServes(t, r);
    });
  }

  await t.test('PING → PONG with the same payload (before and after HELLO)', async (t) => {
    const c = new RawClient(r.port);
    await handshake(c, 1, [0x7f, 0xf1, 0, 0]);
    const payload = Buffer.from('ping-1234\u0000\u00ff', 'latin1');
    c.write(frame(payload, 1));
    let f = await readFrame(c);
    t.equal(f.type, 2, 'PONG');
    t.same([...f.payload], [...payload], 'same payload');
    c.write(frame(Buffer.alloc(0), 1));
    f = await readFrame(c);
    t.same([f.type, f.payload.length], [2, 0], 'empty PING → empty PONG');
    await join(c, codecs.json);
    const big = Buffer.alloc(5000, 0xab);
    c.write(frame(big, 1));
    f = await readFrame(c);
    t.equal(f.type, 2, 'PONG on an established session');
    t.ok(f.payload.equals(big), 'a 5000-byte payload comes back unchanged');
    c.write(frame(Buffer.from('unsolicited'), 2));
    c.write(frame(codecs.json.encode([48, 1, {}, 'wamp.session.count'])));
    const res = await readMessage(c, codecs.json);
    t.same(res.slice(0, 2), [50, 1], 'an unsolicited PONG is ignored and the session continues');
    c.destroy();
  });

  const badHeaders: { name: string; first: number }[] = [
    { name: 'unknown frame type 3', first: 0x03 },
    { name: 'unknown frame type 7', first: 0x07 },
    { name: 'reserved bit 0x08 set', first: 0x08 },
    { name: 'reserved bit 0x80 set on a message frame', first: 0x80 },
  ];
  for (const b of badHeaders) {
    for (const joined of [false, true]) {
      await t.test(`${b.name} (${joined ? 'after WELCOME' : 'before HELLO'}) → ABORT, then close`, async (t) => {
        const c = new RawClient(r.port);
        await handshake(c, 1, [0x7f, 0xf1, 0, 0]);
        if (joined) await join(c, codecs.json);
        const payload = codecs.json.encode([48, 1, {}, 'wamp.session.count']);
        const f = frame(payload);
        f[0] = b.first;
        c.write(f);
        await expectAbortAndClose(t, c, codecs.json, /RawSocket frame/);
        await eventually(() => r.router.sessionCount === 0);
        await stillServes(t, r);
      });
    }
  }

  await t.test('msgpack: ABORT for a bad frame arrives in msgpack', async (t) => {
    const c = new RawClient(r.port);
    await handshake(c, 2, [0x7f, 0xf2, 0, 0]);
    await join(c, codecs.msgpack);
    c.write(Buffer.from([0x05, 0, 0, 1, 0x90]));
    await expectAbortAndClose(t, c, codecs.msgpack, /type 5/);
    await stillServes(t, r);
  });

  await t.test('undecodable payload in a message frame → ABORT, then close', async (t) => {
    const c = new RawClient(r.port);
    await handshake(c, 2, [0x7f, 0xf2, 0, 0]);
    await join(c, codecs.msgpack);
    c.write(frame(Buffer.from([0xc1, 0xc1])));
    await expectAbortAndClose(t, c, codecs.msgpack, /cannot decode msgpack/);
    await stillServes(t, r);
  });

  await t.test('handshake split across two TCP writes', async (t) => {
    const c = new RawClient(r.port);
    await c.connected();
    c.write(Buffer.from([0x7f]));
    await sleep(40);
    t.equal(c.received.length, 0, 'no reply to half a handshake');
    c.write(Buffer.from([0xf1, 0]));
    await sleep(40);
    c.write(Buffer.from([0]));
    const reply = await c.waitBytes(4);
    t.same([...reply.subarray(0, 4)], [0x7f, 0xf1, 0, 0]);
    c.take(4);
    // A frame split between header and payload, and inside the header.
    const hello = frame(codecs.json.encode([1, 'realm1', ROLES]));
    c.write(hello.subarray(0, 2));
    await sleep(20);
    c.write(hello.subarray(2, 7));
    await sleep(20);
    c.write(hello.subarray(7));
    const w = await readMessage(c, codecs.json);
    t.equal(w[0], 2, 'WELCOME after a segmented HELLO');
    c.destroy();
    await stillServes(t, r);
  });

  await t.test('handshake and HELLO (and a CALL) in one TCP write', async (t) => {
    const c = new RawClient(r.port);
    await c.connected();
    c.write(Buffer.concat([
      Buffer.from([0x7f, 0xf1, 0, 0]),
      frame(codecs.json.encode([1, 'realm1', ROLES])),
      frame(codecs.json.encode([48, 1, {}, 'wamp.session.count'])),
    ]));
    await c.waitBytes(4);
    t.same([...c.take(4)], [0x7f, 0xf1, 0, 0], 'handshake reply first');
    t.equal((await readMessage(c, codecs.json))[0], 2, 'then WELCOME');
    t.same((await readMessage(c, codecs.json)).slice(0, 2), [50, 1], 'then RESULT');
    c.destroy();
  });

  await t.test('client half-close (FIN) → router closes its side', async (t) => {
    const c = new RawClient(r.port);
    await handshake(c, 1, [0x7f, 0xf1, 0, 0]);
    await join(c, codecs.json);
    await eventually(() => r.router.sessionCount === 1);
    c.socket.end();
    await within(c.closed, 3000, 'router closes after the client half-closes');
    await eventually(() => r.router.sessionCount === 0);
    t.pass('session gone');

    const p = new RawClient(r.port);
    await p.connected();
    p.write(Buffer.from([0x7f, 0xf1]));
    await sleep(20);
    p.socket.end();
    await within(p.closed, 3000, 'router closes after a half-close mid-handshake');
    t.equal(p.received.length, 0, 'no handshake reply to an incomplete handshake');
    await stillServes(t, r);
  });
});

t.test('RawSocket with max_message_size 1024', async (t) => {
  const r = await startRouter(testConfig({ transportExtras: { rawsocket: { options: { max_message_size: 1024 } } } }));
  t.teardown(() => r.stop());

  await t.test('handshake announces 2^(9+1) = 1024', async (t) => {
    const c = new RawClient(r.port);
    await c.connected();
    c.write(Buffer.from([0x7f, 0xf1, 0, 0]));
    const reply = await c.waitBytes(4);
    t.same([...reply], [0x7f, 0x11, 0, 0]);
    c.destroy();
  });

  await t.test('a frame of exactly 1024 bytes is accepted; 1025+ → ABORT, then close', async (t) => {
    const c = new RawClient(r.port);
    await handshake(c, 1, [0x7f, 0x11, 0, 0]);
    await join(c, codecs.json);
    const base = codecs.json.encode([16, 1, { acknowledge: true }, 'com.topic', ['']]).length;
    const exact = codecs.json.encode([16, 1, { acknowledge: true }, 'com.topic', ['x'.repeat(1024 - base)]]);
    t.equal(exact.length, 1024);
    c.write(frame(exact));
    t.same((await readMessage(c, codecs.json)).slice(0, 2), [17, 1], 'PUBLISHED for a 1024-byte frame');

    const over = codecs.json.encode([16, 2, { acknowledge: true }, 'com.topic', ['x'.repeat(2000)]]);
    // The header alone announces the length; the router must not wait for the body.
    c.write(frame(over).subarray(0, 4));
    await expectAbortAndClose(t, c, codecs.json, /2\d{3} bytes.*1024/);
    await eventually(() => r.router.sessionCount === 0);
    await stillServes(t, r, 1);
  });

  await t.test('length 0xFFFFFF → ABORT, then close', async (t) => {
    const c = new RawClient(r.port);
    await handshake(c, 1, [0x7f, 0x11, 0, 0]);
    c.write(Buffer.from([0, 0xff, 0xff, 0xff]));
    await expectAbortAndClose(t, c, codecs.json, /exceeds/);
    await stillServes(t, r, 1);
  });
});
