// Broker behaviour through real clients on a real router: autobahn-js for the
// application-level view, and the wire-level client (wire.ts) where the
// exact shape of what the router sends matters. Every case runs over
// WebSocket with JSON, MessagePack and CBOR, and over RawSocket (JSON).
import t from 'tap';
import { callError, eventually, type AutobahnConnection, type AutobahnSession } from './helpers.js';
import {
  MatrixFixture, VARIANTS, WAIT_MS, binaryCapable, matrixConfig, norm, NESTED_ARGS, NESTED_KWARGS,
  type HasTeardown, type Variant,
} from './matrix.js';

// ---- config, fixture ---------------------------------------------------------

/** `listener` may only subscribe (matrix.ts has the other two roles). */
const config = (): unknown => matrixConfig({ name: 'listener', allow: { call: false, register: false, publish: false, subscribe: true } });

interface EventRecord { tag: string; args: unknown[]; kwargs: Record<string, unknown>; details: { publication: number; topic: string; publisher?: number; publisher_authid?: string; publisher_authrole?: string; retained: boolean } }

/** An autobahn session that records every event it receives, tagged by subscription. */
class Probe {
  readonly events: EventRecord[] = [];
  constructor(readonly session: AutobahnSession, readonly connection: AutobahnConnection, readonly variant: Variant) {}
  get id(): number { return this.session.id as number; }
  /** Subscribes; events are recorded under `tag` (default: the topic). */
  sub(topic: string, options?: Record<string, unknown>, tag = topic): Promise<{ id: number }> {
    return this.session.subscribe(topic, (args: unknown[], kwargs: Record<string, unknown>, details: EventRecord['details']) => {
      this.events.push({ tag, args, kwargs, details });
    }, options);
  }
  of(tag: string): EventRecord[] { return this.events.filter((e) => e.tag === tag); }
}

let barrierToken = 0;

class Fixture extends MatrixFixture {
  static async start(t: HasTeardown): Promise<Fixture> {
    return new Fixture(await MatrixFixture.router(t, config()));
  }

  probes(t: HasTeardown, v: Variant, n: number): Promise<Probe[]> {
    return Promise.all(Array.from({ length: n }, () => this.probe(t, v)));
  }

  /** An autobahn session subscribed to `barrier` (see barrier()). */
  async probe(t: HasTeardown, v: Variant, opts: { role?: string } = {}): Promise<Probe> {
    const c = await this.session(t, v, opts);
    const p = new Probe(c.session, c.connection, v);
    await p.sub('barrier');
    return p;
  }
}

/** One subscriber to `topic` per variant (opened in parallel). */
function subscribers(f: Fixture, t: HasTeardown, topic: string): Promise<Probe[]> {
  return Promise.all(VARIANTS.map(async (sv) => { const s = await f.probe(t, sv); await s.sub(topic); return s; }));
}

/**
 * Publishes a token on `barrier` from `pub` and waits until every probe has it.
 * Events from one publisher reach each subscriber in order, so anything `pub`
 * published before the barrier that was going to reach a probe has reached it.
 */
async function barrier(pub: Probe, probes: Probe[]): Promise<void> {
  const token = ++barrierToken;
  await pub.session.publish('barrier', [token], {}, { acknowledge: true, exclude_me: false });
  await eventually(() => probes.every((p) => p.of('barrier').some((e) => e.args[0] === token)), WAIT_MS);
}

/** The authid the router gave a session (via the session meta API). */
async function authidOf(asker: AutobahnSession, sessionId: number): Promise<string> {
  const d = await asker.call('wamp.session.get', [sessionId]) as { authid: string };
  return d.authid;
}

// ---- tests ---------------------------------------------------------------------

