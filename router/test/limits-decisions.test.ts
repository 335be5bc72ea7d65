// The limits' pure decisions (token bucket, send-buffer bound, admission)
// and their config: defaults, overrides, `null` to switch off, and bad
// values failing at start with the key named.
import t from 'tap';
import { newBucket, takeToken } from '../src/limits/token-bucket.js';
import { sendBufferExceeded } from '../src/limits/send-buffer.js';
import { admissionRefusal } from '../src/limits/admission.js';
import {
  DEFAULT_REALM_LIMITS, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_SEND_BUFFER, DEFAULT_MAX_HANDSHAKE_SIZE, DEFAULT_SESSION_LIMITS, realmLimits,
} from '../src/limits/limits-config.js';
import { DEFAULT_DECODE_LIMITS } from '../src/serializers/serializer.js';

// Endpoint and session limit keys added with issue 13, at their defaults (the objects compared below grew by these).
const NEW_ENDPOINT_DEFAULTS = { maxHandshakeSize: DEFAULT_MAX_HANDSHAKE_SIZE, decode: DEFAULT_DECODE_LIMITS, liveness: null };
import { fromCrossbar, ConfigError } from '../src/config/crossbar-config.js';
import { testConfig } from './helpers.js';

t.test('token bucket: burst, refill at rate, retry delay', async (t) => {
  const limit = { rate: 10, burst: 3 };
  const b = newBucket(limit, 1000);
  t.same([takeToken(b, limit, 1000), takeToken(b, limit, 1000), takeToken(b, limit, 1000)], [0, 0, 0], 'a full bucket passes a burst');
  const wait = takeToken(b, limit, 1000);
  t.equal(wait, 100, 'empty: one token arrives after 1/rate s');
  t.equal(takeToken(b, limit, 1050), 50, 'half-way there: 50 ms left');
  t.equal(takeToken(b, limit, 1100), 0, 'a token after 100 ms');
  t.equal(takeToken(b, limit, 1100), 100);
  t.equal(takeToken(b, limit, 100_000), 0, 'a long quiet spell refills...');
  t.equal(b.tokens, 2, '...only up to the burst');
  t.equal(takeToken(b, limit, 50_000), 0, 'a clock stepping back neither adds nor drains');
  const slow = { rate: 0.5, burst: 1 };
  const s = newBucket(slow, 0);
  takeToken(s, slow, 0);
  t.equal(takeToken(s, slow, 0), 2000, 'fractional rates work');
});

t.test('send buffer bound', async (t) => {
  t.notOk(sendBufferExceeded(0, 10_000, 1000), 'one large message into an empty buffer passes');
  t.ok(sendBufferExceeded(10, 1001, 1000), 'queued data over the bound');
  t.notOk(sendBufferExceeded(10, 1000, 1000), 'at the bound is fine');
});

t.test('admission', async (t) => {
  const limits = { ...DEFAULT_REALM_LIMITS, maxSessions: 2, maxSessionsPerAuthid: 1 };
  const base = { realm: 'r', authid: 'bob', anonymous: false };
  t.equal(admissionRefusal(limits, limits, { ...base, realmSessions: 1, authidSessions: 0 }), undefined);
  t.match(admissionRefusal(limits, limits, { ...base, realmSessions: 2, authidSessions: 0 }), /realm "r".*limit of 2 sessions/);
  t.match(admissionRefusal(limits, limits, { ...base, realmSessions: 1, authidSessions: 1 }), /authid "bob".*limit 1/);
  t.equal(admissionRefusal(limits, limits, { ...base, anonymous: true, realmSessions: 1, authidSessions: 5 }), undefined, 'anonymous authids are not limited');
  const off = { ...limits, maxSessions: null, maxSessionsPerAuthid: null };
  t.equal(admissionRefusal(off, off, { ...base, realmSessions: 1e6, authidSessions: 1e6 }), undefined, 'null switches limits off');
});

