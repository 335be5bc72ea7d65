// Dealer behaviour through real clients on a real router: autobahn-js for the
// application-level view, and the wire-level client (wire.ts) where the
// exact shape of what the router sends matters (and for what autobahn cannot
// do: announce call_canceling as a callee, send a CANCEL it won't resolve
// locally, unregister an id it doesn't hold). Every case runs over WebSocket
// with JSON, MessagePack and CBOR, and over RawSocket (JSON).
import t from 'tap';
import { autobahn, callError, eventually, sleep } from './helpers.js';
import {
  MatrixFixture, VARIANTS, WAIT_MS, binaryCapable, matrixConfig, norm, NESTED_ARGS, NESTED_KWARGS,
  type AbClient, type HasTeardown, type Variant,
} from './matrix.js';
import type { Msg, Wire } from './wire.js';

// ---- config, fixture ---------------------------------------------------------

/** A URI-safe key per variant, for procedure names that must not collide. */
const key = (v: Variant): string => v.name.replace('/', '_');

/** `restricted` may neither call nor register (matrix.ts has the other two roles). */
const config = (): unknown => matrixConfig({ name: 'restricted', allow: { call: false, register: false, publish: true, subscribe: true } });

interface AbResultT { args: unknown[]; kwargs: Record<string, unknown> }
const AbResult = (autobahn as unknown as { Result: new (args?: unknown[], kwargs?: Record<string, unknown>) => AbResultT }).Result;

interface Client extends AbClient { variant: Variant }

class Fixture extends MatrixFixture {
  static async start(t: HasTeardown): Promise<Fixture> {
    return new Fixture(await MatrixFixture.router(t, config()));
  }

  /** An autobahn session. */
  async ab(t: HasTeardown, v: Variant, opts: { role?: string } = {}): Promise<Client> {
    return { ...await this.session(t, v, opts), variant: v };
  }

  abs(t: HasTeardown, v: Variant, n: number): Promise<Client[]> {
    return Promise.all(Array.from({ length: n }, () => this.ab(t, v)));
  }
}

/**
 * Awaits `p` and reports its wall time and its "running" time: wall time minus
 * the stretches when this process did not run at all (event-loop gaps of more
 * than 50 ms on a 5 ms ticker: machine load, not the router, since the router
 * runs in this same process). An idle wait on a router timer still counts.
 */
async function timed<T>(p: Promise<T>): Promise<{ value: T; wallMs: number; activeMs: number }> {
  const t0 = performance.now();
  let last = t0;
  let stalled = 0;
  const tick = (): void => { const n = performance.now(); stalled += Math.max(0, n - last - 50); last = n; };
  const iv = setInterval(tick, 5);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`not settled within ${WAIT_MS} ms`)), WAIT_MS); });
  try {
    const value = await Promise.race([p, deadline]);
    tick();
    const wallMs = performance.now() - t0;
    return { value, wallMs, activeMs: wallMs - stalled };
  } finally {
    clearInterval(iv);
    clearTimeout(timer);
  }
}

const isInvocation = (m: Msg): boolean => m[0] === 68;
const answers = (type: number, req: number) => (m: Msg): boolean => (m[0] === type && m[1] === req) || (m[0] === 8 && m[2] === req);
const errorFor = (req: number) => (m: Msg): boolean => m[0] === 8 && m[2] === req;

// ---- tests ---------------------------------------------------------------------