t.test('publish/subscribe: args and kwargs reach every serializer unchanged', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(`publisher on ${v.name}`, async (t) => {
      const f = await Fixture.start(t);
      const topic = `com.rt.${v.name.replace('/', '_')}`;
      const [pub, subs] = await Promise.all([f.probe(t, v), subscribers(f, t, topic)]);
      const ack = await pub.session.publish(topic, NESTED_ARGS, NESTED_KWARGS, { acknowledge: true });
      t.type(ack.id, 'number', 'acknowledged with a publication id');
      await barrier(pub, subs);
      for (const s of subs) {
        const evs = s.of(topic);
        t.equal(evs.length, 1, `${s.variant.name} got exactly one event`);
        t.strictSame(evs[0]?.args, NESTED_ARGS, `${s.variant.name} args`);
        t.strictSame(evs[0]?.kwargs, NESTED_KWARGS, `${s.variant.name} kwargs`);
        t.equal(evs[0]?.details.publication, ack.id, `${s.variant.name} publication id matches PUBLISHED`);
        t.equal(evs[0]?.details.topic, topic);
      }
      t.equal(pub.of(topic).length, 0, 'publisher did not subscribe, got nothing');
    });
  }
});

t.test('EVENT on the wire has exactly the shape of the PUBLISH (empty args kept with kwargs, trailing empties omitted)', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [sub, pub] = await Promise.all([f.wire(t, v), f.wire(t, v)]);
      const topic = 'com.wire.shape';
      const subId = await sub.subscribe(topic);
      const cases: { payload: unknown[]; expect: unknown[] }[] = [
        { payload: [], expect: [] },
        { payload: [['a', 1.5]], expect: [['a', 1.5]] },
        { payload: [[], { k: 'v' }], expect: [[], { k: 'v' }] },
        { payload: [['x'], { k: { n: [1, 2] } }], expect: [['x'], { k: { n: [1, 2] } }] },
      ];
      for (const c of cases) {
        const req = pub.request();
        await pub.send([16, req, { acknowledge: true }, topic, ...c.payload]);
        const published = await pub.take((m) => m[0] === 17 && m[1] === req, 'PUBLISHED');
        const ev = await sub.take((m) => m[0] === 36, 'EVENT');
        t.strictSame(ev, [36, subId, published[2], {}, ...c.expect], `payload ${JSON.stringify(c.payload)}`);
      }
      t.strictSame(pub.peek(() => true), [], 'publisher got nothing but PUBLISHED');
    });
  }
});

t.test('binary args: bytes between binary serializers, "\\0"+base64 for JSON peers', { jobs: 4 }, async (t) => {
  const f = await Fixture.start(t);
  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  const b64 = '\u0000' + bytes.toString('base64');
  for (const v of VARIANTS.filter(binaryCapable)) {
    t.test(`autobahn publisher on ${v.name}`, async (t) => {
      const topic = `com.bin.${v.serializer}`;
      const [pub, subs] = await Promise.all([f.probe(t, v), subscribers(f, t, topic)]);
      await pub.session.publish(topic, [bytes, new Uint8Array([7, 8, 9]), { nested: [bytes] }], { blob: bytes }, { acknowledge: true });
      await barrier(pub, subs);
      for (const s of subs) {
        const evs = s.of(topic);
        t.equal(evs.length, 1, `${s.variant.name}: one event`);
        if (binaryCapable(s.variant)) {
          t.strictSame(norm(evs[0]?.args), norm([bytes, Buffer.from([7, 8, 9]), { nested: [bytes] }]), `${s.variant.name}: args are bytes`);
          t.strictSame(norm(evs[0]?.kwargs), norm({ blob: bytes }), `${s.variant.name}: kwargs are bytes`);
        } else {
          t.strictSame(evs[0]?.args, [b64, '\u0000' + Buffer.from([7, 8, 9]).toString('base64'), { nested: [b64] }], `${s.variant.name}: JSON gets "\\0"+base64`);
          t.strictSame(evs[0]?.kwargs, { blob: b64 });
        }
      }
    });
  }
  for (const v of VARIANTS.filter((x) => !binaryCapable(x))) {
    t.test(`JSON publisher on ${v.name} sends "\\0"+base64`, async (t) => {
      const topic = `com.bin.fromjson.${v.rawsocket ? 'raw' : 'ws'}`;
      const [pub, subs] = await Promise.all([f.wire(t, v), subscribers(f, t, topic)]);
      const req = pub.request();
      await pub.send([16, req, { acknowledge: true }, topic, [b64], { k: b64 }]);
      await pub.take((m) => m[0] === 17 && m[1] === req, 'PUBLISHED');
      await eventually(() => subs.every((s) => s.of(topic).length === 1), WAIT_MS);
      for (const s of subs) {
        const ev = s.of(topic)[0]!;
        if (binaryCapable(s.variant)) t.strictSame(norm([ev.args, ev.kwargs]), norm([[bytes], { k: bytes }]), `${s.variant.name}: bytes`);
        else t.strictSame([ev.args, ev.kwargs], [[b64], { k: b64 }], `${s.variant.name}: same string`);
      }
    });
  }
});

