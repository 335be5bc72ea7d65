// Fuzzing a real router over real sockets (fast-check): valid WAMP message
// skeletons with mutated fields and options, random JSON arrays, and random
// bytes, over WebSocket and RawSocket with all three serializers.
//
// Checks, after every batch:
//   - every fuzzing connection either answers a final probe CALL (its state
//     is still sane) or was closed, and a closed one got ABORT or GOODBYE
//     first unless it asked for the close itself;
//   - a separate well-behaved caller still gets its call through a
//     well-behaved callee (through the dealer, not just the meta API);
//   - the router process is still up (it runs in this process: a crash
//     would end the test).
// And after two runs: the heap after the second run is not materially bigger
// than after the first (gc forced through v8 flags).
//
// Bounded: each of the two runs stops after RUN_MS of wall time or
// MAX_RUNS batches, whichever comes first (~12 s in all with setup); every
// wait inside has its own timeout.
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { startRouter, testConfig, within } from './helpers.js';
import { Wire, ROLES, type WireKind } from './wire.js';
import { serializerById, type SerializerId } from '../src/serializers/index.js';

const RUN_MS = 5000;
const MAX_RUNS = 1000;
const PROBE = 987654;

v8.setFlagsFromString('--expose-gc');
const gc = (globalThis as { gc?: () => void }).gc ?? (vm.runInNewContext('gc') as (() => void) | undefined);

const FUZZ_ROLE = [
  { uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } },
  // Fuzzers must not be able to kill the well-behaved sessions by luck.
  { uri: 'wamp.session.', match: 'prefix', allow: { call: false, register: false, publish: false, subscribe: false }, disclose: { caller: false, publisher: false } },
];
const GOOD_ROLE = [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } }];

const OPTION_KEYS = ['acknowledge', 'match', 'invoke', 'timeout', 'receive_progress', 'exclude', 'eligible', 'exclude_authid', 'disclose_me',
  'retain', 'mode', 'progress', 'get_retained', 'force_reregister', 'exclude_me', 'enc_algo', 'ppt_scheme', 'x_custom'];

const weird = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(-1, 0, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1.5, -0, '', 'wamp.', 'com..x', '#', null, [], {}, true),
  fc.string({ maxLength: 40 }),
);
const options = fc.dictionary(fc.constantFrom(...OPTION_KEYS), weird, { maxKeys: 4 });
const id = fc.oneof(fc.nat({ max: 20 }), fc.constantFrom(2 ** 53, -5, 0.5));
const uri = fc.oneof(fc.constantFrom('com.fuzz.t', 'com.fuzz.echo', 'com.fuzz.p', 'com.fuzz', 'wamp.session.count', 'wamp.registration.list'), fc.string({ maxLength: 20 }));

/** Valid-looking messages of every type a client may (and may not) send. */
const skeleton: fc.Arbitrary<unknown[]> = fc.oneof(
  fc.tuple(fc.constant(1), fc.constantFrom('realm1', 'nope', ''), fc.constant(ROLES as unknown)),
  fc.tuple(fc.constant(16), id, options, uri, fc.array(weird, { maxLength: 3 }), fc.dictionary(fc.string(), weird, { maxKeys: 2 })),
  fc.tuple(fc.constant(32), id, options, uri),
  fc.tuple(fc.constant(34), id, id),
  fc.tuple(fc.constant(48), id, options, uri, fc.array(weird, { maxLength: 3 })),
  fc.tuple(fc.constant(49), id, options),
  fc.tuple(fc.constant(64), id, options, uri),
  fc.tuple(fc.constant(66), id, id),
  fc.tuple(fc.constant(70), id, options, fc.array(weird, { maxLength: 2 })),
  fc.tuple(fc.constant(8), fc.constantFrom(68, 48, 16, 99), id, options, uri),
  fc.tuple(fc.constant(5), fc.string(), options),
  fc.tuple(fc.constant(6), fc.constant({}), fc.constant('wamp.close.normal')),
  fc.tuple(fc.constantFrom(2, 4, 36, 50, 68, 7, 255), id),
) as fc.Arbitrary<unknown[]>;