t.test('call/result: args and kwargs reach the caller unchanged, across serializers', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(`callee on ${v.name}`, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.echo.${key(v)}`;
      const [callee, ...callers] = await Promise.all([f.ab(t, v), ...VARIANTS.map((cv) => f.ab(t, cv))]);
      const seen: unknown[][] = [];
      await callee!.session.register(proc, (args: unknown[], kwargs: Record<string, unknown>) => { seen.push(args); return new AbResult(args, kwargs); });
      await callee!.session.register(`${proc}.single`, (args: unknown[]) => args[0]);
      for (const c of callers) {
        const bin = binaryCapable(v) && binaryCapable(c.variant);
        const args = bin ? [...NESTED_ARGS, Buffer.from([0, 1, 255]), { nested: new Uint8Array([9, 8]) }] : NESTED_ARGS;
        const kwargs = bin ? { ...NESTED_KWARGS, blob: Buffer.from('bytes') } : NESTED_KWARGS;
        const res = await c.session.call(proc, args, kwargs) as AbResultT;
        t.ok(res instanceof AbResult, `${c.variant.name}: a multi-value result`);
        t.strictSame(norm(res.args), norm(args), `${c.variant.name} → ${v.name}: args${bin ? ' (with binary)' : ''}`);
        t.strictSame(norm(res.kwargs), norm(kwargs), `${c.variant.name} → ${v.name}: kwargs`);
        t.strictSame(await c.session.call(`${proc}.single`, [{ x: [1.5, 'ü'] }]), { x: [1.5, 'ü'] }, `${c.variant.name}: single return value`);
      }
      t.equal(seen.length, callers.length, 'the callee saw each call exactly once');
      t.strictSame(norm(seen[0]), norm(NESTED_ARGS), 'the callee got the caller\'s args');
    });
  }
});

t.test('INVOCATION and RESULT on the wire keep the payload shape (empty args kept with kwargs)', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [callee, caller] = await Promise.all([f.wire(t, v), f.wire(t, v)]);
      const proc = `com.shape.${key(v)}`;
      const reg = await callee.register(proc);
      const cases: { call: unknown[]; answer: unknown[] }[] = [
        { call: [], answer: [] },
        { call: [['x', 1.5]], answer: [['y']] },
        { call: [[], { a: 1 }], answer: [[], { b: { c: 2 } }] },
        { call: [['p'], { q: null }], answer: [['r', 's'], { t: true }] },
      ];
      const invocationIds = new Set<unknown>();
      for (const c of cases) {
        const req = caller.request();
        await caller.send([48, req, {}, proc, ...c.call]);
        const inv = await callee.take(isInvocation, 'INVOCATION');
        invocationIds.add(inv[1]);
        t.strictSame(inv, [68, inv[1], reg, {}, ...c.call], `INVOCATION for ${JSON.stringify(c.call)}`);
        await callee.send([70, inv[1], {}, ...c.answer]);
        t.strictSame(await caller.take(answers(50, req), 'RESULT'), [50, req, {}, ...c.answer], `RESULT for ${JSON.stringify(c.answer)}`);
      }
      t.equal(invocationIds.size, cases.length, 'a fresh INVOCATION request id per call');
    });
  }
});

t.test('a callee\'s error reaches the caller unchanged', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(`callee on ${v.name}`, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.fail.${key(v)}`;
      const [callee, ...callers] = await Promise.all([f.ab(t, v), ...VARIANTS.map((cv) => f.ab(t, cv))]);
      await callee!.session.register(proc, () => {
        throw new autobahn.Error('com.myapp.error.custom', [1, 'two', { three: 3.5 }], { reason: 'ünïcødé', n: null, list: [] });
      });
      for (const c of callers) {
        const e = await callError(c.session.call(proc, ['x']));
        t.strictSame(e, { error: 'com.myapp.error.custom', args: [1, 'two', { three: 3.5 }], kwargs: { reason: 'ünïcødé', n: null, list: [] } }, `${c.variant.name}`);
      }

      // The exact ERROR on the wire, with and without payload.
      const [wCallee, wCaller] = await Promise.all([f.wire(t, v), f.wire(t, v)]);
      await wCallee.register(`${proc}.wire`);
      for (const payload of [[['a'], { k: 1 }], [['only-args']], [[], { only: 'kwargs' }], []] as unknown[][]) {
        const req = wCaller.request();
        await wCaller.send([48, req, {}, `${proc}.wire`]);
        const inv = await wCallee.take(isInvocation, 'INVOCATION');
        await wCallee.send([8, 68, inv[1], {}, 'com.x.err', ...payload]);
        t.strictSame(await wCaller.take(errorFor(req), 'ERROR'), [8, 48, req, {}, 'com.x.err', ...payload], `ERROR with ${JSON.stringify(payload)}`);
      }
    });
  }
});