t.test('unsubscribe stops delivery', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [pub, s, other] = await f.probes(t, v, 3);
      const sub = await s.sub('com.unsub');
      await other.sub('com.unsub');
      await pub.session.publish('com.unsub', ['before'], {}, { acknowledge: true });
      await barrier(pub, [s, other]);
      t.strictSame(s.of('com.unsub').map((e) => e.args), [['before']]);
      await s.session.unsubscribe(sub);
      await pub.session.publish('com.unsub', ['after'], {}, { acknowledge: true });
      await barrier(pub, [s, other]);
      t.strictSame(s.of('com.unsub').map((e) => e.args), [['before']], 'nothing after unsubscribe');
      t.strictSame(other.of('com.unsub').map((e) => e.args), [['before'], ['after']], 'the other subscriber still gets events');
    });
  }
});

t.test('publisher exclusion: exclude_me defaults to true, exclude_me:false delivers to self', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [pub, other] = await f.probes(t, v, 2);
      await pub.sub('com.self');
      await other.sub('com.self');
      await pub.session.publish('com.self', ['default'], {}, { acknowledge: true });
      await pub.session.publish('com.self', ['explicit-true'], {}, { acknowledge: true, exclude_me: true });
      await pub.session.publish('com.self', ['to-self'], {}, { acknowledge: true, exclude_me: false });
      await barrier(pub, [pub, other]);
      t.strictSame(pub.of('com.self').map((e) => e.args[0]), ['to-self'], 'publisher sees only the exclude_me:false event');
      t.strictSame(other.of('com.self').map((e) => e.args[0]), ['default', 'explicit-true', 'to-self'], 'others see all, in order');
    });
  }
});

t.test('subscriber black/whitelisting by session id', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [pub, a, b, c] = await f.probes(t, v, 4);
      for (const p of [pub, a, b, c]) await p.sub('com.filter');
      const send = (tag: string, opts: Record<string, unknown>): Promise<unknown> =>
        pub.session.publish('com.filter', [tag], {}, { acknowledge: true, ...opts });
      await send('exclude-b', { exclude: [b.id] });
      await send('eligible-a-c', { eligible: [a.id, c.id] });
      await send('eligible-a-b-exclude-b', { eligible: [a.id, b.id], exclude: [b.id] });
      await send('eligible-self-excluded-me', { eligible: [pub.id, a.id] });
      await send('eligible-self-not-excluded', { eligible: [pub.id], exclude_me: false });
      await send('exclude-all', { exclude: [a.id, b.id, c.id] });
      await barrier(pub, [pub, a, b, c]);
      const got = (p: Probe): unknown[] => p.of('com.filter').map((e) => e.args[0]);
      t.strictSame(got(a), ['exclude-b', 'eligible-a-c', 'eligible-a-b-exclude-b', 'eligible-self-excluded-me'], 'a');
      t.strictSame(got(b), [], 'b');
      t.strictSame(got(c), ['exclude-b', 'eligible-a-c'], 'c');
      t.strictSame(got(pub), ['eligible-self-not-excluded'], 'publisher');
    });
  }
});