t.test('config: defaults, realm and role overrides, null', async (t) => {
  const plain = fromCrossbar(testConfig()).config;
  t.same(plain.realms[0]!.limits, DEFAULT_REALM_LIMITS, 'production defaults without a limits key');
  const ep = plain.listeners[0]!.websocket.get('/ws')!;
  t.same(ep.limits, { helloTimeoutMs: DEFAULT_HELLO_TIMEOUT_MS, maxSendBuffer: DEFAULT_MAX_SEND_BUFFER, ...NEW_ENDPOINT_DEFAULTS });
  t.same(plain.listeners[0]!.rawsocket!.limits, { helloTimeoutMs: DEFAULT_HELLO_TIMEOUT_MS, maxSendBuffer: DEFAULT_MAX_SEND_BUFFER, ...NEW_ENDPOINT_DEFAULTS });

  const { config, unsupported } = fromCrossbar(testConfig({
    realms: [{
      name: 'realm1',
      options: { limits: { max_sessions: 50, publish_rate: { rate: 5, burst: 10 }, call_rate: null, max_pending_calls: 4 } },
      roles: [
        { name: 'anonymous', permissions: [] },
        { name: 'backend', permissions: [], limits: { publish_rate: null, max_sessions_per_authid: 2 } },
      ],
    }],
    transportExtras: {
      rawsocket: { options: { hello_timeout: 1500, max_send_buffer: 65536 } },
      websocket: { ws: { type: 'websocket', options: { hello_timeout: 2500 } } },
    },
  }));
  t.same(unsupported, [], 'the new keys are known keys');
  const l = config.realms[0]!.limits!;
  t.equal(l.maxSessions, 50);
  t.same(l.publishRate, { rate: 5, burst: 10 });
  t.equal(l.callRate, null);
  t.equal(l.maxPendingCalls, 4);
  t.equal(l.maxSessionsPerAuthid, 16, 'unset keys keep the default');
  t.same(l.roles.backend, { ...DEFAULT_SESSION_LIMITS, publishRate: null, callRate: null, maxPendingCalls: 4, maxSessionsPerAuthid: 2 }, 'a role overrides, inheriting the realm');
  t.notOk('anonymous' in l.roles, 'roles without limits use the realm limits');
  t.same(config.listeners[0]!.rawsocket!.limits, { helloTimeoutMs: 1500, maxSendBuffer: 65536, ...NEW_ENDPOINT_DEFAULTS });
  t.equal(config.listeners[0]!.websocket.get('/ws')!.limits.helloTimeoutMs, 2500);
  t.same(realmLimits(undefined, {}), DEFAULT_REALM_LIMITS);
});

t.test('config: bad values fail naming the key', async (t) => {
  const bad = (realmOptions: unknown, roleLimits: unknown, transportExtras: Record<string, unknown>, path: string): void => {
    const raw = testConfig({
      realms: [{ name: 'realm1', ...(realmOptions ? { options: realmOptions } : {}), roles: [{ name: 'anonymous', permissions: [], ...(roleLimits ? { limits: roleLimits } : {}) }] }],
      transportExtras,
    });
    let err: unknown;
    try { fromCrossbar(raw); } catch (e) { err = e; }
    t.ok(err instanceof ConfigError, `${path}: a ConfigError`);
    t.match((err as Error | undefined)?.message, `invalid config at ${path}`, `names ${path}`);
  };
  bad({ limits: { max_sessions: 0 } }, undefined, {}, 'workers[0].realms[0].options.limits.max_sessions');
  bad({ limits: { max_sessions: 'many' } }, undefined, {}, 'workers[0].realms[0].options.limits.max_sessions');
  bad({ limits: { publish_rate: { rate: -1, burst: 5 } } }, undefined, {}, 'workers[0].realms[0].options.limits.publish_rate.rate');
  bad({ limits: { call_rate: { rate: 5 } } }, undefined, {}, 'workers[0].realms[0].options.limits.call_rate.burst');
  bad({ limits: { call_rate: { rate: 5, burst: 1.5 } } }, undefined, {}, 'workers[0].realms[0].options.limits.call_rate.burst');
  bad({ limits: { max_pending_calls: -3 } }, undefined, {}, 'workers[0].realms[0].options.limits.max_pending_calls');
  bad({ limits: { max_sesions: 5 } }, undefined, {}, 'workers[0].realms[0].options.limits');
  bad(undefined, { max_sessions: 5 }, {}, 'workers[0].realms[0].roles[0].limits');
  bad(undefined, { max_pending_calls: 0 }, {}, 'workers[0].realms[0].roles[0].limits.max_pending_calls');
  bad(undefined, undefined, { rawsocket: { options: { hello_timeout: 0 } } }, 'workers[0].transports[0].rawsocket.options.hello_timeout');
  bad(undefined, undefined, { websocket: { ws: { type: 'websocket', options: { max_send_buffer: 'big' } } } }, 'workers[0].transports[0].websocket.ws.options.max_send_buffer');
});