t.test('no_such_procedure, procedure_already_exists for single registrations', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.once.${key(v)}`;
      const [a, b, c] = await f.abs(t, v, 3);
      let e = await callError(c!.session.call(`com.nobody.${key(v)}`, [1]));
      t.equal(e.error, 'wamp.error.no_such_procedure', 'nothing registered');
      const regA = await a!.session.register(proc, () => 'a');
      e = await callError(b!.session.register(proc, () => 'b'));
      t.equal(e.error, 'wamp.error.procedure_already_exists', 'a second session');
      e = await callError(a!.session.register(proc, () => 'a-again'));
      t.equal(e.error, 'wamp.error.procedure_already_exists', 'the same session again');
      t.equal(await c!.session.call(proc), 'a', 'the first registration still serves');
      await a!.session.unregister(regA);
      e = await callError(c!.session.call(proc));
      t.equal(e.error, 'wamp.error.no_such_procedure', 'gone after unregister');
      await b!.session.register(proc, () => 'b');
      t.equal(await c!.session.call(proc), 'b', 'free to register again');
    });
  }
});

/** Crossbar's URI for a shared registration whose invoke policy differs (the router uses the same). */
const DIFFERENT_POLICY = 'wamp.error.procedure_exists_with_different_invocation_policy';

t.test('shared registrations: roundrobin, first, last, random; mismatched policy refused', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const k = key(v);
      const [caller, ...callees] = await f.abs(t, v, 4);
      const registerAll = async (proc: string, invoke: string): Promise<unknown[]> => {
        const regs: unknown[] = [];
        // In order: first/last/roundrobin depend on registration order.
        for (const [i, c] of callees.entries()) regs.push(await c.session.register(proc, () => i, { invoke }));
        return regs;
      };
      const calls = async (proc: string, n: number): Promise<unknown[]> => {
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(await caller!.session.call(proc));
        return out;
      };

      const rr = await registerAll(`com.rr.${k}`, 'roundrobin');
      t.strictSame(await calls(`com.rr.${k}`, 7), [0, 1, 2, 0, 1, 2, 0], 'roundrobin rotates in registration order');
      await callees[1]!.session.unregister(rr[1]);
      const after = await calls(`com.rr.${k}`, 4);
      t.strictSame([...new Set(after)].sort(), [0, 2], 'the unregistered callee gets no more calls');
      t.ok(after.every((x, i) => i === 0 || x !== after[i - 1]), `still rotating: ${JSON.stringify(after)}`);

      const first = await registerAll(`com.first.${k}`, 'first');
      t.strictSame(await calls(`com.first.${k}`, 3), [0, 0, 0], 'first: always the first registered');
      await callees[0]!.session.unregister(first[0]);
      t.strictSame(await calls(`com.first.${k}`, 2), [1, 1], 'first: then the next one');

      const last = await registerAll(`com.last.${k}`, 'last');
      t.strictSame(await calls(`com.last.${k}`, 3), [2, 2, 2], 'last: always the last registered');
      await callees[2]!.session.unregister(last[2]);
      t.strictSame(await calls(`com.last.${k}`, 2), [1, 1], 'last: then the one before');

      await registerAll(`com.random.${k}`, 'random');
      const random = await Promise.all(Array.from({ length: 30 }, () => caller!.session.call(`com.random.${k}`)));
      t.ok(random.every((x) => x === 0 || x === 1 || x === 2), 'random: every result from a registered callee');
      t.ok(new Set(random).size >= 2, `random: spread over callees (${JSON.stringify(random)})`);

      await callees[0]!.session.register(`com.mix.${k}`, () => 0, { invoke: 'roundrobin' });
      let e = await callError(callees[1]!.session.register(`com.mix.${k}`, () => 1, { invoke: 'random' }));
      t.equal(e.error, DIFFERENT_POLICY, 'random onto roundrobin refused');
      e = await callError(callees[2]!.session.register(`com.mix.${k}`, () => 2));
      t.equal(e.error, DIFFERENT_POLICY, 'single onto roundrobin refused');
      e = await callError(callees[0]!.session.register(`com.mix.${k}`, () => 0, { invoke: 'roundrobin' }));
      t.equal(e.error, 'wamp.error.procedure_already_exists', 'the same session twice refused');
      await callees[0]!.session.register(`com.solo.${k}`, () => 0);
      e = await callError(callees[1]!.session.register(`com.solo.${k}`, () => 1, { invoke: 'roundrobin' }));
      t.equal(e.error, DIFFERENT_POLICY, 'roundrobin onto single refused');
      t.strictSame(await calls(`com.mix.${k}`, 3), [0, 0, 0], 'refused registrations changed nothing');
    });
  }
});

t.test('pattern-based registrations: exact beats prefix beats wildcard; details.procedure is the called URI', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const b = `pat_${key(v)}`;
      const [callee, caller] = await f.abs(t, v, 2);
      const h = (tag: string) => (_args: unknown[], _kwargs: unknown, d: { procedure: string }) => [tag, d.procedure];
      await callee!.session.register(`${b}.a.b`, h('exact'));
      const p1 = await callee!.session.register(b, h('prefix'), { match: 'prefix' });
      const p2 = await callee!.session.register(`${b}.x`, h('longer prefix'), { match: 'prefix' });
      await callee!.session.register(`${b}..c`, h('wildcard'), { match: 'wildcard' });
      await callee!.session.register(`${b}.y..c`, h('specific wildcard'), { match: 'wildcard' });
      await callee!.session.register(`${b}...c`, h('generic wildcard'), { match: 'wildcard' });
      const call = (uri: string): Promise<unknown> => caller!.session.call(uri);

      t.strictSame(await call(`${b}.a.b`), ['exact', `${b}.a.b`], 'exact match wins over prefix');
      t.strictSame(await call(`${b}.x.c`), ['longer prefix', `${b}.x.c`], 'longest prefix wins, over wildcard too');
      t.strictSame(await call(`${b}.q.c`), ['prefix', `${b}.q.c`], 'prefix wins over wildcard');
      t.strictSame(await call(`${b}.a.b.more`), ['prefix', `${b}.a.b.more`], 'exact is exact');
      await callee!.session.unregister(p1);
      await callee!.session.unregister(p2);
      t.strictSame(await call(`${b}.q.c`), ['wildcard', `${b}.q.c`], 'wildcard once no prefix matches');
      t.strictSame(await call(`${b}.y.z.c`), ['specific wildcard', `${b}.y.z.c`], 'the wildcard with more fixed leading components');
      t.strictSame(await call(`${b}.q.z.c`), ['generic wildcard', `${b}.q.z.c`], 'the generic wildcard');
      t.strictSame(await call(`${b}.a.b`), ['exact', `${b}.a.b`]);
      const e = await callError(call(`${b}.q.d`));
      t.equal(e.error, 'wamp.error.no_such_procedure', 'nothing matches');

      // On the wire: exact invocations carry no procedure; pattern ones carry the called URI.
      const w = await f.wire(t, v);
      const wb = `wpat_${key(v)}`;
      const exactReg = await w.register(`${wb}.e`);
      const prefixReg = await w.register(wb, { match: 'prefix' });
      for (const [uri, reg, details] of [[`${wb}.e`, exactReg, {}], [`${wb}.zz`, prefixReg, { procedure: `${wb}.zz` }]] as const) {
        const p = caller!.session.call(uri, ['arg']);
        const inv = await w.take(isInvocation, 'INVOCATION');
        t.strictSame(inv, [68, inv[1], reg, details, ['arg']], `INVOCATION for ${uri}`);
        await w.send([70, inv[1], {}, ['done']]);
        t.equal(await p, 'done');
      }
    });
  }
});

t.test('progressive call results', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.progress.${key(v)}`;
      const [callee, caller, w] = await Promise.all([f.ab(t, v), f.ab(t, v), f.wire(t, v)]);
      await callee.session.register(proc, (_args: unknown[], _kwargs: unknown, d: { progress: ((a?: unknown[], k?: Record<string, unknown>) => void) | null }) => {
        const progressive = typeof d.progress === 'function';
        if (d.progress) { d.progress([1]); d.progress(['two'], { k: 2 }); }
        return new AbResult(['final', progressive], { done: true });
      });

      // autobahn caller: progress callbacks first, then the final result.
      const log: unknown[] = [];
      const plain = (x: unknown): unknown => (x instanceof AbResult ? { args: x.args, kwargs: x.kwargs } : x);
      await new Promise<void>((resolve, reject) => {
        caller.session.call(proc, [], undefined, { receive_progress: true }).then(
          (r: unknown) => { log.push({ final: plain(r) }); resolve(); },
          reject,
          (p: unknown) => { log.push({ progress: plain(p) }); },
        );
      });
      t.strictSame(log, [
        { progress: 1 },
        { progress: { args: ['two'], kwargs: { k: 2 } } },
        { final: { args: ['final', true], kwargs: { done: true } } },
      ], 'progress, progress, final');

      // On the wire.
      const req = w.request();
      await w.send([48, req, { receive_progress: true }, proc]);
      t.strictSame(await w.take(answers(50, req), 'RESULT 1'), [50, req, { progress: true }, [1]]);
      t.strictSame(await w.take(answers(50, req), 'RESULT 2'), [50, req, { progress: true }, ['two'], { k: 2 }]);
      t.strictSame(await w.take(answers(50, req), 'RESULT 3'), [50, req, {}, ['final', true], { done: true }]);

      // Without receive_progress the callee is not asked for progress.
      const req2 = w.request();
      await w.send([48, req2, {}, proc]);
      t.strictSame(await w.take(answers(50, req2), 'RESULT'), [50, req2, {}, ['final', false], { done: true }]);

      // A callee sending progress nobody asked for: dropped, only the final result arrives.
      const wCallee = await f.wire(t, v);
      await wCallee.register(`${proc}.unasked`);
      const req3 = w.request();
      await w.send([48, req3, {}, `${proc}.unasked`]);
      const inv = await wCallee.take(isInvocation, 'INVOCATION');
      t.strictSame(inv[3], {}, 'no receive_progress in the INVOCATION');
      await wCallee.send([70, inv[1], { progress: true }, ['unasked']]);
      await wCallee.send([70, inv[1], {}, ['done']]);
      t.strictSame(await w.take((m) => m[1] === req3 || m[2] === req3, 'RESULT'), [50, req3, {}, ['done']], 'first answer is the final RESULT');
      t.strictSame(w.peek(() => true), [], 'nothing else');
    });
  }
});