t.test('subscriber black/whitelisting by authid and authrole', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [pub, alice, bob, carol] = await Promise.all([f.probe(t, v), f.probe(t, v), f.probe(t, v), f.probe(t, v, { role: 'discloser' })]);
      // Anonymous authids are assigned by the router; learn them from the meta API.
      const [a, b, c] = await Promise.all([alice, bob, carol].map((p) => authidOf(pub.session, p.id)));
      t.equal(new Set([a, b, c]).size, 3, 'three distinct authids');
      for (const p of [alice, bob, carol]) await p.sub('com.authfilter');
      const send = (tag: string, opts: Record<string, unknown>): Promise<unknown> =>
        pub.session.publish('com.authfilter', [tag], {}, { acknowledge: true, ...opts });
      await send('exclude_authid-alice', { exclude_authid: [a] });
      await send('eligible_authid-alice-carol', { eligible_authid: [a, c] });
      await send('exclude_authrole-discloser', { exclude_authrole: ['discloser'] });
      await send('eligible_authrole-discloser', { eligible_authrole: ['discloser'] });
      await send('eligible_authrole-anonymous-exclude_authid-bob', { eligible_authrole: ['anonymous'], exclude_authid: [b] });
      await send('eligible_authid-nobody', { eligible_authid: ['nobody'] });
      await barrier(pub, [alice, bob, carol]);
      const got = (p: Probe): unknown[] => p.of('com.authfilter').map((e) => e.args[0]);
      t.strictSame(got(alice), ['eligible_authid-alice-carol', 'exclude_authrole-discloser', 'eligible_authrole-anonymous-exclude_authid-bob'], 'alice');
      t.strictSame(got(bob), ['exclude_authid-alice', 'exclude_authrole-discloser'], 'bob');
      t.strictSame(got(carol), ['exclude_authid-alice', 'eligible_authid-alice-carol', 'eligible_authrole-discloser'], 'carol');
    });
  }
});

t.test('acknowledge: PUBLISHED carries the publication id and precedes the publisher\'s own EVENT', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [w, pub] = await Promise.all([f.wire(t, v), f.probe(t, v)]);
      const subId = await w.subscribe('com.ack');
      const req = w.request();
      await w.send([16, req, { acknowledge: true, exclude_me: false }, 'com.ack', ['x']]);
      await w.take((m) => m[0] === 36, 'EVENT');
      // Both have arrived now; check their order on the wire.
      const published = await w.take((m) => m[0] === 17, 'PUBLISHED');
      t.equal(published.length, 3);
      t.equal(published[1], req, 'PUBLISHED answers the request');
      t.type(published[2], 'number');
      t.ok(Number.isInteger(published[2]) && (published[2] as number) > 0 && (published[2] as number) <= 2 ** 53, 'publication id is a WAMP id');
      // Re-run, this time watching the order of arrival.
      const req2 = w.request();
      await w.send([16, req2, { acknowledge: true, exclude_me: false }, 'com.ack', ['y']]);
      await eventually(() => w.messages.length >= 2, WAIT_MS);
      t.equal(w.messages[0]?.[0], 17, 'PUBLISHED first');
      t.strictSame(w.messages[1], [36, subId, w.messages[0]?.[2], {}, ['y']], 'then the EVENT with the same publication id');
      // Without acknowledge, no PUBLISHED comes back.
      w.messages.splice(0);
      await w.send([16, w.request(), { exclude_me: false }, 'com.ack', ['z']]);
      const ev = await w.take((m) => m[0] === 36, 'EVENT');
      t.strictSame(ev.slice(4), [['z']]);
      t.strictSame(w.peek((m) => m[0] === 17), [], 'no PUBLISHED without acknowledge');

      // autobahn: the acknowledged publish resolves with that id.
      const p = await pub.session.publish('com.ack', ['from autobahn'], undefined, { acknowledge: true });
      const ev2 = await w.take((m) => m[0] === 36, 'EVENT');
      t.equal(ev2[2], p.id, 'autobahn Publication.id is the EVENT publication id');
    });
  }
});

