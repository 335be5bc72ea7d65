// The pure decisions and the config keys added for issue 13 (hardening):
// admission with reserved sessions and per-address counts, connection
// admission, retention, the structural scans of MessagePack, CBOR and JSON,
// URI shortening, permissions' retain and max_publication_size; then every
// new config key: its default, its value, and a bad value failing at start
// with the key's path named.
import t from 'tap';
import fc from 'fast-check';
import { Encoder as CborEncoder } from 'cbor-x';
import { encode as mpEncode } from '@msgpack/msgpack';
import { admissionRefusal, unusedReserved } from '../src/limits/admission.js';
import { connectionRefusal, ConnectionCounts } from '../src/limits/connection-admission.js';
import { retainRefusal } from '../src/limits/retention.js';
import { DEFAULT_REALM_LIMITS, DEFAULT_LISTENER_LIMITS, DEFAULT_MEMORY_LIMITS, DEFAULT_MAX_MESSAGE_SIZE } from '../src/limits/limits-config.js';
import { scanMsgpack } from '../src/serializers/msgpack-scan.js';
import { scanCbor } from '../src/serializers/cbor-scan.js';
import { scanJson, jsonNeedsScan } from '../src/serializers/json-scan.js';
import { DEFAULT_DECODE_LIMITS, DecodeLimitExceeded } from '../src/serializers/serializer.js';
import { cborSerializer, jsonSerializer, msgpackSerializer } from '../src/serializers/index.js';
import { shortUri, shortText } from '../src/uri.js';
import { authorize, type Permission } from '../src/auth/permissions.js';
import { fromCrossbar, ConfigError } from '../src/config/crossbar-config.js';
import { testConfig } from './helpers.js';

t.test('admission: reserved sessions and sessions per address', async (t) => {
  const limits = { ...DEFAULT_REALM_LIMITS, maxSessions: 10, reserved: { backend: 2, claw: 3 } };
  const base = { realm: 'r', authid: 'x', anonymous: true, authidSessions: 0 };
  const unused = (backend: number, claw: number) => unusedReserved(limits.reserved, (role) => ({ backend, claw } as Record<string, number>)[role] ?? 0);
  t.equal(unused(0, 0), 5);
  t.equal(unused(3, 1), 2, 'a role over its reservation frees none of the others');
  t.equal(admissionRefusal(limits, limits, { ...base, authrole: 'anonymous', realmSessions: 4, unusedReserved: unused(0, 0) }), undefined, '5 free for others: the 5th anonymous joins');
  t.match(admissionRefusal(limits, limits, { ...base, authrole: 'anonymous', realmSessions: 5, unusedReserved: unused(0, 0) }), /limit of 10 sessions \(5 of them kept for the roles backend, claw\)/, 'the 6th does not');
  t.equal(admissionRefusal(limits, limits, { ...base, authrole: 'backend', realmSessions: 5, roleSessions: 0, unusedReserved: unused(0, 0) }), undefined, 'a backend takes its reserved slot');
  t.equal(admissionRefusal(limits, limits, { ...base, authrole: 'claw', realmSessions: 9, roleSessions: 2, unusedReserved: unused(2, 2) }), undefined, 'the last reserved claw slot, with the realm otherwise full');
  t.match(admissionRefusal(limits, limits, { ...base, authrole: 'backend', realmSessions: 10, roleSessions: 2, unusedReserved: unused(2, 3) }), /limit of 10/, 'past its reservation a role is like any other');
  t.equal(admissionRefusal(limits, limits, { ...base, authrole: 'backend', realmSessions: 7, roleSessions: 2, unusedReserved: unused(2, 1) }), undefined, 'and joins while there is unreserved room');
  const perAddress = { ...limits, maxSessionsPerAddress: 3 };
  t.match(admissionRefusal(perAddress, perAddress, { ...base, realmSessions: 0, address: '198.51.100.7', addressSessions: 3 }), /client address 198\.51\.100\.7 already has 3 sessions.*\(limit 3\)/);
  t.equal(admissionRefusal(perAddress, perAddress, { ...base, realmSessions: 0, address: undefined, addressSessions: 99 }), undefined, 'sessions not counted per address (in-process, the proxy itself)');
  t.equal(admissionRefusal(perAddress, { ...perAddress, maxSessionsPerAddress: null }, { ...base, realmSessions: 0, address: '198.51.100.7', addressSessions: 99 }), undefined, 'a role may switch it off');
});