t.test('call timeout: wamp.error.timeout, INTERRUPT to a canceling-capable callee, late answer dropped', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.slow.${key(v)}`;
      const [callee, caller, wCallee, wCaller] = await Promise.all([f.ab(t, v), f.ab(t, v), f.wire(t, v), f.wire(t, v)]);
      let invoked = 0;
      await callee.session.register(proc, () => { invoked++; return new Promise(() => undefined); });
      const { value: e, wallMs, activeMs } = await timed(callError(caller.session.call(proc, [], undefined, { timeout: 100 })));
      t.equal(e.error, 'wamp.error.timeout');
      t.ok(wallMs >= 90, `not before the timeout (${Math.round(wallMs)} ms)`);
      t.ok(activeMs < 1000, `soon after the timeout (${Math.round(activeMs)} ms running, ${Math.round(wallMs)} ms wall)`);
      t.equal(invoked, 1, 'the callee was invoked once');
      // autobahn does not announce call_canceling: it must not get an INTERRUPT
      // (it would fail its connection on one), so it still serves calls.
      await callee.session.register(`${proc}.alive`, () => 'alive');
      t.equal(await caller.session.call(`${proc}.alive`), 'alive', 'the autobahn callee is still connected');

      // A callee that announced call_canceling is interrupted, and its late answer is dropped.
      await wCallee.register(`${proc}.wire`);
      const req = wCaller.request();
      await wCaller.send([48, req, { timeout: 100 }, `${proc}.wire`, ['slow']]);
      const inv = await wCallee.take(isInvocation, 'INVOCATION');
      t.strictSame((await wCaller.take(errorFor(req), 'ERROR')).slice(0, 5), [8, 48, req, {}, 'wamp.error.timeout']);
      const intr = await wCallee.take((m) => m[0] === 69, 'INTERRUPT');
      t.equal(intr[1], inv[1], 'INTERRUPT for that invocation');
      t.equal((intr[2] as { mode?: unknown }).mode, 'killnowait', 'INTERRUPT mode killnowait');
      await wCallee.send([70, inv[1], {}, ['too late']]);
      const req2 = wCaller.request();
      await wCaller.send([48, req2, {}, `${proc}.wire`, ['next']]);
      const inv2 = await wCallee.take(isInvocation, 'INVOCATION');
      await wCallee.send([70, inv2[1], {}, ['in time']]);
      t.strictSame(await wCaller.take(answers(50, req2), 'RESULT'), [50, req2, {}, ['in time']]);
      t.strictSame(wCaller.peek(() => true), [], 'the late YIELD was not forwarded');

      // A call answered before its timeout: RESULT, and no timeout error afterwards.
      const req3 = wCaller.request();
      await wCaller.send([48, req3, { timeout: 50 }, `${proc}.wire`]);
      const inv3 = await wCallee.take(isInvocation, 'INVOCATION');
      await wCallee.send([70, inv3[1], {}, ['quick']]);
      t.strictSame(await wCaller.take(answers(50, req3), 'RESULT'), [50, req3, {}, ['quick']]);
      await sleep(100);
      t.strictSame(wCaller.peek(() => true), [], 'no ERROR after the timeout passed');
      t.strictSame(wCallee.peek((m) => m[0] === 69), [], 'no INTERRUPT for a finished call');

      // A long timeout (2^31 ms, about 25 days) must not expire early.
      const req4 = wCaller.request();
      await wCaller.send([48, req4, { timeout: 2 ** 31 }, `${proc}.wire`]);
      const inv4 = await wCallee.take(isInvocation, 'INVOCATION');
      await sleep(50);
      await wCallee.send([70, inv4[1], {}, ['long timeout']]);
      t.strictSame(await wCaller.take((m) => m[1] === req4 || m[2] === req4, 'RESULT'), [50, req4, {}, ['long timeout']], 'a 2^31 ms timeout does not fire after 1 ms');
      t.strictSame(wCallee.peek((m) => m[0] === 69), [], 'and no INTERRUPT');
    });
  }
});

/** Sends a CALL and waits for its INVOCATION. */
async function pendingCall(caller: Wire, callee: Wire, proc: string): Promise<{ req: number; inv: number }> {
  const req = caller.request();
  await caller.send([48, req, {}, proc, ['work']]);
  const inv = await callee.take(isInvocation, 'INVOCATION');
  return { req, inv: inv[1] as number };
}

/** A full call round trip: proves everything the callee sent before has been routed. */
async function roundTrip(caller: Wire, callee: Wire, proc: string): Promise<void> {
  const { req, inv } = await pendingCall(caller, callee, proc);
  await callee.send([70, inv, {}, ['sync']]);
  const r = await caller.take(answers(50, req), 'RESULT');
  if (r[0] !== 50) throw new Error(`round trip failed: ${JSON.stringify(r)}`);
}

t.test('cancel: skip, killnowait, kill', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.cancel.${key(v)}`;
      const [caller, callee] = await Promise.all([f.wire(t, v), f.wire(t, v)]);
      await callee.register(proc);
      const mine = (req: number) => (m: Msg): boolean => m[1] === req || m[2] === req;

      t.test('skip: ERROR now, no INTERRUPT, the late result is discarded', async (t) => {
        const { req, inv } = await pendingCall(caller, callee, proc);
        await caller.send([49, req, { mode: 'skip' }]);
        t.strictSame((await caller.take(errorFor(req), 'ERROR')).slice(0, 5), [8, 48, req, {}, 'wamp.error.canceled']);
        await callee.send([70, inv, {}, ['late result']]);
        await roundTrip(caller, callee, proc);
        t.strictSame(caller.peek(mine(req)), [], 'nothing more for the canceled call');
        t.strictSame(callee.peek((m) => m[0] === 69), [], 'no INTERRUPT');
      });

      t.test('killnowait: ERROR now, INTERRUPT to the callee, its answer discarded', async (t) => {
        const { req, inv } = await pendingCall(caller, callee, proc);
        await caller.send([49, req, { mode: 'killnowait' }]);
        t.strictSame((await caller.take(errorFor(req), 'ERROR')).slice(0, 5), [8, 48, req, {}, 'wamp.error.canceled']);
        t.strictSame(await callee.take((m) => m[0] === 69, 'INTERRUPT'), [69, inv, { mode: 'killnowait' }]);
        await callee.send([8, 68, inv, {}, 'wamp.error.canceled', ['callee stopped']]);
        await roundTrip(caller, callee, proc);
        t.strictSame(caller.peek(mine(req)), [], 'the callee\'s answer was not forwarded');
      });

      t.test('kill: INTERRUPT, and the caller gets the callee\'s ERROR', async (t) => {
        const { req, inv } = await pendingCall(caller, callee, proc);
        await caller.send([49, req, { mode: 'kill' }]);
        t.strictSame(await callee.take((m) => m[0] === 69, 'INTERRUPT'), [69, inv, { mode: 'kill' }]);
        await sleep(100);
        t.strictSame(caller.peek(mine(req)), [], 'nothing for the caller until the callee answers');
        await callee.send([8, 68, inv, {}, 'wamp.error.canceled', ['interrupted'], { at: 'kill' }]);
        t.strictSame(await caller.take(errorFor(req), 'ERROR'), [8, 48, req, {}, 'wamp.error.canceled', ['interrupted'], { at: 'kill' }]);
      });

      t.test('kill: a callee that finishes anyway delivers its RESULT', async (t) => {
        const { req, inv } = await pendingCall(caller, callee, proc);
        await caller.send([49, req, { mode: 'kill' }]);
        await callee.take((m) => m[0] === 69, 'INTERRUPT');
        await callee.send([70, inv, {}, ['finished anyway']]);
        t.strictSame(await caller.take(mine(req), 'RESULT'), [50, req, {}, ['finished anyway']]);
      });

      t.test('CANCEL for a call that is not in flight is ignored', async (t) => {
        await caller.send([49, 987654, { mode: 'kill' }]);
        await roundTrip(caller, callee, proc);
        t.strictSame(caller.peek(() => true), [], 'no answer to a stray CANCEL, session alive');
      });

      t.test('a callee without call_canceling: any mode behaves as skip', async (t) => {
        const ab = await f.ab(t, v);
        let calls = 0;
        await ab.session.register(`${proc}.ab`, (args: unknown[]) => { calls++; return args[0] === 'hang' ? new Promise(() => undefined) : 'alive'; });
        const req = caller.request();
        await caller.send([48, req, {}, `${proc}.ab`, ['hang']]);
        await eventually(() => calls === 1, WAIT_MS);
        await caller.send([49, req, { mode: 'kill' }]);
        t.strictSame((await caller.take(errorFor(req), 'ERROR')).slice(0, 5), [8, 48, req, {}, 'wamp.error.canceled'], 'ERROR at once');
        const req2 = caller.request();
        await caller.send([48, req2, {}, `${proc}.ab`, ['ping']]);
        t.strictSame(await caller.take(mine(req2), 'RESULT'), [50, req2, {}, ['alive']], 'the callee (sent no INTERRUPT) still serves');
      });

      t.test('autobahn caller, kill mode: rejected with the callee\'s error', async (t) => {
        const ab = await f.ab(t, v);
        const p = ab.session.call(proc, ['x']);
        const outcome = callError(p);
        const inv = await callee.take(isInvocation, 'INVOCATION');
        p.cancel({ mode: 'kill' });
        t.strictSame(await callee.take((m) => m[0] === 69, 'INTERRUPT'), [69, inv[1], { mode: 'kill' }]);
        await callee.send([8, 68, inv[1], {}, 'com.myapp.stopped', ['partial'], { done: 3 }]);
        t.strictSame(await outcome, { error: 'com.myapp.stopped', args: ['partial'], kwargs: { done: 3 } });
      });
    });
  }
});