t.test('prefix subscription is a plain string prefix; details.topic is the concrete topic', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [pub, s, w] = await Promise.all([f.probe(t, v), f.probe(t, v), f.wire(t, v)]);
      await s.sub('com.myapp', { match: 'prefix' }, 'prefix');
      for (const topic of ['com.myapp.topic1', 'com.myapp2', 'com.myapp', 'com.myap', 'com.other', 'xcom.myapp', 'com.myapp.a.b.c']) {
        await pub.session.publish(topic, [topic], {}, { acknowledge: true });
      }
      await barrier(pub, [s]);
      const got = s.of('prefix');
      t.strictSame(got.map((e) => e.args[0]), ['com.myapp.topic1', 'com.myapp2', 'com.myapp', 'com.myapp.a.b.c']);
      t.strictSame(got.map((e) => e.details.topic), ['com.myapp.topic1', 'com.myapp2', 'com.myapp', 'com.myapp.a.b.c'], 'details.topic is the real topic');

      // On the wire: details = {topic}, nothing else.
      const subId = await w.subscribe('com.wp', { match: 'prefix' });
      const pw = await pub.session.publish('com.wp.x', [], undefined, { acknowledge: true });
      t.strictSame(await w.take((m) => m[0] === 36, 'EVENT'), [36, subId, pw.id, { topic: 'com.wp.x' }, []]);
    });
  }
});

t.test('wildcard subscription: empty components match exactly one component', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [pub, s] = await f.probes(t, v, 2);
      await s.sub('com.example..create', { match: 'wildcard' }, 'wild');
      for (const topic of ['com.example.foo.create', 'com.example.create', 'com.example.foo.create.x', 'com.example.bar.create', 'com.other.foo.create', 'com.example.foo.delete']) {
        await pub.session.publish(topic, [topic], {}, { acknowledge: true });
      }
      await barrier(pub, [s]);
      const got = s.of('wild');
      t.strictSame(got.map((e) => e.args[0]), ['com.example.foo.create', 'com.example.bar.create']);
      t.strictSame(got.map((e) => e.details.topic), ['com.example.foo.create', 'com.example.bar.create'], 'details.topic is the real topic');
    });
  }
});

t.test('several matching subscriptions of one session: one EVENT per subscription', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [w, pub] = await Promise.all([f.wire(t, v), f.wire(t, v)]);
      const exact = await w.subscribe('com.a.b.c');
      const prefix = await w.subscribe('com.a', { match: 'prefix' });
      const wild = await w.subscribe('com.a..c', { match: 'wildcard' });
      t.equal(new Set([exact, prefix, wild]).size, 3, 'three distinct subscriptions');
      const req = pub.request();
      await pub.send([16, req, { acknowledge: true }, 'com.a.b.c', [42]]);
      const publication = (await pub.take((m) => m[0] === 17 && m[1] === req, 'PUBLISHED'))[2];
      const evs = [];
      for (let i = 0; i < 3; i++) evs.push(await w.take((m) => m[0] === 36, `EVENT ${i + 1}`));
      const bySub = new Map(evs.map((e) => [e[1], e]));
      t.strictSame(bySub.get(exact), [36, exact, publication, {}, [42]], 'exact: no topic in details');
      t.strictSame(bySub.get(prefix), [36, prefix, publication, { topic: 'com.a.b.c' }, [42]], 'prefix');
      t.strictSame(bySub.get(wild), [36, wild, publication, { topic: 'com.a.b.c' }, [42]], 'wildcard');
      // A topic only the prefix matches gives one event.
      const req2 = pub.request();
      await pub.send([16, req2, { acknowledge: true }, 'com.a.x', [43]]);
      await pub.take((m) => m[0] === 17 && m[1] === req2, 'PUBLISHED');
      const ev = await w.take((m) => m[0] === 36, 'EVENT');
      t.equal(ev[1], prefix);
      // barrier: a third publication to the exact topic
      const req3 = pub.request();
      await pub.send([16, req3, { acknowledge: true }, 'com.a.b.c', [44]]);
      await pub.take((m) => m[0] === 17 && m[1] === req3, 'PUBLISHED');
      await eventually(() => w.peek((m) => m[0] === 36).length >= 3, WAIT_MS);
      t.strictSame(w.peek((m) => m[0] === 36).map((m) => m[4]), [[44], [44], [44]], 'nothing else for com.a.x');
      w.messages.splice(0);

      // Subscribing again to the same topic and policy: the same subscription, still one EVENT.
      t.equal(await w.subscribe('com.a.b.c'), exact, 'same subscription id on a repeated SUBSCRIBE');
      const req4 = pub.request();
      await pub.send([16, req4, { acknowledge: true }, 'com.a.b.c', [45]]);
      await pub.take((m) => m[0] === 17 && m[1] === req4, 'PUBLISHED');
      await eventually(() => w.peek((m) => m[0] === 36).length >= 3, WAIT_MS);
      const req5 = pub.request();
      await pub.send([16, req5, { acknowledge: true }, 'com.a.x', ['marker']]);
      await pub.take((m) => m[0] === 17 && m[1] === req5, 'PUBLISHED');
      await eventually(() => w.peek((m) => m[0] === 36 && m[1] === prefix && (m[4] as unknown[])[0] === 'marker').length === 1, WAIT_MS);
      t.equal(w.peek((m) => m[0] === 36 && m[1] === exact).length, 1, 'one EVENT for the doubly-subscribed exact subscription');
    });
  }
});

