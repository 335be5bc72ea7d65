// Decode bombs (issue 13, attack 4): small MessagePack and CBOR messages that
// cost seconds (or never finish) to decode, sent before HELLO and after, over
// WebSocket and RawSocket, by one client and by several at once.
//
// What they did before the structural scans (serializers/*-scan.ts), measured
// here on the unfixed router:
//   - MessagePack, eight nested `array32` headers claiming 2^24 elements
//     each (40 bytes): @msgpack/msgpack preallocates every array: 6 s and
//     1.9 GB of heap; sixteen of them end the process;
//   - CBOR, a value-sharing DAG (tags 28/29) of 2^24 leaves in 154 bytes:
//     cbor-x decodes it instantly, then the router's own walk over the value
//     visits 16 M empty maps (1 s per 2^22 on this VM);
//   - CBOR, the same with a reference back into a value still being read (a
//     cycle): cbor-x re-reads the value per reference; 46 bytes took 4.5 s,
//     50 bytes never finished.
// The bounds asserted: every bomb is refused with ABORT naming the cause and
// the connection closed; meanwhile the event loop never stalls for more than
// MAX_STALL_MS and the heap grows by less than MAX_HEAP_GROWTH; a normal
// session's round trips stay under MAX_ROUND_TRIP_MS; the router serves
// normally afterwards.
import t from 'tap';
import { Wire } from './wire.js';
import { startHostileRouter, stallMonitor, heapUsed, probeWhile, MiB, ALLOW_ALL } from './hostile-helpers.js';
import { testConfig, within } from './helpers.js';
import { cborSerializer, jsonSerializer, msgpackSerializer } from '../src/serializers/index.js';

/** Generous: other suites share the 2 cores; unfixed: seconds, or forever. */
const MAX_STALL_MS = 500;
const MAX_ROUND_TRIP_MS = 1000;
const MAX_HEAP_GROWTH = 64 * MiB;

function tag(n: number): number[] { return n < 24 ? [0xc0 | n] : [0xd8, n]; }
function uint(n: number): number[] { return n < 24 ? [n] : n < 256 ? [0x18, n] : [0x19, n >> 8, n & 255]; }

/** CBOR: a_0 = shareable {}; a_i = shareable [a_(i-1) inline, ref a_(i-1)]: 2^k leaves. `cyclic`: each ref points at the value being read. */
function cborDag(k: number, cyclic: boolean): Buffer {
  let bytes: number[] = [...tag(28), 0xa0];
  // ids are given in pre-order: a_k is 0, a_(k-1) is 1, ..., a_0 is k.
  for (let i = 1; i <= k; i++) bytes = [...tag(28), 0x82, ...bytes, ...tag(29), ...uint(cyclic ? k - i : k - i + 1)];
  // [16, 1, {}, "t", [<dag>]]: a PUBLISH, or whatever the session makes of it
  return Buffer.from([0x85, 0x10, 0x01, 0xa0, 0x61, 0x74, 0x81, ...bytes]);
}

/** MessagePack: `levels` nested array32 headers claiming 2^24 elements each. */
function msgpackNested(levels: number): Buffer {
  const b = Buffer.alloc(5 * levels);
  for (let i = 0; i < levels; i++) { b[5 * i] = 0xdd; b.writeUInt32BE(0x1000000, 5 * i + 1); }
  return b;
}

/** MessagePack: an array32 claiming 2^24 empty maps, then `n` of them (the 16 KiB message). */
function msgpackClaim(n: number): Buffer {
  const b = Buffer.alloc(5 + n, 0x80);
  b[0] = 0xdd;
  b.writeUInt32BE(0x1000000, 1);
  return b;
}

interface Bomb { name: string; serializer: 'cbor' | 'msgpack' | 'json'; bytes: Buffer; reason: RegExp }

const bombs: Bomb[] = [
  { name: 'CBOR value-sharing DAG, 2^24 leaves', serializer: 'cbor', bytes: cborDag(24, false), reason: /CBOR tag 28 is not accepted/ },
  { name: 'CBOR value-sharing cycle', serializer: 'cbor', bytes: cborDag(12, true), reason: /CBOR tag 28 is not accepted/ },
  { name: 'CBOR packed-value table (tag 51)', serializer: 'cbor', bytes: Buffer.from([0xd8, 0x33, 0x84, 0x81, 0xa0, 0x80, 0x80, 0xc6, 0x00]), reason: /CBOR tag 51 is not accepted/ },
  { name: 'MessagePack, 8 nested array32 of 2^24', serializer: 'msgpack', bytes: msgpackNested(8), reason: /ends inside a value/ },
  { name: 'MessagePack, 2^24 empty maps claimed in 16 KiB', serializer: 'msgpack', bytes: msgpackClaim(16 * 1024 - 64), reason: /ends inside a value/ },
];