t.test('only the invoked callee can answer an invocation', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.forge.${key(v)}`;
      const [caller, callee, intruder] = await Promise.all([f.wire(t, v), f.wire(t, v), f.wire(t, v)]);
      await callee.register(proc);
      const { req, inv } = await pendingCall(caller, callee, proc);
      // Same invocation id, wrong session: the router never sent the intruder that INVOCATION, so its
      // YIELD is a protocol violation (issue 20; it used to be ignored); nothing reaches the caller.
      await intruder.send([70, inv, {}, ['forged']]);
      t.equal((await intruder.next(3))[2], 'wamp.error.protocol_violation', 'the intruder is ABORTed');
      const intruder2 = await f.wire(t, v);
      await intruder2.send([8, 68, inv, {}, 'com.forged.error']);
      t.equal((await intruder2.next(3))[2], 'wamp.error.protocol_violation', 'an ERROR too');
      await callee.send([70, inv, {}, ['genuine']]);
      t.strictSame(await caller.take((m) => m[1] === req || m[2] === req, 'RESULT'), [50, req, {}, ['genuine']], 'the genuine answer');
      t.strictSame(caller.peek(() => true), [], 'nothing forged');
    });
  }
});

t.test('one callee serves calls concurrently: a fast call overtakes a slow one', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.conc.${key(v)}`;
      const [callee, caller] = await f.abs(t, v, 2);
      await callee!.session.register(proc, async (args: unknown[]) => {
        if (args[0] === 'slow') await sleep(300);
        return args[0];
      });
      const order: unknown[] = [];
      const t0 = Date.now();
      let slowAt = 0;
      const slow = caller!.session.call(proc, ['slow']).then((r: unknown) => { order.push(r); slowAt = Date.now() - t0; });
      const fast = caller!.session.call(proc, ['fast']).then((r: unknown) => { order.push(r); });
      await Promise.all([slow, fast]);
      t.strictSame(order, ['fast', 'slow'], 'the fast result first');
      t.ok(slowAt >= 290, `the slow one took its time (${slowAt} ms)`);

      // On the wire: both INVOCATIONs arrive before either is answered.
      const [wCallee, wCaller] = await Promise.all([f.wire(t, v), f.wire(t, v)]);
      await wCallee.register(`${proc}.wire`);
      const r1 = wCaller.request();
      const r2 = wCaller.request();
      await wCaller.send([48, r1, {}, `${proc}.wire`, ['first']]);
      await wCaller.send([48, r2, {}, `${proc}.wire`, ['second']]);
      const i1 = await wCallee.take(isInvocation, 'INVOCATION 1');
      const i2 = await wCallee.take(isInvocation, 'INVOCATION 2');
      t.strictSame([i1[4], i2[4]], [['first'], ['second']]);
      await wCallee.send([70, i2[1], {}, ['second done']]);
      t.strictSame(await wCaller.take((m) => m[0] === 50 || m[0] === 8, 'RESULT'), [50, r2, {}, ['second done']], 'the second answered first');
      await wCallee.send([70, i1[1], {}, ['first done']]);
      t.strictSame(await wCaller.take((m) => m[0] === 50 || m[0] === 8, 'RESULT'), [50, r1, {}, ['first done']]);
    });
  }
});