t.test('event retention: get_retained delivers the last retained event with details.retained', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const topic = `com.retain.${v.name.replace('/', '_')}`;
      const [pub, late, noRetained, w, w2] = await Promise.all([f.probe(t, v), f.probe(t, v), f.probe(t, v), f.wire(t, v), f.wire(t, v)]);
      await pub.session.publish(topic, ['v1'], { n: 1 }, { acknowledge: true, retain: true });
      const p2 = await pub.session.publish(topic, ['v2'], { n: 2 }, { acknowledge: true, retain: true });
      await pub.session.publish(topic, ['v3-not-retained'], {}, { acknowledge: true });

      await late.sub(topic, { get_retained: true });
      await noRetained.sub(topic);
      await barrier(pub, [late, noRetained]);
      const got = late.of(topic);
      t.equal(got.length, 1, 'exactly one retained event');
      t.strictSame(got[0]?.args, ['v2'], 'the latest retained publication');
      t.strictSame(got[0]?.kwargs, { n: 2 });
      t.equal(got[0]?.details.retained, true, 'details.retained');
      t.equal(got[0]?.details.publication, p2.id, 'the original publication id');
      t.strictSame(noRetained.of(topic), [], 'no get_retained, no retained event');

      // Wire: the retained EVENT follows SUBSCRIBED and carries {retained: true}.
      const subId = await w.subscribe(topic, { get_retained: true });
      t.strictSame(await w.take((m) => m[0] === 36, 'retained EVENT'), [36, subId, p2.id, { retained: true }, ['v2'], { n: 2 }]);
      // Prefix subscription with get_retained: the concrete topic too.
      const pSub = await w2.subscribe(topic, { match: 'prefix', get_retained: true });
      t.strictSame(await w2.take((m) => m[0] === 36, 'retained EVENT'), [36, pSub, p2.id, { topic, retained: true }, ['v2'], { n: 2 }]);
      // A retained publication keeps its receiver filter for later subscribers.
      const ftopic = `${topic}.filtered`;
      await pub.session.publish(ftopic, ['only-anonymous'], undefined, { acknowledge: true, retain: true, exclude_authrole: ['discloser'] });
      const [anonLate, discLate] = await Promise.all([f.probe(t, v), f.probe(t, v, { role: 'discloser' })]);
      await anonLate.sub(ftopic, { get_retained: true });
      await discLate.sub(ftopic, { get_retained: true });
      await barrier(pub, [anonLate, discLate]);
      t.strictSame(anonLate.of(ftopic).map((e) => e.args), [['only-anonymous']], 'eligible late subscriber gets it');
      t.strictSame(discLate.of(ftopic), [], 'excluded late subscriber does not');

      // Live events after that are not marked retained.
      const live = await pub.session.publish(topic, ['live'], undefined, { acknowledge: true });
      t.strictSame(await w.take((m) => m[0] === 36, 'live EVENT'), [36, subId, live.id, {}, ['live']]);
    });
  }
});

