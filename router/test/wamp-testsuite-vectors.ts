// The WAMP specification's machine-readable test vectors (wamp-proto
// `testsuite/`, copied read-only to ../shared/wamp-testsuite), as a harness:
// wampTestsuite(t, {target}) runs them against any router reachable by URL —
// one router (wamp-testsuite.test.ts) or a cluster behind a balancer
// (cluster/cluster-suite.test.ts). What they check: see wamp-testsuite.test.ts.
import type { Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, sleep } from './helpers.js';
import { Wire } from './wire.js';
import { jsonSerializer, msgpackSerializer, cborSerializer, type Serializer } from '../src/serializers/index.js';
import { decodeMessage } from '../src/messages/decode.js';
import { toWire } from '../src/messages/encode.js';
import { checkEventDetails } from '../src/messages/options.js';
import { MessageType, ProtocolViolation, type WampMessage } from '../src/messages/types.js';

type Dict = Record<string, unknown>;

const here = path.dirname(fileURLToPath(import.meta.url));
/** The vectors: ../shared/wamp-testsuite beside the repository, or CLAWGATE_WAMP_TESTSUITE (a worktree elsewhere). */
export const SUITE = process.env.CLAWGATE_WAMP_TESTSUITE ?? path.resolve(here, '../../../shared/wamp-testsuite');

interface Variant { bytes?: string; bytes_hex: string; note?: string }
interface SerializationSample {
  description: string;
  serializers: Record<string, Variant[]>;
  expected_attributes: Dict;
}
interface ValidationSample {
  description: string;
  wmsg: unknown[];
  expected_error?: { type: string; contains: string };
}
interface VectorFile { file: string; wamp_message_type: string; wamp_message_code: number; samples: (SerializationSample | ValidationSample)[] }

function listJson(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listJson(p));
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out.sort();
}

const SERIALIZERS: Record<string, Serializer> = { json: jsonSerializer, msgpack: msgpackSerializer, cbor: cborSerializer };

/** expected_attributes name → field of the router's typed message. */
const ATTRIBUTE_NAMES: Record<string, string> = {
  message_type: 'type',
  request_id: 'request',
  request_type: 'requestType',
  subscription_id: 'subscription',
  subscription: 'subscription',
  publication_id: 'publication',
  publication: 'publication',
  registration_id: 'registration',
  session_id: 'session',
  method: 'authmethod',
};

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Binary → {hex}, undefined fields dropped: a shape both sides can be compared in. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $binary: hex(v) };
  if (Array.isArray(v)) return v.map(normalize);
  if (typeof v === 'object' && v !== null) {
    const out: Dict = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = normalize(x);
    return out;
  }
  return v;
}

/** The typed message expected_attributes describe, in normalize()'s shape. */
function expectedMessage(attrs: Dict): Dict {
  const out: Dict = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null && (k === 'args' || k === 'kwargs' || k === 'payload')) continue;
    if (k === 'roles') { out.details = { ...(out.details as Dict | undefined), roles: v }; continue; }
    if (k === 'payload') { out.payload = { $binary: v as string }; continue; }
    out[ATTRIBUTE_NAMES[k] ?? k] = v;
  }
  return normalize(out) as Dict;
}

function decodeVariant(s: Serializer, v: Variant): WampMessage {
  const bytes = Buffer.from(v.bytes_hex, 'hex');
  // JSON arrives in text frames; the binary formats as bytes.
  return decodeMessage(s.decode(s.binary ? new Uint8Array(bytes) : bytes.toString('utf8')));
}

function encodeHex(s: Serializer, m: WampMessage): string {
  const out = s.encode(toWire(m));
  return typeof out === 'string' ? Buffer.from(out, 'utf8').toString('hex') : hex(out);
}

/** A realm of a running router (or of a cluster behind a balancer) the live vectors are replayed on. */
export interface LiveRealm { url: string; realm: string }

/**
 * Where the live vectors run. Each is asked once per test that needs a
 * router, and may start one for it (stopped with t.teardown).
 */
export interface LiveTarget {
  /** testConfig()'s realm: anonymous may do everything, caller and publisher not disclosed. */
  plain(t: Test): Promise<LiveRealm>;
  /** A realm where anonymous may do everything and caller and publisher are disclosed (DISCLOSING_ROLES). */
  disclosing(t: Test): Promise<LiveRealm>;
}