t.test('connection admission', async (t) => {
  const c = new ConnectionCounts();
  const limits = { maxConnections: 3, maxConnectionsPerAddress: 2 };
  c.open('a'); c.open('a');
  t.match(connectionRefusal(limits, c, 'a'), /too many connections from a \(max_connections_per_address 2\)/);
  t.equal(connectionRefusal(limits, c, 'b'), undefined);
  t.equal(connectionRefusal(limits, c, undefined), undefined, 'not counted per address');
  c.open(undefined);
  t.match(connectionRefusal(limits, c, 'b'), /3 open connections \(max_connections 3\)/);
  c.close('a'); c.close(undefined);
  t.equal(connectionRefusal(limits, c, 'a'), undefined);
  c.open('z', false);
  t.equal(c.total, 1, 'an upgrade counted per address only adds nothing to the total');
  c.close('z', false); c.close('a');
  t.same([c.total, c.addresses], [0, 0], 'the per-address map empties as connections close');
  t.equal(connectionRefusal({ maxConnections: null, maxConnectionsPerAddress: null }, c, 'a'), undefined, 'null switches both off');
});

t.test('retention', async (t) => {
  const limits = { maxRetained: 2, maxRetainedSize: 100, maxRetainedBytes: 150 };
  t.equal(retainRefusal(limits, { count: 0, bytes: 0 }, 100, undefined), undefined);
  t.match(retainRefusal(limits, { count: 0, bytes: 0 }, 101, undefined), /max_retained_size/);
  t.match(retainRefusal(limits, { count: 2, bytes: 10 }, 5, undefined), /on 2 topics \(max_retained\)/);
  t.equal(retainRefusal(limits, { count: 2, bytes: 10 }, 5, 5), undefined, 'replacing does not count against max_retained');
  t.match(retainRefusal(limits, { count: 1, bytes: 100 }, 60, undefined), /max_retained_bytes/);
  t.equal(retainRefusal(limits, { count: 2, bytes: 150 }, 60, 60), undefined, 'a replacement of the same size fits');
  t.equal(retainRefusal({ maxRetained: null, maxRetainedSize: null, maxRetainedBytes: null }, { count: 1e9, bytes: 1e12 }, 1e9, undefined), undefined);
});