t.test('publisher disclosure follows the role\'s disclose.publisher', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [s, discloser, anon, w] = await Promise.all([
        f.probe(t, v), f.probe(t, v, { role: 'discloser' }), f.probe(t, v), f.wire(t, v),
      ]);
      const daveAuthid = await authidOf(s.session, discloser.id);
      await s.sub('com.disclose');
      await discloser.session.publish('com.disclose', ['d'], {}, { acknowledge: true });
      await anon.session.publish('com.disclose', ['a'], {}, { acknowledge: true });
      await discloser.session.publish('com.disclose', ['d-me'], {}, { acknowledge: true, disclose_me: true });
      await barrier(discloser, [s]);
      await barrier(anon, [s]);
      const evs = s.of('com.disclose');
      t.strictSame(evs.map((e) => e.args[0]), ['d', 'a', 'd-me'], 'all three delivered, in order');
      const d = evs.find((e) => e.args[0] === 'd')!;
      t.equal(d.details.publisher, discloser.id, 'publisher');
      t.equal(d.details.publisher_authid, daveAuthid, 'publisher_authid');
      t.equal(d.details.publisher_authrole, 'discloser', 'publisher_authrole');
      const dm = evs.find((e) => e.args[0] === 'd-me')!;
      t.equal(dm.details.publisher, discloser.id, 'disclose_me:true is fine where disclosure is allowed');
      const a = evs.find((e) => e.args[0] === 'a')!;
      t.equal(a.details.publisher, undefined, 'no publisher for a non-disclosing role');
      t.equal(a.details.publisher_authid, undefined);
      t.equal(a.details.publisher_authrole, undefined);

      // Exact details on the wire.
      const subId = await w.subscribe('com.disclose.wire');
      const p1 = await discloser.session.publish('com.disclose.wire', [1], undefined, { acknowledge: true });
      t.strictSame(await w.take((m) => m[0] === 36, 'EVENT'), [36, subId, p1.id, { publisher: discloser.id, publisher_authid: daveAuthid, publisher_authrole: 'discloser' }, [1]]);
      const p2 = await anon.session.publish('com.disclose.wire', [2], undefined, { acknowledge: true });
      t.strictSame(await w.take((m) => m[0] === 36, 'EVENT'), [36, subId, p2.id, {}, [2]]);

      // disclose_me where the role may not disclose: refused, and nothing is delivered.
      const err = await callError(anon.session.publish('com.disclose', ['refused'], {}, { acknowledge: true, disclose_me: true }));
      t.equal(err.error, 'wamp.error.option_disallowed.disclose_me');
      await barrier(anon, [s]);
      t.notOk(s.of('com.disclose').some((e) => e.args[0] === 'refused'), 'refused publication not delivered');
    });
  }
});

t.test('publish and subscribe errors', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [pub, s, listener, w] = await Promise.all([f.probe(t, v), f.probe(t, v), f.probe(t, v, { role: 'listener' }), f.wire(t, v)]);
      await s.sub('wamp.foo');
      await s.sub('com.err');

      let e = await callError(pub.session.publish('wamp.foo', ['x'], {}, { acknowledge: true }));
      t.equal(e.error, 'wamp.error.invalid_uri', 'reserved wamp. topic');
      e = await callError(pub.session.publish('a..b', ['x'], {}, { acknowledge: true }));
      t.equal(e.error, 'wamp.error.invalid_uri', 'empty component in a topic');
      e = await callError(pub.session.publish('com.err bad', ['x'], {}, { acknowledge: true }));
      t.equal(e.error, 'wamp.error.invalid_uri', 'whitespace in a topic');

      await listener.sub('com.err');
      e = await callError(listener.session.publish('com.err', ['denied'], {}, { acknowledge: true }));
      t.equal(e.error, 'wamp.error.not_authorized', 'role without publish permission');

      e = await callError(s.session.subscribe('a..b', () => undefined));
      t.equal(e.error, 'wamp.error.invalid_uri', 'exact subscription with an empty component');
      e = await callError(s.session.subscribe('com..x', () => undefined, { match: 'prefix' }));
      t.equal(e.error, 'wamp.error.invalid_uri', 'prefix subscription with an empty inner component');

      await barrier(pub, [s, listener]);
      t.strictSame(s.of('com.err'), [], 'no refused publication was delivered');
      t.strictSame(listener.of('com.err'), [], 'listener got nothing either');
      t.strictSame(s.of('wamp.foo'), [], 'wamp.foo was not delivered');

      // Without acknowledge, refusals are silent: the next thing back is a PUBLISHED.
      await w.send([16, w.request(), {}, 'wamp.foo', []]);
      await w.send([16, w.request(), {}, 'a..b', []]);
      const req = w.request();
      await w.send([16, req, { acknowledge: true }, 'com.err.ok', []]);
      await w.take((m) => m[0] === 17 && m[1] === req, 'PUBLISHED');
      t.strictSame(w.peek(() => true), [], 'no ERROR for unacknowledged refused publications');

      // Wire-level ERROR shape for an acknowledged refusal.
      const req2 = w.request();
      await w.send([16, req2, { acknowledge: true }, 'wamp.foo', []]);
      const err = await w.take((m) => m[0] === 8, 'ERROR');
      t.strictSame(err.slice(0, 5), [8, 16, req2, {}, 'wamp.error.invalid_uri']);
    });
  }
});