/** A skeleton with one element replaced, removed or appended. */
const mutated = fc.tuple(skeleton, fc.nat({ max: 6 }), weird, fc.constantFrom('set', 'drop', 'append', 'none')).map(([m, i, v, how]) => {
  const out = [...m];
  if (how === 'set') out[i % out.length] = v;
  else if (how === 'drop') out.splice(i % out.length, 1);
  else if (how === 'append') out.push(v);
  return out;
});

type Input = { kind: 'msg'; message: unknown } | { kind: 'bytes'; bytes: Uint8Array };
const input: fc.Arbitrary<Input> = fc.oneof(
  { weight: 5, arbitrary: mutated.map((message) => ({ kind: 'msg' as const, message })) },
  { weight: 2, arbitrary: fc.array(fc.jsonValue(), { maxLength: 6 }).map((message) => ({ kind: 'msg' as const, message })) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
);

const connection = fc.record({
  kind: fc.constantFrom<WireKind>('ws', 'raw'),
  serializer: fc.constantFrom<SerializerId>('json', 'msgpack', 'cbor'),
  hello: fc.boolean(),
  inputs: fc.array(input, { minLength: 1, maxLength: 6 }),
});

/** Connections that send HELLO and one valid SUBSCRIBE before the probe: they must be answered. */
const WELL_FORMED: { kind: WireKind; serializer: SerializerId; hello: boolean; inputs: Input[] }[] = (['ws', 'raw'] as const).flatMap((kind) =>
  (['json', 'msgpack', 'cbor'] as const).map((serializer) => ({ kind, serializer, hello: true, inputs: [{ kind: 'msg' as const, message: [32, 1, {}, 'com.fuzz.t'] }] })));

/** Whether what we sent decodes to a message that asks the router to close (ABORT, GOODBYE). */
function asksToClose(serializer: SerializerId, inputs: Input[]): boolean {
  return inputs.some((i) => {
    let m: unknown = i.kind === 'msg' ? i.message : undefined;
    if (i.kind === 'bytes') {
      try { m = serializerById(serializer)!.decode(serializer === 'json' ? Buffer.from(i.bytes).toString('utf8') : i.bytes); } catch { return false; }
    }
    return Array.isArray(m) && (m[0] === 3 || m[0] === 6);
  });
}

t.test('fuzz: random and mutated messages on every transport and serializer', async (t) => {
  const opts = { max_message_size: 65536, hello_timeout: 3000 };
  const r = await startRouter(testConfig({
    // Random messages carry random request ids: with the spec's sequence check (issue 20) almost
    // every one would end its session at the first request, and the fuzz would not reach the
    // routing code behind it. The sequence check itself is tested in spec-edges.test.ts.
    realms: [{ name: 'realm1', options: { legacy_request_ids: true }, roles: [{ name: 'anonymous', permissions: FUZZ_ROLE }, { name: 'good', permissions: GOOD_ROLE, limits: { call_rate: null } }] }],
    transportExtras: {
      rawsocket: { options: opts },
      websocket: {
        ws: { type: 'websocket', options: opts },
        good: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'good' } } },
      },
    },
  }));
  t.teardown(() => r.stop());

  const callee = await Wire.open({ kind: 'raw', port: r.port, serializer: 'cbor', path: '/good' });
  // RawSocket has no path: the callee uses the fuzzers' role, but registers first, with `single`.
  await callee.join();
  callee.send([64, 1, {}, 'com.fuzz.echo']);
  await callee.next(65);
  const caller = await Wire.open({ kind: 'ws', port: r.port, serializer: 'msgpack', path: '/good' });
  await caller.join();
  // The callee answers every INVOCATION with its arguments.
  let answering = true;
  const serve = (async () => {
    while (answering && !callee.isClosed) {
      const inv = await callee.next(68, 1000).catch(() => undefined);
      if (inv) callee.send([70, inv[1], {}, (inv[4] as unknown[] | undefined) ?? []]);
    }
  })();
  let goodReq = 1;
  const goodRoundTrip = async (): Promise<boolean> => {
    const n = goodReq++;
    const res = await caller.call(n, 'com.fuzz.echo', [n], 5000);
    if (res[0] === 50 && (res[3] as number[])[0] === n) return true;
    t.comment(`well-behaved call ${n} got ${JSON.stringify(res)}`);
    return false;
  };

  let batches = 0;
  let closedWithReason = 0;
  let answered = 0;
  const run = async (): Promise<void> => {
    await fc.assert(
      fc.asyncProperty(fc.array(connection, { minLength: 1, maxLength: 4 }), async (conns) => {
        batches++;
        const wires = await Promise.all(conns.map(async (c) => {
          const w = await Wire.open({ kind: c.kind, port: r.port, serializer: c.serializer });
          if (c.hello) w.send([1, 'realm1', ROLES]);
          for (const i of c.inputs) {
            if (i.kind === 'msg') {
              try { w.send(i.message); } catch { w.sendBytes(Buffer.from(JSON.stringify(i.message)), true); }
            } else {
              w.sendBytes(Buffer.from(i.bytes), true);
            }
          }
          w.send([48, PROBE, {}, 'com.fuzz.echo', ['probe']]);
          return { w, c };
        }));
        for (const { w, c } of wires) {
          const outcome = await within(Promise.race([
            w.closed.then(() => 'closed' as const),
            (async () => {
              for (;;) {
                if (w.messages.some((m) => (m[0] === 50 && m[1] === PROBE) || (m[0] === 8 && m[2] === PROBE))) return 'answered' as const;
                if (w.isClosed) return 'closed' as const;
                await new Promise((res) => setTimeout(res, 10));
              }
            })(),
          ]), 8000, 'a fuzzing connection neither answered nor closed');
          if (outcome === 'closed') {
            const told = w.messages.some((m) => m[0] === 3 || m[0] === 6);
            if (!told && !asksToClose(c.serializer, c.inputs)) {
              throw new Error(`closed without ABORT/GOODBYE: ${c.kind} ${c.serializer} ${JSON.stringify(c.inputs).slice(0, 400)}`);
            }
            closedWithReason++;
          } else {
            answered++;
          }
          w.close();
        }
        if (!(await goodRoundTrip())) throw new Error('the well-behaved call failed');
      }),
      // Random inputs almost always break the session (since the spec's stricter checks, ~1 in
      // 500 survives), so "still answering" would be left to luck: one batch always has a
      // connection whose only input is well-formed, on every transport and serializer.
      { numRuns: MAX_RUNS, interruptAfterTimeLimit: RUN_MS, markInterruptAsFailure: false, examples: [[WELL_FORMED]] },
    );
  };

  const heapAfter = async (): Promise<number> => {
    await new Promise((res) => setTimeout(res, 200));
    gc?.();
    await new Promise((res) => setTimeout(res, 50));
    gc?.();
    return process.memoryUsage().heapUsed;
  };

  await run();
  const first = await heapAfter();
  const firstBatches = batches;
  await run();
  const second = await heapAfter();
  t.comment(`batches: ${firstBatches} + ${batches - firstBatches}; connections closed with a reason: ${closedWithReason}, still answering: ${answered}; heap after run 1: ${(first / 2 ** 20).toFixed(1)} MiB, after run 2: ${(second / 2 ** 20).toFixed(1)} MiB (gc ${gc ? 'forced' : 'not available'})`);
  t.ok(batches >= 20, 'enough batches ran');
  t.ok(closedWithReason > 0 && answered > 0, 'the fuzz reached both outcomes');
  // Garbage a run leaves behind is freed by the forced gc; without it, allow for uncollected garbage.
  const slack = gc ? 8 * 2 ** 20 : 64 * 2 ** 20;
  t.ok(second <= first * 1.25 + slack, 'the heap did not grow materially across runs');
  t.ok(await goodRoundTrip(), 'the well-behaved session still gets answers');
  t.equal(r.router.sessionCount, 2, 'only the two well-behaved sessions are left');

  answering = false;
  await serve;
  caller.close();
  callee.close();
});