t.test('structural scans accept every valid message and refuse what costs more than its bytes', async (t) => {
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.double({ noNaN: true }), fc.string(), fc.boolean(), fc.constant(null), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
      fc.uint8Array().map((a) => Buffer.from(a)), fc.array(tie('v'), { maxLength: 5 }), fc.dictionary(fc.string().filter((k) => k !== '__proto__'), tie('v'), { maxKeys: 5 })),
  })).v;
  const taggedCbor = new CborEncoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true, tagUint8Array: true, pack: false });
  fc.assert(fc.property(fc.array(value, { maxLength: 8 }), (args) => {
    const msg = [16, 1, {}, 'com.t', args];
    for (const s of [cborSerializer, msgpackSerializer]) s.decode(s.encode(msg) as Uint8Array);
    scanCbor(taggedCbor.encode(msg), DEFAULT_DECODE_LIMITS);
    scanMsgpack(mpEncode(msg, { useBigInt64: true }), DEFAULT_DECODE_LIMITS);
    jsonSerializer.decode(jsonSerializer.encode(msg) as string);
  }), { numRuns: 2000 });
  // (@msgpack/msgpack refuses a `__proto__` key by itself; not the scan's doing.)
  t.pass('2000 random messages in three serializers, with CBOR typed arrays and 64-bit integers, pass');

  const limits = { maxElements: 10, maxDepth: 3 };
  const refuses = (what: string, f: () => void, re: RegExp) => t.throws(f, re, what);
  refuses('msgpack: too many values', () => scanMsgpack(mpEncode([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), limits), /more than 10 values/);
  refuses('msgpack: too deep', () => scanMsgpack(mpEncode([[[[1]]]]), limits), /deeper than 3/);
  refuses('msgpack: an empty container too deep counts', () => scanMsgpack(mpEncode([[[[]]]]), limits), /deeper than 3/);
  refuses('msgpack: a length beyond the bytes', () => scanMsgpack(Buffer.from([0xdd, 0, 0, 0, 5, 1, 2]), DEFAULT_DECODE_LIMITS), /ends inside a value/);
  refuses('msgpack: a map claiming more pairs than bytes', () => scanMsgpack(Buffer.from([0xdf, 0, 0, 0, 3, 1, 2, 3, 4]), DEFAULT_DECODE_LIMITS), /ends inside a value/);
  refuses('msgpack: trailing bytes', () => scanMsgpack(Buffer.from([0x90, 0x90]), DEFAULT_DECODE_LIMITS), /1 bytes after/);
  refuses('msgpack: 0xc1', () => scanMsgpack(Buffer.from([0xc1]), DEFAULT_DECODE_LIMITS), /never used/);
  refuses('cbor: too many values', () => scanCbor(taggedCbor.encode([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), limits), /more than 10 values/);
  refuses('cbor: indefinite arrays too deep', () => scanCbor(Buffer.from([0x9f, 0x9f, 0x9f, 0x9f, 0xff, 0xff, 0xff, 0xff]), limits), /deeper than 3/);
  refuses('cbor: a break outside an indefinite item', () => scanCbor(Buffer.from([0x81, 0xff]), DEFAULT_DECODE_LIMITS), /break outside/);
  for (const tag of [6, 27, 28, 29, 51, 105, 258, 259, 225]) {
    const head = tag < 256 ? [0xd8, tag] : [0xd9, tag >> 8, tag & 255];
    refuses(`cbor: tag ${tag}`, () => scanCbor(Buffer.from([...head, 0xa0]), DEFAULT_DECODE_LIMITS), new RegExp(`tag ${tag} is not accepted`));
  }
  refuses('cbor: a long bignum', () => scanCbor(Buffer.from([0xc2, 0x58, 40, ...new Array(40).fill(1)]), DEFAULT_DECODE_LIMITS), /bignums/);
  t.doesNotThrow(() => scanCbor(Buffer.from([0xc2, 0x49, ...new Array(9).fill(1)]), DEFAULT_DECODE_LIMITS), 'a 72-bit bignum passes');
  t.doesNotThrow(() => scanCbor(Buffer.from([0xd9, 0xd9, 0xf7, 0x80]), DEFAULT_DECODE_LIMITS), 'the self-describe tag passes');
  refuses('json: too many values', () => scanJson('[1,2,3,4,5,6,7,8,9,10,11]', limits), /more than 10 values/);
  refuses('json: too deep', () => scanJson('[[[[1]]]]', limits), /deeper than 3/);
  t.doesNotThrow(() => scanJson('["[[[[,,,,,,,,,,,,\\"]]]]"]', limits), 'brackets and commas inside strings (and escaped quotes) are not counted');
  t.equal(jsonNeedsScan('['.repeat(128), DEFAULT_DECODE_LIMITS), false, 'a JSON message of 128 characters can\'t exceed depth 64: no scan');
  t.equal(jsonNeedsScan('['.repeat(129), DEFAULT_DECODE_LIMITS), true, 'one of 129 with as many brackets: scanned');
  t.equal(jsonNeedsScan(JSON.stringify([48, 1, {}, 'x', ['y'.repeat(1000), { a: 1 }]]), DEFAULT_DECODE_LIMITS), false, 'long, but few brackets: no scan');
  t.equal(jsonNeedsScan(JSON.stringify(Array.from({ length: 40 }, () => ({ a: [1] }))), DEFAULT_DECODE_LIMITS), true, '80 containers: scanned');
  t.equal(jsonNeedsScan(' '.repeat(40_000), DEFAULT_DECODE_LIMITS), true, 'longer than max_message_elements: scanned');
  let thrown: unknown;
  try { msgpackSerializer.decode(mpEncode([[[[[1]]]]]), limits); } catch (e) { thrown = e; }
  t.ok(thrown instanceof DecodeLimitExceeded, 'the serializers scan with the limits they are given (DecodeLimitExceeded)');
});

t.test('URIs and text in logs and errors', async (t) => {
  t.equal(shortUri('com.a'), 'com.a');
  t.equal(shortUri('x'.repeat(100)), 'x'.repeat(100));
  t.equal(shortUri('y'.repeat(5000)), `${'y'.repeat(100)}… (5000 characters)`);
  t.equal(shortText('z'.repeat(400)), `${'z'.repeat(300)}… (400 characters)`);
});

t.test('permissions: allow.retain and max_publication_size', async (t) => {
  const p = (extra: Partial<Permission>): Permission[] => [{ uri: 'a.', match: 'prefix', allow: { call: false, register: false, publish: true, subscribe: true }, disclose: { caller: false, publisher: false }, ...extra }];
  t.same(authorize(p({}), 'a.b', 'publish'), { allow: true, disclose: false }, 'a Crossbar permission decides as before (retain follows allow)');
  t.same(authorize(p({ retain: true }), 'a.b', 'publish'), { allow: true, disclose: false, retain: true });
  t.same(authorize(p({ retain: false, maxPublicationSize: 512 }), 'a.b', 'publish'), { allow: true, disclose: false, retain: false, maxPublicationSize: 512 });
  t.same(authorize(p({ retain: false }), 'a.b', 'subscribe'), { allow: true, disclose: false }, 'other actions carry neither');
});