export const DISCLOSING_ROLES = [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: true, publisher: true } }] }];

/** A realm named `name` with DISCLOSING_ROLES. */
export function disclosingRealm(name: string): unknown {
  return { name, roles: DISCLOSING_ROLES };
}

export interface VectorOptions {
  target: LiveTarget;
  /** Also the vectors that need no router (serialization samples, EVENT.Details through the decoder); default true. */
  offline?: boolean;
}

/**
 * The whole suite as tap subtests of `t`: the vectors that need no router
 * (unless offline is false), and the live ones against `target`. When the
 * vectors are missing: a failure with CLAWGATE_REQUIRE_WAMP_TESTSUITE=1, else a skip.
 */
export function wampTestsuite(t: Test, o: VectorOptions): void {
  const present = fs.existsSync(SUITE) && fs.existsSync(path.join(SUITE, 'singlemessage'));
  if (!present && process.env.CLAWGATE_REQUIRE_WAMP_TESTSUITE === '1') {
    t.fail(`WAMP test vectors not found: expected the folder ${SUITE} (../shared/wamp-testsuite relative to the repo root); CI requires them`);
    return;
  }
  if (!present) {
    t.skip(`WAMP test vectors not found: expected the folder ${SUITE} (../shared/wamp-testsuite relative to the repo root)`, () => {});
    return;
  }
  const offline = o.offline ?? true;
  const files: VectorFile[] = listJson(path.join(SUITE, 'singlemessage')).map((f) => ({
    ...(JSON.parse(fs.readFileSync(f, 'utf8')) as Omit<VectorFile, 'file'>),
    file: path.relative(SUITE, f),
  }));
  const serialization = files.flatMap((f) => f.samples.filter((s): s is SerializationSample => 'serializers' in s).map((s) => ({ f, s })));
  const validation = files.flatMap((f) => f.samples.filter((s): s is ValidationSample => 'wmsg' in s).map((s) => ({ f, s })));

  t.test('the vectors are all there', async (t) => {
    t.equal(files.length, 26, '26 single-message files (20 basic, 6 advanced)');
    t.equal(serialization.length, 35, '35 serialization samples');
    t.equal(validation.length, 67, '67 validation samples');
    t.equal(validation.filter(({ s }) => s.expected_error).length, 28, '28 must be rejected');
  });

  if (offline) t.test('serialization samples: decode, compare, re-encode (json, msgpack, cbor)', async (t) => {
    for (const { f, s } of serialization) {
      await t.test(`${f.file}: ${s.description}`, async (t) => {
        const expected = expectedMessage(s.expected_attributes);
        t.equal(expected.type, f.wamp_message_code, 'sample is of the file\'s message type');
        const listedHex = (name: string): string[] => (s.serializers[name] ?? []).map((v) => v.bytes_hex.toLowerCase());
        // Every re-encoding that matches none of the listed variants (one assertion per sample, below).
        const mismatches: { from: string; to: string; got: string; listed: string[] }[] = [];
        const reencode = (from: string, m: WampMessage, to: string): void => {
          const got = encodeHex(SERIALIZERS[to]!, m);
          if (!listedHex(to).includes(got)) mismatches.push({ from, to, got, listed: listedHex(to) });
        };
        for (const [name, serializer] of Object.entries(SERIALIZERS)) {
          const variants = s.serializers[name] ?? [];
          t.ok(variants.length > 0, `${name}: has variants`);
          for (const [i, v] of variants.entries()) {
            let m: WampMessage;
            try {
              m = decodeVariant(serializer, v);
            } catch (e) {
              t.fail(`${name}[${i}] (${v.note ?? ''}) must decode: ${(e as Error).message}`);
              continue;
            }
            t.strictSame(normalize(m), expected, `${name}[${i}] decodes to expected_attributes`);
            // Same serializer, then across: a JSON peer's message going out to a msgpack/cbor peer and back.
            for (const to of Object.keys(SERIALIZERS)) reencode(`${name}[${i}]`, m, to);
          }
          if (name === 'json') {
            const compact = variants.find((v) => v.bytes !== undefined && v.bytes === JSON.stringify(JSON.parse(v.bytes)));
            t.ok(compact, 'json: a compact variant exists');
            if (compact) {
              const m = decodeVariant(serializer, variants[0]!);
              t.equal(encodeHex(serializer, m), compact.bytes_hex.toLowerCase(), 'json: re-encoding gives the compact variant');
            }
          }
        }
        t.same(mismatches, [], 're-encoding (json, msgpack, cbor; from every decoded variant) gives a listed variant');
      });
    }
  });

  t.test('validation samples: PUBLISH and SUBSCRIBE options over a live session', async (t) => {
    const r = await o.target.plain(t);
    // The vectors' request ids (1001, 1004, ...) are placeholders; a client
    // numbers its requests 1, 2, 3, ... in each session (the spec's session
    // scope, which the router enforces), so each is replaced by the sending
    // session's next id.
    const requestIds = new WeakMap<Wire, number>();
    const nextRequest = (c: Wire): number => {
      const id = (requestIds.get(c) ?? 0) + 1;
      requestIds.set(c, id);
      return id;
    };
    let good: Wire | undefined;
    const session = async (): Promise<Wire> => {
      if (good === undefined || good.ws!.readyState !== good.ws!.OPEN) {
        good = Wire.connect({ url: r.url, codec: 'json-text' });
        await good.join(r.realm);
      }
      return good;
    };
    /** The next reply that is not an EVENT (retained events may arrive for our own subscriptions). */
    const reply = async (c: Wire): Promise<unknown[]> => {
      const m = await eventually(() => c.messages.find((x) => x[0] !== MessageType.EVENT));
      c.messages.splice(0, c.messages.indexOf(m) + 1);
      return m;
    };
    const alive = async (t: Test, c: Wire): Promise<void> => {
      const id = nextRequest(c);
      c.send([48, id, {}, 'wamp.session.count']);
      const res = await c.next(50);
      t.equal(res[1], id, 'session still alive: wamp.session.count answered');
    };
    const samples = validation.filter(({ s }) => s.wmsg[0] === MessageType.PUBLISH || s.wmsg[0] === MessageType.SUBSCRIBE);
    t.equal(samples.length, 46, '35 PUBLISH + 11 SUBSCRIBE samples');

    for (const { f, s } of samples) {
      await t.test(`${f.file}: ${s.description}`, async (t) => {
        const wmsg = structuredClone(s.wmsg);
        const options = wmsg[2] as Dict;
        if (s.expected_error === undefined) {
          const c = await session();
          const request = nextRequest(c);
          wmsg[1] = request;
          const ackable = wmsg[0] === MessageType.PUBLISH && options.acknowledge === undefined;
          if (ackable) options.acknowledge = true;
          c.send(wmsg);
          if (wmsg[0] === MessageType.SUBSCRIBE) {
            const got = await reply(c);
            t.same(got.slice(0, 2), [MessageType.SUBSCRIBED, request], 'SUBSCRIBED', { got });
          } else if (options.acknowledge === true) {
            const got = await reply(c);
            t.same(got.slice(0, 2), [MessageType.PUBLISHED, request], 'PUBLISHED', { got });
          } else {
            await alive(t, c);
            t.notOk(c.messages.some((m) => m[0] === MessageType.ERROR || m[0] === MessageType.ABORT), 'no ERROR or ABORT');
          }
          t.equal(c.ws!.readyState, c.ws!.OPEN, 'session stays open');
        } else {
          const c = Wire.connect({ url: r.url, codec: 'json-text' });
          await c.join(r.realm);
          wmsg[1] = nextRequest(c);
          c.send(wmsg);
          const abort = await c.next();
          t.equal(abort[0], MessageType.ABORT, 'ABORT', { got: abort });
          t.equal(abort[2], 'wamp.error.protocol_violation');
          const text = String((abort[1] as Dict | undefined)?.message);
          t.ok(text.includes(s.expected_error.contains), `ABORT message names "${s.expected_error.contains}": ${text}`);
          await c.closed;
          // The router and the long-lived session keep working.
          await alive(t, await session());
        }
      });
    }
  });

  if (offline) t.test('validation samples: EVENT.Details through checkEventDetails', async (t) => {
    const samples = validation.filter(({ s }) => s.wmsg[0] === MessageType.EVENT);
    t.equal(samples.length, 21, '21 EVENT samples');
    for (const { s } of samples) {
      await t.test(s.description, async (t) => {
        const details = s.wmsg[3] as Dict;
        let error: Error | undefined;
        try { checkEventDetails(details); } catch (e) { error = e as Error; }
        if (s.expected_error === undefined) {
          t.equal(error, undefined, 'checkEventDetails accepts');
        } else {
          t.ok(error instanceof ProtocolViolation, 'checkEventDetails rejects with a ProtocolViolation');
          t.ok(error?.message.includes(s.expected_error.contains), `message names "${s.expected_error.contains}": ${error?.message}`);
        }
        // The whole EVENT through the decoder a client-side peer would use.
        let decodeError: Error | undefined;
        try { decodeMessage(structuredClone(s.wmsg)); } catch (e) { decodeError = e as Error; }
        if (s.expected_error === undefined) t.equal(decodeError, undefined, 'decodeMessage accepts the EVENT');
        else t.ok(decodeError?.message.includes(s.expected_error.contains), `decodeMessage rejects naming "${s.expected_error.contains}"`);
      });
    }
  });

  t.test('EVENTs the router sends pass checkEventDetails', async (t) => {
    const r = await o.target.disclosing(t);
    const sub = Wire.connect({ url: r.url, codec: 'json-text' });
    const pub = Wire.connect({ url: r.url, codec: 'json-text' });
    await sub.join(r.realm);
    const pubId = await pub.join(r.realm);
    let subReq = 1;
    for (const [options, topic] of [[{}, 'com.ev.topic'], [{ match: 'prefix' }, 'com.ev'], [{ match: 'wildcard' }, 'com..topic']] as const) {
      sub.send([32, subReq++, options, topic]);
      await sub.next(33);
    }
    let pubReq = 1;
    const publishes: unknown[][] = [
      [16, pubReq++, { acknowledge: true }, 'com.ev.topic', ['a', 1], { k: true }],
      [16, pubReq++, { acknowledge: true, retain: true, disclose_me: true }, 'com.ev.topic'],
      [16, pubReq++, { acknowledge: true, enc_algo: 'cryptobox', enc_serializer: 'cbor' }, 'com.ev.topic', '\u0000oWZub3RpY2U='],
    ];
    for (const p of publishes) {
      pub.send(p);
      await pub.next(17);
    }
    await eventually(() => sub.messages.filter((m) => m[0] === 36).length === 9);
    // A late subscriber gets the retained event.
    const late = Wire.connect({ url: r.url, codec: 'json-text' });
    await late.join(r.realm);
    late.send([32, 1, { get_retained: true }, 'com.ev.topic']);
    await late.next(33);
    const retained = await late.next(36);
    const events = [...sub.messages.filter((m) => m[0] === 36), retained];
    for (const ev of events) {
      const details = ev[3] as Dict;
      t.doesNotThrow(() => checkEventDetails(details), `EVENT.Details pass: ${JSON.stringify(details)}`);
      t.doesNotThrow(() => decodeMessage(ev), 'the whole EVENT decodes');
      t.equal(details.publisher, pubId, 'publisher disclosed');
      t.equal(details.publisher_authrole, 'anonymous');
    }
    t.ok(events.some((e) => (e[3] as Dict).topic === 'com.ev.topic'), 'pattern subscriptions get details.topic');
    t.equal((retained[3] as Dict).retained, true, 'retained event is marked');
    const enc = events.find((e) => (e[3] as Dict).enc_algo === 'cryptobox');
    t.ok(enc, 'passthrough details are forwarded');
    t.equal(enc?.[4], '\u0000oWZub3RpY2U=', 'passthrough payload unchanged');
    for (const c of [sub, pub, late]) c.end();
  });

  t.test('multisession/advanced/publisher_exclusion_disabled.json against a live router', async (t) => {
    const file = path.join(SUITE, 'multisession/advanced/publisher_exclusion_disabled.json');
    const transcript = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      sessions: { session_id: string; realm: string; roles: string[] }[];
      sequence: { step: number; from: string; to: string; message: Dict & { type: string }; assertion?: string }[];
      expected_outcome: { event_count: number; event_recipients: string[]; session_1_receives_event: boolean };
    };
    const r = await o.target.plain(t);

    // The transcript's session, plus a second one that watches for stray events.
    const sessions = new Map<string, Wire>();
    for (const s of transcript.sessions) {
      const c = Wire.connect({ url: r.url, codec: 'json-text' });
      await c.join(s.realm, { roles: Object.fromEntries(s.roles.map((role) => [role, {}])) });
      sessions.set(s.session_id, c);
    }
    const other = Wire.connect({ url: r.url, codec: 'json-text' });
    await other.join(r.realm);
    other.send([32, 1, {}, 'com.myapp.unrelated']);
    await other.next(33);

    const FIELDS: Record<string, string[]> = {
      SUBSCRIBE: ['request_id', 'options', 'topic'],
      SUBSCRIBED: ['request_id', 'subscription_id'],
      PUBLISH: ['request_id', 'options', 'topic', 'args', 'kwargs'],
      PUBLISHED: ['request_id', 'publication_id'],
      EVENT: ['subscription_id', 'publication_id', 'details', 'args', 'kwargs'],
    };
    const ROUTER_ASSIGNED = new Set(['subscription_id', 'publication_id']);
    const bound = new Map<string, unknown>(); // "field:placeholder" → router-assigned value
    // The transcript's request ids (123, 789) are placeholders too: each
    // session numbers its requests 1, 2, 3, ... (the spec's session scope),
    // and the router's answers must echo the number the session really sent.
    const sent = new Map<string, number>(); // "session:placeholder" → request id sent
    const lastRequest = new Map<string, number>();

    for (const step of transcript.sequence) {
      const { type, ...fields } = step.message;
      const code = MessageType[type as keyof typeof MessageType];
      const names = FIELDS[type];
      t.ok(names, `step ${step.step}: ${type} is understood`);
      if (!names) continue;
      if (step.to === 'router') {
        const wire: unknown[] = [code, ...names.map((n) => fields[n])];
        if (names[0] === 'request_id') {
          const id = (lastRequest.get(step.from) ?? 0) + 1;
          lastRequest.set(step.from, id);
          sent.set(`${step.from}:${String(fields.request_id)}`, id);
          wire[1] = id;
        }
        while (wire.length > 0 && wire[wire.length - 1] === undefined) wire.pop();
        sessions.get(step.from)!.send(wire);
      } else {
        const got = await sessions.get(step.to)!.next(code);
        names.forEach((n, i) => {
          const want = fields[n];
          const value = got[i + 1];
          if (want === undefined) { t.equal(value, undefined, `step ${step.step}: no ${n}`); return; }
          if (n === 'request_id') {
            t.equal(value, sent.get(`${step.to}:${String(want)}`), `step ${step.step}: request_id is the one sent for ${String(want)}`);
          } else if (ROUTER_ASSIGNED.has(n)) {
            t.ok(Number.isSafeInteger(value) && (value as number) > 0, `step ${step.step}: ${n} is an id`);
            const key = `${n}:${String(want)}`;
            if (bound.has(key)) t.equal(value, bound.get(key), `step ${step.step}: ${n} matches the bound ${want}`);
            else bound.set(key, value);
          } else {
            t.strictSame(value, want, `step ${step.step}: ${n}`);
          }
        });
        if (step.assertion) t.pass(step.assertion);
      }
    }

    await sleep(150);
    const outcome = transcript.expected_outcome;
    const recipients = [...sessions.entries()].filter(([, c]) => c.messages.some((m) => m[0] === 36)).map(([id]) => id);
    t.same(recipients, [], 'no further EVENTs beyond the transcript');
    t.equal(outcome.event_count, 1);
    t.same(outcome.event_recipients, ['session_1']);
    t.equal(outcome.session_1_receives_event, true);
    t.same(other.messages, [], 'the unrelated session received nothing');

    // Contrast: without exclude_me=false the publisher does not get its own event.
    const s1 = sessions.get('session_1')!;
    const again = (lastRequest.get('session_1') ?? 0) + 1;
    s1.send([16, again, { acknowledge: true }, 'com.myapp.topic1', ['Hello again']]);
    t.same((await s1.next(17))[1], again, 'PUBLISHED');
    await sleep(100);
    t.notOk(s1.messages.some((m) => m[0] === 36), 'default exclude_me=true: no EVENT to the publisher');
    // And another publisher's event reaches session_1 with the args unchanged.
    other.send([16, 2, { acknowledge: true }, 'com.myapp.topic1', ['from other', { n: 1.5 }], { k: [null] }]);
    await other.next(17);
    const ev = await s1.next(36);
    t.strictSame(ev.slice(4), [['from other', { n: 1.5 }], { k: [null] }], 'args/kwargs unchanged');
    for (const c of [...sessions.values(), other]) c.end();
  });
}