t.test('a session leaving with calls in flight', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.leave.${key(v)}`;
      const [callee, caller] = await f.abs(t, v, 2);
      let invoked = false;
      await callee!.session.register(proc, () => { invoked = true; return new Promise(() => undefined); });
      const outcome = callError(caller!.session.call(proc, ['x']));
      await eventually(() => invoked, WAIT_MS);
      callee!.connection.close();
      let r = await timed(outcome);
      let e = r.value;
      t.equal(e.error, 'wamp.error.canceled', 'callee said GOODBYE: caller gets canceled');
      t.ok(r.activeMs < 1000, `promptly (${Math.round(r.activeMs)} ms running, ${Math.round(r.wallMs)} ms wall)`);
      e = await callError(caller!.session.call(proc));
      t.equal(e.error, 'wamp.error.no_such_procedure', 'its registration is gone');

      const w = await f.wire(t, v);
      await w.register(`${proc}.abrupt`);
      const outcome2 = callError(caller!.session.call(`${proc}.abrupt`, ['y']));
      await w.take(isInvocation, 'INVOCATION');
      w.close();
      r = await timed(outcome2);
      e = r.value;
      t.equal(e.error, 'wamp.error.canceled', 'callee connection dropped: caller gets canceled');
      t.ok(r.activeMs < 1000, `promptly (${Math.round(r.activeMs)} ms running, ${Math.round(r.wallMs)} ms wall)`);

      // The caller leaving: a canceling-capable callee is interrupted.
      const [wCallee, wCaller] = await Promise.all([f.wire(t, v), f.wire(t, v)]);
      await wCallee.register(`${proc}.caller-leaves`);
      const { inv } = await pendingCall(wCaller, wCallee, `${proc}.caller-leaves`);
      wCaller.close();
      const intr = await wCallee.take((m) => m[0] === 69, 'INTERRUPT');
      t.equal(intr[1], inv, 'INTERRUPT for the orphaned invocation');
      t.equal((intr[2] as { mode?: unknown }).mode, 'killnowait');
    });
  }
});

t.test('caller disclosure follows the role\'s disclose.caller', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const proc = `com.who.${key(v)}`;
      const [callee, anon, disc, w] = await Promise.all([
        f.ab(t, v), f.ab(t, v), f.ab(t, v, { role: 'discloser' }), f.wire(t, v),
      ]);
      // The router assigns anonymous authids; learn the discloser's from the meta API.
      const carl = (await anon.session.call('wamp.session.get', [disc.session.id]) as { authid: string }).authid;
      t.type(carl, 'string');
      const seen: unknown[] = [];
      await callee.session.register(proc, (_a: unknown, _k: unknown, d: { caller?: unknown; caller_authid?: unknown; caller_authrole?: unknown }) => {
        seen.push({ caller: d.caller, caller_authid: d.caller_authid, caller_authrole: d.caller_authrole });
        return seen.length;
      });
      await disc.session.call(proc);
      await anon.session.call(proc);
      t.strictSame(seen[0], { caller: disc.session.id, caller_authid: carl, caller_authrole: 'discloser' }, 'disclosed');
      t.strictSame(seen[1], { caller: undefined, caller_authid: undefined, caller_authrole: undefined }, 'not disclosed');

      await w.register(`${proc}.wire`);
      for (const [c, details] of [
        [disc, { caller: disc.session.id, caller_authid: carl, caller_authrole: 'discloser' }],
        [anon, {}],
      ] as const) {
        const p = c.session.call(`${proc}.wire`, [1]);
        const inv = await w.take(isInvocation, 'INVOCATION');
        t.strictSame(inv[3], details, `INVOCATION details for ${c === disc ? 'discloser' : 'anonymous'}`);
        await w.send([70, inv[1], {}, ['ok']]);
        await p;
      }

      const e = await callError(anon.session.call(proc, [], undefined, { disclose_me: true }));
      t.equal(e.error, 'wamp.error.option_disallowed.disclose_me', 'disclose_me where the role may not disclose');
      t.equal(seen.length, 2, 'the callee was not invoked');
      await disc.session.call(proc, [], undefined, { disclose_me: true });
      t.strictSame(seen[2], { caller: disc.session.id, caller_authid: carl, caller_authrole: 'discloser' }, 'disclose_me where allowed');
    });
  }
});

t.test('register/call/unregister errors', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const k = key(v);
      const [c, restricted, w, w2] = await Promise.all([f.ab(t, v), f.ab(t, v, { role: 'restricted' }), f.wire(t, v), f.wire(t, v)]);
      const expectError = async (p: Promise<unknown>, uri: string, what: string): Promise<void> => {
        t.equal((await callError(p)).error, uri, what);
      };
      await expectError(c.session.register('wamp.x', () => 0), 'wamp.error.invalid_uri', 'register in the reserved wamp. namespace');
      await expectError(c.session.register('clawgate.persistent.list', () => 0), 'wamp.error.invalid_uri', 'register in ClawGate\'s reserved clawgate. namespace');
      await expectError(c.session.register('a..b', () => 0), 'wamp.error.invalid_uri', 'register with an empty component');
      await expectError(c.session.register('com..x', () => 0, { match: 'prefix' }), 'wamp.error.invalid_uri', 'prefix with an empty inner component');
      await expectError(c.session.call('a..b'), 'wamp.error.invalid_uri', 'call with an empty component');
      await expectError(restricted.session.register(`com.denied.${k}`, () => 0), 'wamp.error.not_authorized', 'register without permission');
      await c.session.register(`com.allowed.${k}`, () => 'ok');
      await expectError(restricted.session.call(`com.allowed.${k}`), 'wamp.error.not_authorized', 'call without permission');
      t.equal(await c.session.call(`com.allowed.${k}`), 'ok', 'allowed for others');

      // Wire shape of a REGISTER error.
      const rq = w.request();
      await w.send([64, rq, {}, 'wamp.x']);
      t.strictSame((await w.take(errorFor(rq), 'ERROR')).slice(0, 5), [8, 64, rq, {}, 'wamp.error.invalid_uri']);

      // UNREGISTER of an unknown id, twice, and of someone else's registration.
      const r0 = w.request();
      await w.send([66, r0, 123456789]);
      t.strictSame((await w.take(errorFor(r0), 'ERROR')).slice(0, 5), [8, 66, r0, {}, 'wamp.error.no_such_registration'], 'unknown registration');
      const reg = await w.register(`com.unreg.${k}`);
      const r1 = w.request();
      await w.send([66, r1, reg]);
      t.strictSame(await w.take(answers(67, r1), 'UNREGISTERED'), [67, r1]);
      const r2 = w.request();
      await w.send([66, r2, reg]);
      t.strictSame((await w.take(errorFor(r2), 'ERROR')).slice(0, 5), [8, 66, r2, {}, 'wamp.error.no_such_registration'], 'unregister twice');
      const theirs = await w2.register(`com.theirs.${k}`);
      const r3 = w.request();
      await w.send([66, r3, theirs]);
      t.strictSame((await w.take(errorFor(r3), 'ERROR')).slice(0, 5), [8, 66, r3, {}, 'wamp.error.no_such_registration'], 'someone else\'s registration');
      const p = c.session.call(`com.theirs.${k}`, ['still']);
      const inv = await w2.take(isInvocation, 'INVOCATION');
      await w2.send([70, inv[1], {}, ['theirs']]);
      t.equal(await p, 'theirs', 'their registration survived');
    });
  }
});