t.test('config keys: defaults, values, and errors naming the key', async (t) => {
  const plain = fromCrossbar(testConfig()).config;
  t.same(plain.listeners[0]!.limits, DEFAULT_LISTENER_LIMITS, 'listener limits default');
  t.equal(plain.memory, undefined, 'no memory key: the router uses DEFAULT_MEMORY_LIMITS');
  t.equal(plain.listeners[0]!.websocket.get('/ws')!.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 'max_message_size defaults to 256 KiB');

  const full = fromCrossbar({
    version: 2,
    workers: [{
      type: 'router',
      options: { memory: { heap_high_watermark: 0.9, heap_low_watermark: 0.5, check_interval: 250 } },
      realms: [{
        name: 'realm1',
        options: {
          limits: {
            max_subscriptions: 5, max_registrations: 6, max_testaments: 7, max_sessions_per_address: 8,
            subscribe_rate: { rate: 1, burst: 2 }, register_rate: null,
            max_total_subscriptions: 9, max_total_registrations: 10, max_uri_length: 11,
            max_retained: 12, max_retained_size: 13, max_retained_bytes: null,
          },
        },
        roles: [
          { name: 'backend', permissions: [{ uri: 'a.', match: 'prefix', allow: { publish: true, retain: false }, max_publication_size: 300 }], limits: { reserved_sessions: 4, max_sessions_per_address: null } },
        ],
      }],
      transports: [{
        type: 'universal', endpoint: { type: 'tcp', port: 0 },
        limits: { max_connections: 20, max_connections_per_address: null, max_http_connections: 21, http_request_timeout: 22, http_keep_alive_timeout: 23, http_idle_timeout: 24 },
        rawsocket: { options: { max_handshake_size: 1000, max_message_elements: 2000, max_message_depth: 8 } },
        websocket: { ws: { type: 'websocket' } },
      }],
    }],
  });
  t.same(full.unsupported, [], 'every new key is a known key');
  const l = full.config.realms[0]!.limits!;
  t.match(l, {
    maxSubscriptions: 5, maxRegistrations: 6, maxTestaments: 7, maxSessionsPerAddress: 8, subscribeRate: { rate: 1, burst: 2 }, registerRate: null,
    maxTotalSubscriptions: 9, maxTotalRegistrations: 10, maxUriLength: 11, maxRetained: 12, maxRetainedSize: 13, maxRetainedBytes: null, reserved: { backend: 4 },
  });
  t.equal(l.roles.backend!.maxSessionsPerAddress, null);
  t.equal(l.roles.backend!.maxSubscriptions, 5, 'a role inherits the realm\'s new keys');
  t.match(full.config.realms[0]!.roles[0]!.permissions[0], { retain: false, maxPublicationSize: 300 });
  t.same(full.config.listeners[0]!.limits, { maxConnections: 20, maxConnectionsPerAddress: null, maxHttpConnections: 21, httpRequestTimeoutMs: 22, httpKeepAliveTimeoutMs: 23, httpIdleTimeoutMs: 24 });
  t.match(full.config.listeners[0]!.rawsocket!.limits, { maxHandshakeSize: 1000, decode: { maxElements: 2000, maxDepth: 8 } });
  t.same(full.config.memory, { heapHighWatermark: 0.9, heapLowWatermark: 0.5, checkIntervalMs: 250 });
  t.equal(DEFAULT_MEMORY_LIMITS.heapHighWatermark, 0.85);

  const bad = (edit: (w: Record<string, any>) => void, path: string, message?: RegExp): void => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const raw = testConfig({ realms: [{ name: 'realm1', options: { limits: {} }, roles: [{ name: 'anonymous', permissions: [{ uri: 'a', allow: { publish: true } }], limits: {} }] }] }) as { workers: Record<string, any>[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
    edit(raw.workers[0]!);
    let err: unknown;
    try { fromCrossbar(raw); } catch (e) { err = e; }
    t.ok(err instanceof ConfigError, `${path}: a ConfigError`);
    t.match((err as Error | undefined)?.message, `invalid config at ${path}`, `names ${path}`);
    if (message) t.match((err as Error | undefined)?.message, message);
  };
  const realm = 'workers[0].realms[0].options.limits';
  for (const key of ['max_subscriptions', 'max_registrations', 'max_testaments', 'max_sessions_per_address', 'max_total_subscriptions', 'max_total_registrations', 'max_retained', 'max_retained_size', 'max_retained_bytes', 'max_uri_length']) {
    bad((w) => { w.realms[0].options.limits[key] = 0; }, `${realm}.${key}`);
    bad((w) => { w.realms[0].options.limits[key] = 'lots'; }, `${realm}.${key}`);
  }
  bad((w) => { w.realms[0].options.limits.max_uri_length = null; }, `${realm}.max_uri_length`);
  for (const key of ['subscribe_rate', 'register_rate']) {
    bad((w) => { w.realms[0].options.limits[key] = { rate: 0, burst: 1 }; }, `${realm}.${key}.rate`);
    bad((w) => { w.realms[0].roles[0].limits[key] = { rate: 1, burst: 0.5 }; }, `workers[0].realms[0].roles[0].limits.${key}.burst`);
  }
  bad((w) => { w.realms[0].roles[0].limits.reserved_sessions = -1; }, 'workers[0].realms[0].roles[0].limits.reserved_sessions');
  bad((w) => { w.realms[0].options.limits.reserved_sessions = 3; }, realm, /reserved_sessions/);
  bad((w) => { w.realms[0].roles[0].limits.max_total_subscriptions = 3; }, 'workers[0].realms[0].roles[0].limits', /max_total_subscriptions/);
  bad((w) => { w.realms[0].options.limits.max_sessions = 5; w.realms[0].roles[0].limits.reserved_sessions = 6; }, 'workers[0].realms[0].roles', /reserved_sessions \(6 together\) exceed options\.limits\.max_sessions \(5\)/);
  bad((w) => { w.realms[0].roles[0].permissions[0].allow.retain = 'yes'; }, 'workers[0].realms[0].roles[0].permissions[0].allow.retain');
  bad((w) => { w.realms[0].roles[0].permissions[0].allow = { subscribe: true, retain: true }; }, 'workers[0].realms[0].roles[0].permissions[0].allow.retain', /retain needs publish/);
  bad((w) => { w.realms[0].roles[0].permissions[0].max_publication_size = 0; }, 'workers[0].realms[0].roles[0].permissions[0].max_publication_size');
  bad((w) => { w.realms[0].name = 'r'.repeat(600); }, 'workers[0].realms[0].name', /at most 512 characters/);
  const tr = 'workers[0].transports[0]';
  for (const key of ['max_connections', 'max_connections_per_address', 'max_http_connections', 'http_request_timeout', 'http_keep_alive_timeout', 'http_idle_timeout']) {
    bad((w) => { w.transports[0].limits = { [key]: 0 }; }, `${tr}.limits.${key}`);
  }
  bad((w) => { w.transports[0].limits = { max_conections: 5 }; }, `${tr}.limits`, /max_conections/);
  for (const key of ['max_handshake_size', 'max_message_elements', 'max_message_depth']) {
    bad((w) => { w.transports[0].rawsocket = { options: { [key]: 0 } }; }, `${tr}.rawsocket.options.${key}`);
    bad((w) => { w.transports[0].websocket = { ws: { type: 'websocket', options: { [key]: 'x' } } }; }, `${tr}.websocket.ws.options.${key}`);
  }
  bad((w) => { w.transports[0].rawsocket = { options: { max_message_depth: 5000 } }; }, `${tr}.rawsocket.options.max_message_depth`);
  bad((w) => { w.options = { memory: { heap_high_watermark: 1.5 } }; }, 'workers[0].options.memory.heap_high_watermark');
  bad((w) => { w.options = { memory: { heap_high_watermark: 0.5, heap_low_watermark: 0.6 } }; }, 'workers[0].options.memory.heap_low_watermark', /below heap_high_watermark/);
  bad((w) => { w.options = { memory: { check_interval: 0 } }; }, 'workers[0].options.memory.check_interval');
  bad((w) => { w.options = { memory: { heap_hi: 0.5 } }; }, 'workers[0].options.memory', /heap_hi/);
  t.equal(fromCrossbar({ ...(testConfig() as object), workers: [{ ...(testConfig() as { workers: object[] }).workers[0], options: { memory: null } }] } as unknown).config.memory, null, 'memory: null switches the watermark off');
});