async function sendBomb(port: number, kind: 'ws' | 'raw', bomb: Bomb, afterHello: boolean): Promise<{ abort: unknown[]; closed: boolean }> {
  const c = await Wire.open({ kind, port, serializer: bomb.serializer });
  if (afterHello) await c.join();
  c.sendBytes(bomb.bytes);
  const abort = await c.next(3, 10_000);
  await within(c.closed, 5000, 'the bomb\'s connection closes');
  return { abort, closed: c.isClosed };
}

t.test('decode bombs are refused before they cost anything', async (t) => {
  const r = await startHostileRouter(testConfig({ realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: ALLOW_ALL }] }] }));
  t.teardown(() => r.stop());

  for (const bomb of bombs) {
    for (const kind of ['ws', 'raw'] as const) {
      for (const afterHello of [false, true]) {
        await t.test(`${bomb.name}, ${kind}, ${afterHello ? 'after WELCOME' : 'before HELLO'} (${bomb.bytes.length} bytes)`, async (t) => {
          const heap0 = heapUsed();
          const stall = stallMonitor();
          const attack = sendBomb(r.port, kind, bomb, afterHello);
          const probe = probeWhile(r.port, attack);
          const { abort, closed } = await attack;
          const maxStall = stall.stop();
          const { maxMs } = await probe;
          t.equal(abort[2], 'wamp.error.protocol_violation');
          t.match((abort[1] as { message: string }).message, bomb.reason, 'the ABORT names the cause');
          t.ok(closed, 'and the connection is closed');
          t.ok(maxStall < MAX_STALL_MS, `the event loop never stalled for ${MAX_STALL_MS} ms (longest ${maxStall.toFixed(1)} ms)`);
          t.ok(maxMs < MAX_ROUND_TRIP_MS, `another session's round trips stayed under ${MAX_ROUND_TRIP_MS} ms (longest ${maxMs.toFixed(1)} ms)`);
          t.ok(heapUsed() - heap0 < MAX_HEAP_GROWTH, `the heap grew by less than ${MAX_HEAP_GROWTH / MiB} MiB`);
        });
      }
    }
  }

  await t.test('too many values or too deep, in every serializer (after WELCOME, within max_message_size)', async (t) => {
    const emptyMaps = [16, 1, {}, 'com.t', Array.from({ length: 40_000 }, () => ({}))];
    let deep: unknown = [];
    for (let i = 0; i < 80; i++) deep = [deep];
    const tooDeep = [16, 1, {}, 'com.t', [deep]];
    const counted = r.router.limitCounters.decodeLimited;
    for (const serializer of ['json', 'msgpack', 'cbor'] as const) {
      const s = { json: jsonSerializer, msgpack: msgpackSerializer, cbor: cborSerializer }[serializer];
      for (const [what, msg, reason] of [['40,000 empty maps', emptyMaps, /more than 32768 values/], ['80 levels', tooDeep, /nested deeper than 64/]] as const) {
        const c = await Wire.open({ kind: 'raw', port: r.port, serializer });
        await c.join();
        const enc = s.encode(msg as unknown[]);
        c.sendBytes(typeof enc === 'string' ? Buffer.from(enc) : Buffer.from(enc));
        const abort = await c.next(3, 10_000);
        t.match((abort[1] as { message: string }).message, reason, `${serializer}, ${what}: ABORT names the limit`);
        await within(c.closed, 5000, 'closed');
      }
    }
    t.equal(r.router.limitCounters.decodeLimited, counted + 6, 'each is counted (decode_limited)');
  });

  await t.test('several clients at once, every bomb on both transports', async (t) => {
    const heap0 = heapUsed();
    const stall = stallMonitor();
    const attack = Promise.all(Array.from({ length: 3 }, () => bombs.flatMap((b) => [sendBomb(r.port, 'ws', b, false), sendBomb(r.port, 'raw', b, true)])).flat());
    const probe = probeWhile(r.port, attack);
    const results = await attack;
    const maxStall = stall.stop();
    const { maxMs, calls } = await probe;
    t.equal(results.length, bombs.length * 6);
    t.ok(results.every((x) => x.abort[2] === 'wamp.error.protocol_violation' && x.closed), 'every one was aborted and closed');
    t.ok(maxStall < MAX_STALL_MS, `the event loop never stalled for ${MAX_STALL_MS} ms (longest ${maxStall.toFixed(1)} ms)`);
    t.ok(maxMs < MAX_ROUND_TRIP_MS, `the probe's round trips stayed under ${MAX_ROUND_TRIP_MS} ms (longest ${maxMs.toFixed(1)} ms over ${calls} calls)`);
    t.ok(heapUsed() - heap0 < MAX_HEAP_GROWTH, `the heap grew by less than ${MAX_HEAP_GROWTH / MiB} MiB`);
  });

  await t.test('afterwards the router serves normally in every serializer', async (t) => {
    for (const serializer of ['json', 'msgpack', 'cbor'] as const) {
      const c = await Wire.open({ kind: 'ws', port: r.port, serializer });
      await c.join();
      t.equal((await c.call(1, 'wamp.session.count'))[0], 50, serializer);
      c.close();
    }
  });
});