t.test('unsubscribe twice: wamp.error.no_such_subscription', { jobs: VARIANTS.length }, async (t) => {
  for (const v of VARIANTS) {
    t.test(v.name, async (t) => {
      const f = await Fixture.start(t);
      const [w, other, pub] = await Promise.all([f.wire(t, v), f.wire(t, v), f.probe(t, v)]);
      const subId = await w.subscribe('com.twice');
      const r1 = w.request();
      await w.send([34, r1, subId]);
      t.strictSame(await w.take((m) => (m[0] === 35 && m[1] === r1) || (m[0] === 8 && m[2] === r1), 'UNSUBSCRIBED'), [35, r1]);
      const r2 = w.request();
      await w.send([34, r2, subId]);
      const err = await w.take((m) => m[0] === 8 && m[2] === r2, 'ERROR');
      t.strictSame(err.slice(0, 5), [8, 34, r2, {}, 'wamp.error.no_such_subscription']);
      // Someone else's subscription is not ours to drop.
      const theirs = await other.subscribe('com.twice.theirs');
      const r3 = w.request();
      await w.send([34, r3, theirs]);
      t.strictSame((await w.take((m) => m[0] === 8 && m[2] === r3, 'ERROR')).slice(0, 5), [8, 34, r3, {}, 'wamp.error.no_such_subscription']);
      // ... and it still works for them.
      await pub.session.publish('com.twice.theirs', ['still'], undefined, { acknowledge: true });
      t.strictSame((await other.take((m) => m[0] === 36, 'EVENT')).slice(4), [['still']]);
    });
  }
});

t.test('fan-out: 50 subscribers on mixed serializers all get identical args', async (t) => {
  const f = await Fixture.start(t);
  const subs = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const p = await f.probe(t, VARIANTS[i % VARIANTS.length]!);
    await p.sub('com.fanout');
    return p;
  }));
  const pub = await f.probe(t, VARIANTS[0]!);
  const args = [{ seq: 1, payload: 'x'.repeat(2000), list: Array.from({ length: 50 }, (_, i) => i * 1.5) }, 'ünï'];
  const kwargs = { source: 'fanout', nested: { ok: true } };
  const publications: number[] = [];
  for (let i = 0; i < 3; i++) {
    const p = await pub.session.publish('com.fanout', [i, ...args], kwargs, { acknowledge: true });
    publications.push(p.id);
  }
  await eventually(() => subs.every((s) => s.of('com.fanout').length >= 3), WAIT_MS);
  await barrier(pub, subs);
  for (const [i, s] of subs.entries()) {
    const evs = s.of('com.fanout');
    t.equal(evs.length, 3, `subscriber ${i} (${s.variant.name}) got three events`);
    t.strictSame(evs.map((e) => e.args), [0, 1, 2].map((n) => [n, ...args]), `subscriber ${i} args in order`);
    t.strictSame(evs.map((e) => e.kwargs), [kwargs, kwargs, kwargs], `subscriber ${i} kwargs`);
    t.strictSame(evs.map((e) => e.details.publication), publications, `subscriber ${i} publication ids`);
  }
});
