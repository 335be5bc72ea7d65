// The HTTP bridge (Crossbar's HTTP Publisher and HTTP Caller) and /info, on
// a real router over real HTTP: publishes reach real autobahn subscribers,
// calls reach real autobahn callees, and every bad, unsigned, mis-signed,
// stale, replayed or forbidden request is refused with a JSON error.
//
// Signatures are computed here from Crossbar's definition with node:crypto,
// not with the router's own signer, so a wrong implementation fails.
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { startRouter, connect, autobahn, eventually, sleep, type AutobahnSession, type RunningRouter } from './helpers.js';
import { fromCrossbar } from '../src/config/crossbar-config.js';
import { Router } from '../src/router.js';
import { silentLogger } from '../src/logger.js';
import { NonceCache } from '../src/http/nonce-cache.js';
import { IpAllowList } from '../src/net/ip-allow.js';
import { signRequest } from '../src/index.js';

const KEY = 'bridge-key';
const SECRET = 'bridge-secret-0123456789';
const allowAll = { call: true, register: true, publish: true, subscribe: true };

function config(): unknown {
  const signed = { key: KEY, secret: SECRET, post_body_limit: 1024, timestamp_delta_limit: 60 };
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
        roles: [
          { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: allowAll }] },
          {
            name: 'bridge',
            permissions: [
              { uri: 'com.bridge.', match: 'prefix', allow: { call: true, publish: true } },
              { uri: 'com.secret.', match: 'prefix', allow: {} },
            ],
          },
          { name: 'watcher', permissions: [{ uri: 'wamp.subscription.', match: 'prefix', allow: { call: true } }] },
        ],
      }],
      transports: [{
        type: 'universal', id: 'web',
        endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' },
        websocket: { ws: { type: 'websocket' } },
        web: {
          paths: {
            pub: { type: 'publisher', realm: 'realm1', role: 'bridge' },
            spub: { type: 'publisher', realm: 'realm1', role: 'bridge', options: signed },
            call: { type: 'caller', realm: 'realm1', role: 'bridge', options: { ...signed, call_timeout: 5000 } },
            ucall: { type: 'caller', realm: 'realm1', role: 'bridge' },
            ipub: { type: 'publisher', realm: 'realm1', role: 'bridge', options: { require_ip: ['10.0.0.0/8', '192.168.1.7'] } },
            tpub: { type: 'publisher', realm: 'realm1', role: 'bridge', options: { require_tls: true } },
            info: { type: 'info', realm: 'realm1', role: 'watcher' },
            sinfo: { type: 'info', realm: 'realm1', options: { key: KEY, secret: SECRET } },
          },
        },
      }],
    }],
  };
}

/** Crossbar's signature: base64url(HMAC-SHA256(secret, key|timestamp|seq|nonce|body)), padded. */
function sign(body: string, opts: { key?: string; secret?: string; timestamp?: string; seq?: string; nonce?: string } = {}): URLSearchParams {
  const key = opts.key ?? KEY;
  const timestamp = opts.timestamp ?? new Date().toISOString();
  const seq = opts.seq ?? '1';
  const nonce = opts.nonce ?? String(Math.floor(Math.random() * 2 ** 52));
  const signature = createHmac('sha256', opts.secret ?? SECRET).update(key + timestamp + seq + nonce + body).digest('base64')
    .replace(/\+/g, '-').replace(/\//g, '_');
  return new URLSearchParams({ key, timestamp, seq, nonce, signature });
}

interface Reply { status: number; body: Record<string, unknown>; headers: Headers }

async function post(r: RunningRouter, path: string, body: string | Buffer, opts: { query?: URLSearchParams; contentType?: string | null; method?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.contentType !== null) headers['content-type'] = opts.contentType ?? 'application/json';
  const url = `http://127.0.0.1:${r.port}${path}${opts.query ? `?${opts.query.toString()}` : ''}`;
  // Bytes, so fetch adds no content type of its own and sends them unchanged.
  const res = await fetch(url, { method: opts.method ?? 'POST', headers, body: opts.method === 'GET' ? undefined : Buffer.from(body) });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try { parsed = JSON.parse(text) as Record<string, unknown>; } catch { parsed = { raw: text }; }
  return { status: res.status, body: parsed, headers: res.headers };
}

interface Ev { args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> }

async function collect(session: AutobahnSession, topic: string): Promise<Ev[]> {
  const events: Ev[] = [];
  await session.subscribe(topic, (args: unknown[] | undefined, kwargs: Record<string, unknown> | undefined, details: Record<string, unknown>) => {
    events.push({ args: args ?? [], kwargs: kwargs ?? {}, details: details ?? {} });
  });
  return events;
}

/** A refusal must be JSON in Crossbar's error shape with our URI. */
function refused(t: Test, r: Reply, status: number, uri: string, what: string): void {
  t.equal(r.status, status, `${what}: status ${status}`);
  t.equal(r.body.error, uri, `${what}: error ${uri}`);
  t.ok(Array.isArray(r.body.args) && typeof (r.body.args as unknown[])[0] === 'string', `${what}: args[0] explains (${JSON.stringify(r.body.args)})`);
  t.same(r.body.kwargs, {}, `${what}: kwargs`);
}

t.test('HTTP publisher', async (t) => {
  const r = await startRouter(config());
  t.teardown(() => r.stop());
  const sub = await connect({ port: r.port });
  t.teardown(() => sub.connection.close());
  const events = await collect(sub.session, 'com.bridge.news');

  await t.test('an unsigned publish reaches a real subscriber and answers {id}', async (t) => {
    const before = events.length;
    const res = await post(r, '/pub', JSON.stringify({ topic: 'com.bridge.news', args: ['hello', 1], kwargs: { a: 1 } }));
    t.equal(res.status, 200);
    t.type(res.body.id, 'number', 'publication id');
    t.match(res.headers.get('content-type'), /^application\/json/);
    await eventually(() => events.length > before);
    t.same(events[before]!.args, ['hello', 1]);
    t.same(events[before]!.kwargs, { a: 1 });
    t.equal(events[before]!.details.publication, res.body.id, 'the event carries the publication id the bridge returned');
  });

  await t.test('missing args/kwargs/options (or null, as Crossbar reads them) mean empty', async (t) => {
    const before = events.length;
    const res = await post(r, '/pub', JSON.stringify({ topic: 'com.bridge.news', args: null, options: null }));
    t.equal(res.status, 200);
    await eventually(() => events.length > before);
    t.same(events[before]!.args, []);
  });

  await t.test('publish options: eligible reaches only the listed session', async (t) => {
    const other = await connect({ port: r.port });
    t.teardown(() => other.connection.close());
    const otherEvents = await collect(other.session, 'com.bridge.news');
    const before = events.length;
    const res = await post(r, '/pub', JSON.stringify({ topic: 'com.bridge.news', args: ['only-other'], options: { eligible: [other.session.id] } }));
    t.equal(res.status, 200);
    await eventually(() => otherEvents.length === 1);
    await sleep(100);
    t.equal(events.length, before, 'the non-eligible subscriber got nothing');
    t.same(otherEvents[0]!.args, ['only-other']);
  });

  await t.test('a signed publish with Crossbar\'s signature is accepted', async (t) => {
    const before = events.length;
    const body = JSON.stringify({ topic: 'com.bridge.news', args: ['signed'] });
    const res = await post(r, '/spub', body, { query: sign(body) });
    t.equal(res.status, 200, JSON.stringify(res.body));
    t.type(res.body.id, 'number');
    await eventually(() => events.length > before);
    t.same(events[before]!.args, ['signed']);
  });

  await t.test('the signature is accepted without its base64 padding too', async (t) => {
    const body = JSON.stringify({ topic: 'com.bridge.news', args: ['unpadded'] });
    const q = sign(body);
    q.set('signature', q.get('signature')!.replace(/=+$/, ''));
    const before = events.length;
    t.equal((await post(r, '/spub', body, { query: q })).status, 200);
    await eventually(() => events.length > before);
  });

  await t.test('signed paths refuse unsigned, mis-signed, stale and replayed requests', async (t) => {
    const before = events.length;
    const body = JSON.stringify({ topic: 'com.bridge.news', args: ['evil'] });
    refused(t, await post(r, '/spub', body), 400, 'clawgate.error.http.missing_parameter', 'unsigned');
    for (const name of ['key', 'timestamp', 'seq', 'nonce', 'signature']) {
      const q = sign(body);
      q.delete(name);
      refused(t, await post(r, '/spub', body, { query: q }), 400, 'clawgate.error.http.missing_parameter', `without ${name}`);
    }
    refused(t, await post(r, '/spub', body, { query: sign(body, { key: 'other-key' }) }), 401, 'clawgate.error.http.unknown_key', 'unknown key');
    refused(t, await post(r, '/spub', body, { query: sign(body, { secret: 'wrong-secret' }) }), 401, 'clawgate.error.http.invalid_signature', 'wrong secret');
    refused(t, await post(r, '/spub', body, { query: sign('{"topic":"com.bridge.other"}') }), 401, 'clawgate.error.http.invalid_signature', 'signature of another body');
    const tampered = sign(body);
    tampered.set('seq', '2');
    refused(t, await post(r, '/spub', body, { query: tampered }), 401, 'clawgate.error.http.invalid_signature', 'seq changed after signing');
    refused(t, await post(r, '/spub', body, { query: sign(body, { timestamp: new Date(Date.now() - 120_000).toISOString() }) }), 401, 'clawgate.error.http.stale_timestamp', 'timestamp 120 s old (limit 60 s)');
    refused(t, await post(r, '/spub', body, { query: sign(body, { timestamp: new Date(Date.now() + 120_000).toISOString() }) }), 401, 'clawgate.error.http.stale_timestamp', 'timestamp 120 s ahead');
    refused(t, await post(r, '/spub', body, { query: sign(body, { timestamp: 'yesterday' }) }), 400, 'clawgate.error.http.invalid_parameter', 'timestamp not ISO 8601');
    refused(t, await post(r, '/spub', body, { query: sign(body, { seq: 'x1' }) }), 400, 'clawgate.error.http.invalid_parameter', 'seq not an integer');
    refused(t, await post(r, '/spub', body, { query: sign(body, { nonce: '1.5' }) }), 400, 'clawgate.error.http.invalid_parameter', 'nonce not an integer');
    await sleep(100);
    t.equal(events.length, before, 'none of the refused requests published anything');

    const ok = JSON.stringify({ topic: 'com.bridge.news', args: ['once'] });
    const q = sign(ok);
    t.equal((await post(r, '/spub', ok, { query: q })).status, 200, 'first use of the nonce');
    refused(t, await post(r, '/spub', ok, { query: q }), 401, 'clawgate.error.http.replayed_nonce', 'the exact request replayed');
    const sameNonce = sign(JSON.stringify({ topic: 'com.bridge.news', args: ['twice'] }), { nonce: q.get('nonce')! });
    refused(t, await post(r, '/spub', JSON.stringify({ topic: 'com.bridge.news', args: ['twice'] }), { query: sameNonce }), 401, 'clawgate.error.http.replayed_nonce', 'a new request reusing the nonce');
    await eventually(() => events.length === before + 1);
    await sleep(100);
    t.equal(events.length, before + 1, 'the replay published nothing');
    t.same(events[before]!.args, ['once']);
  });

  await t.test('bad requests get JSON errors with proper status codes', async (t) => {
    const before = events.length;
    refused(t, await post(r, '/pub', '{"topic": '), 400, 'clawgate.error.http.invalid_body', 'invalid JSON');
    refused(t, await post(r, '/pub', '["com.bridge.news"]'), 400, 'clawgate.error.http.invalid_body', 'JSON but not an object');
    refused(t, await post(r, '/pub', '{"args": [1]}'), 400, 'clawgate.error.http.invalid_body', 'no topic');
    refused(t, await post(r, '/pub', '{"topic": 7}'), 400, 'clawgate.error.http.invalid_body', 'topic not a string');
    refused(t, await post(r, '/pub', '{"topic": "com.bridge.news", "args": {"a": 1}}'), 400, 'clawgate.error.http.invalid_body', 'args not a list');
    refused(t, await post(r, '/pub', '{"topic": "com.bridge.news", "kwargs": [1]}'), 400, 'clawgate.error.http.invalid_body', 'kwargs not an object');
    refused(t, await post(r, '/pub', '{"topic": "com.bridge.news", "options": {"exclude_me": false}}'), 400, 'clawgate.error.http.invalid_body', 'option the bridge does not take');
    refused(t, await post(r, '/pub', '{"topic": "com.bridge.news", "options": {"eligible": "x"}}'), 400, 'clawgate.error.http.invalid_body', 'option of the wrong type');
    refused(t, await post(r, '/pub', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400, 'clawgate.error.http.invalid_body', 'not UTF-8');
    refused(t, await post(r, '/pub', '{"topic": "com.bridge.news"}', { contentType: 'text/plain' }), 415, 'clawgate.error.http.unsupported_content_type', 'text/plain');
    refused(t, await post(r, '/pub', '{"topic": "com.bridge.news"}', { contentType: 'application/json; charset=latin1' }), 415, 'clawgate.error.http.unsupported_content_type', 'charset latin1');
    const noType = await post(r, '/pub', JSON.stringify({ topic: 'com.bridge.news', args: ['no content type'] }), { contentType: null });
    t.equal(noType.status, 200, 'a missing content type is accepted (Crossbar)');
    const get = await post(r, '/pub', '', { method: 'GET' });
    refused(t, get, 405, 'clawgate.error.http.method_not_allowed', 'GET');
    t.match(get.headers.get('allow'), /POST/);
    const big = JSON.stringify({ topic: 'com.bridge.news', args: ['x'.repeat(2000)] });
    refused(t, await post(r, '/spub', big, { query: sign(big) }), 413, 'clawgate.error.http.body_too_large', 'body over post_body_limit 1024');
    await eventually(() => events.length === before + 1);
    t.same(events[before]!.args, ['no content type']);
  });

  await t.test('the bridge acts with its role: authorization and URI checks apply', async (t) => {
    const res = await post(r, '/pub', JSON.stringify({ topic: 'com.secret.plans', args: [1] }));
    t.equal(res.status, 403);
    t.equal(res.body.error, 'wamp.error.not_authorized');
    t.match((res.body.args as string[])[0], /not authorized to publish/);
    const other = await post(r, '/pub', JSON.stringify({ topic: 'com.other.x' }));
    t.equal(other.status, 403, 'no rule for the URI: denied');
    const bad = await post(r, '/pub', JSON.stringify({ topic: 'com.bridge..bad' }));
    t.equal(bad.status, 400);
    t.equal(bad.body.error, 'wamp.error.invalid_uri');
    const meta = await post(r, '/pub', JSON.stringify({ topic: 'wamp.session.on_join' }));
    t.equal(meta.status, 400, 'wamp.* topics are the router\'s');
  });

  await t.test('require_ip and require_tls', async (t) => {
    const before = events.length;
    refused(t, await post(r, '/ipub', JSON.stringify({ topic: 'com.bridge.news' })), 403, 'clawgate.error.http.forbidden_ip', '127.0.0.1 not in 10.0.0.0/8, 192.168.1.7');
    refused(t, await post(r, '/tpub', JSON.stringify({ topic: 'com.bridge.news' })), 403, 'clawgate.error.http.tls_required', 'plain http');
    await sleep(100);
    t.equal(events.length, before);
  });

  await t.test('other paths are not the bridge', async (t) => {
    const res = await fetch(`http://127.0.0.1:${r.port}/pubx`, { method: 'POST', body: '{}' });
    t.equal(res.status, 404);
    const health = await fetch(`http://127.0.0.1:${r.port}/health`);
    t.equal(health.status, 200);
  });
});

t.test('HTTP caller', async (t) => {
  const r = await startRouter(config());
  t.teardown(() => r.stop());
  const callee = await connect({ port: r.port });
  t.teardown(() => callee.connection.close());
  await callee.session.register('com.bridge.add', (args: number[]) => args[0]! + args[1]!);
  await callee.session.register('com.bridge.split', (args: string[], kwargs: Record<string, unknown>) =>
    new (autobahn as unknown as { Result: new (a: unknown[], k: Record<string, unknown>) => unknown }).Result(args[0]!.split(','), { n: args[0]!.split(',').length, echo: kwargs }));
  await callee.session.register('com.bridge.fail', () => { throw new autobahn.Error('com.bridge.error.oops', ['it broke'], { code: 7 }); });
  await callee.session.register('com.bridge.never', () => new Promise(() => {}));
  await callee.session.register('com.secret.proc', () => 'secret');

  const call = async (body: unknown, path = '/call'): Promise<Reply> => {
    const text = JSON.stringify(body);
    return post(r, path, text, path === '/call' ? { query: sign(text) } : {});
  };

  await t.test('a signed call reaches a real callee and answers {args, kwargs}', async (t) => {
    const res = await call({ procedure: 'com.bridge.add', args: [2, 3] });
    t.equal(res.status, 200, JSON.stringify(res.body));
    t.same(res.body, { args: [5], kwargs: {} });
    const multi = await call({ procedure: 'com.bridge.split', args: ['a,b,c'], kwargs: { x: 1 } });
    t.same(multi.body, { args: ['a', 'b', 'c'], kwargs: { n: 3, echo: { x: 1 } } });
    t.equal((await call({ procedure: 'com.bridge.add', args: [1, 1] }, '/ucall')).body.args?.toString(), '2', 'unsigned caller path');
  });

  await t.test('a callee error comes back as Crossbar does: 200 with the error URI, args and kwargs', async (t) => {
    const res = await call({ procedure: 'com.bridge.fail' });
    t.equal(res.status, 200);
    t.same(res.body, { error: 'com.bridge.error.oops', args: ['it broke'], kwargs: { code: 7 } });
  });

  await t.test('router errors get their HTTP status', async (t) => {
    const none = await call({ procedure: 'com.bridge.nothing' });
    t.equal(none.status, 404);
    t.equal(none.body.error, 'wamp.error.no_such_procedure');
    const secret = await call({ procedure: 'com.secret.proc' });
    t.equal(secret.status, 403);
    t.equal(secret.body.error, 'wamp.error.not_authorized');
    const meta = await call({ procedure: 'wamp.session.list' });
    t.equal(meta.status, 403, 'the bridge role may not call the meta API');
    const slow = await call({ procedure: 'com.bridge.never', options: { timeout: 300 } });
    t.equal(slow.status, 504);
    t.equal(slow.body.error, 'wamp.error.timeout');
  });

  await t.test('bad call requests', async (t) => {
    refused(t, await call({ args: [1] }), 400, 'clawgate.error.http.invalid_body', 'no procedure');
    refused(t, await call({ procedure: 'com.bridge.add', options: { timeout: -1 } }), 400, 'clawgate.error.http.invalid_body', 'negative timeout');
    refused(t, await call({ procedure: 'com.bridge.add', options: { receive_progress: true } }), 400, 'clawgate.error.http.invalid_body', 'progressive results');
    refused(t, await post(r, '/call', JSON.stringify({ procedure: 'com.bridge.add' })), 400, 'clawgate.error.http.missing_parameter', 'unsigned call on a signed path');
  });

  await t.test('the bridge session comes back after being killed', async (t) => {
    const admin = await connect({ port: r.port });
    t.teardown(() => admin.connection.close());
    const killed = await admin.session.call('wamp.session.kill_by_authid', ['http-caller']) as number[];
    t.equal(killed.length, 2, 'both caller paths\' sessions (authid http-caller) were killed');
    const res = await call({ procedure: 'com.bridge.add', args: [20, 22] });
    t.same(res.body, { args: [42], kwargs: {} });
  });
});

t.test('GET /info: subscriber counts per topic through the meta API', async (t) => {
  const r = await startRouter(config());
  t.teardown(() => r.stop());
  const a = await connect({ port: r.port });
  const b = await connect({ port: r.port });
  t.teardown(() => a.connection.close());
  await collect(a.session, 'com.bridge.room');
  await collect(b.session, 'com.bridge.room');
  await collect(b.session, 'com.bridge.lobby');

  const res = await post(r, '/info', '', { method: 'GET', query: new URLSearchParams({ channels: 'com.bridge.room,com.bridge.lobby,com.bridge.empty' }) });
  t.equal(res.status, 200, JSON.stringify(res.body));
  t.same(res.body, {
    realm: 'realm1',
    channels: {
      'com.bridge.room': { name: 'com.bridge.room', subscribers: 2 },
      'com.bridge.lobby': { name: 'com.bridge.lobby', subscribers: 1 },
      'com.bridge.empty': { name: 'com.bridge.empty', subscribers: 0 },
    },
  });

  // channelstream's POST /info form
  const posted = await post(r, '/info', JSON.stringify({ channels: ['com.bridge.room'] }));
  t.same(posted.body, { realm: 'realm1', channels: { 'com.bridge.room': { name: 'com.bridge.room', subscribers: 2 } } });

  b.connection.close();
  let after: Reply;
  const deadline = Date.now() + 5000;
  do {
    await sleep(20);
    after = await post(r, '/info', '', { method: 'GET', query: new URLSearchParams({ channels: 'com.bridge.room,com.bridge.lobby' }) });
  } while ((after.body.channels as Record<string, { subscribers: number }>)['com.bridge.room']!.subscribers !== 1 && Date.now() < deadline);
  t.same(after.body.channels, {
    'com.bridge.room': { name: 'com.bridge.room', subscribers: 1 },
    'com.bridge.lobby': { name: 'com.bridge.lobby', subscribers: 0 },
  }, 'counts follow subscribers leaving');

  refused(t, await post(r, '/info', '', { method: 'GET' }), 400, 'clawgate.error.http.missing_parameter', 'no channels');
  const many = Array.from({ length: 101 }, (_, i) => `com.bridge.c${i}`).join(',');
  refused(t, await post(r, '/info', '', { method: 'GET', query: new URLSearchParams({ channels: many }) }), 400, 'clawgate.error.http.invalid_parameter', '101 channels');
  refused(t, await post(r, '/info', JSON.stringify({ channels: 'com.bridge.room' })), 400, 'clawgate.error.http.invalid_body', 'POST channels not a list');

  // a signed info path: GET requests sign an empty body
  const q = sign('');
  q.set('channels', 'com.bridge.room');
  const signed = await post(r, '/sinfo', '', { method: 'GET', query: q });
  t.equal(signed.status, 200, JSON.stringify(signed.body));
  t.same(signed.body.channels, { 'com.bridge.room': { name: 'com.bridge.room', subscribers: 1 } });
  refused(t, await post(r, '/sinfo', '', { method: 'GET', query: new URLSearchParams({ channels: 'com.bridge.room' }) }), 400, 'clawgate.error.http.missing_parameter', 'unsigned info on a signed path');
});

t.test('bridge config errors name the key', async (t) => {
  const withPath = (path: Record<string, unknown>): unknown => {
    const c = config() as { workers: { transports: { web: { paths: Record<string, unknown> } }[] }[] };
    c.workers[0]!.transports[0]!.web.paths = { p: path };
    return c;
  };
  const base = 'workers[0].transports[0].web.paths.p';
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', role: 'bridge' })), { message: `invalid config at ${base}.realm: a publisher path needs a realm` });
  t.throws(() => fromCrossbar(withPath({ type: 'caller', realm: 'realm1' })), { message: `invalid config at ${base}.role: a caller path needs a role` });
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', realm: 'nope', role: 'bridge' })), { message: `invalid config at ${base}.realm: no realm "nope" is defined` });
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', realm: 'realm1', role: 'ghost' })), { message: `invalid config at ${base}.role: role "ghost" is not defined on realm "realm1"` });
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', realm: 'realm1', role: 'bridge', options: { key: 'k' } })), { message: `invalid config at ${base}.options: signed requests need both "key" and "secret"` });
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', realm: 'realm1', role: 'bridge', options: { require_ip: ['10.0.0.0/33'] } })), { message: `invalid config at ${base}.options.require_ip[0]: "10.0.0.0/33": prefix length must be 0-32, or a netmask such as 255.255.255.0` });
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', realm: 'realm1', role: 'bridge', options: { require_ip: ['example.com'] } })), { message: /require_ip\[0\]: "example.com" is not an IP address/ });
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', realm: 'realm1', role: 'bridge', options: { key: 'k', secret: 's', timestamp_delta_limit: 0 } })), { message: /timestamp_delta_limit: must be > 0/ });
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', realm: 'realm1', role: 'bridge', options: { post_body_limit: 'big' } })), { message: /paths\.p\.options\.post_body_limit: Expected number/ });
  t.throws(() => fromCrossbar(withPath({ type: 'publisher', realm: 'realm1', role: 'bridge', options: { key: 'k', secret: { env: 'CLAWGATE_TEST_UNSET_VAR' } } }), {}), { message: `invalid config at ${base}.options.secret: environment variable CLAWGATE_TEST_UNSET_VAR is not set` });
  const { unsupported, config: rc } = fromCrossbar(withPath({ type: 'publisher', realm: 'realm1', role: 'bridge', options: { key: 'k', secret: { env: 'S' }, github_secret: 'x' } }), { env: { S: 'from-env' } });
  t.same(unsupported, [`${base}.options.github_secret`], 'unknown option keys are warned about');
  t.match(rc.http, [{ type: 'publisher', path: '/p', listener: 'web', realm: 'realm1', role: 'bridge', guard: { key: 'k', secret: 'from-env', postBodyLimit: 1048576, timestampDeltaLimitS: 300 } }]);
  t.equal(rc.defaultMetrics, true);
});

t.test('signRequest (exported for clients) signs as Crossbar does, and the router accepts it', async (t) => {
  const body = JSON.stringify({ topic: 'com.bridge.news', args: ['from signRequest'] });
  const now = new Date('2024-05-01T12:00:00.000Z');
  const q = signRequest(KEY, SECRET, body, { seq: 7, nonce: 42, now });
  t.same(Object.fromEntries(sign(body, { timestamp: '2024-05-01T12:00:00.000Z', seq: '7', nonce: '42' })), q, 'same parameters as an independent HMAC');
  const r = await startRouter(config());
  t.teardown(() => r.stop());
  const res = await post(r, '/spub', body, { query: new URLSearchParams(signRequest(KEY, SECRET, body)) });
  t.equal(res.status, 200, JSON.stringify(res.body));
});

t.test('NonceCache: remembers a nonce for the window, then forgets it; full means refuse, never forget early', async (t) => {
  let now = 1_000_000;
  const c = new NonceCache(60_000, 3, () => now);
  t.equal(c.check('1', now), 'fresh');
  t.equal(c.check('1', now), 'replayed');
  now += 59_000;
  t.equal(c.check('1', now - 59_000), 'replayed', 'still inside the window');
  t.equal(c.check('2', now), 'fresh');
  t.equal(c.check('3', now), 'fresh');
  t.equal(c.check('4', now), 'full', 'three live nonces: the fourth is refused, none forgotten');
  t.equal(c.check('1', 0), 'replayed', 'a full cache still recognizes replays');
  now += 2_000;
  t.equal(c.check('4', now), 'fresh', 'nonce 1 expired and was swept, making room');
  t.equal(c.size, 3);
  let later = 0;
  const f = new NonceCache(60_000, 10, () => later);
  t.equal(f.check('x', 50_000), 'fresh', 'stamped 50 s ahead of the router\'s clock');
  later = 100_000;
  t.equal(f.check('x', 50_000), 'replayed', 'kept until its own timestamp leaves the window (110 s), not just 60 s');
});

t.test('IpAllowList: CIDR networks, single addresses, IPv4-mapped IPv6', async (t) => {
  const l = new IpAllowList(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);
  t.ok(l.allows('10.1.2.3'));
  t.ok(l.allows('::ffff:10.1.2.3'), 'IPv4-mapped');
  t.ok(l.allows('192.168.1.7'));
  t.notOk(l.allows('192.168.1.8'));
  t.ok(l.allows('fd00::2'));
  t.notOk(l.allows('fe80::1'));
  t.notOk(l.allows('127.0.0.1'));
  t.notOk(l.allows(undefined));
  t.notOk(l.allows('not-an-ip'));
});

t.test('require_tls: accepted over a TLS listener (https), refused over plain http', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-bridge-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.crt'), '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const cfg = config() as { workers: { transports: Record<string, unknown>[] }[] };
  const plain = cfg.workers[0]!.transports[0]!;
  cfg.workers[0]!.transports.push({
    type: 'universal', id: 'secure',
    endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1', tls: { key: join(dir, 'server.key'), certificate: join(dir, 'server.crt') } },
    websocket: { ws: { type: 'websocket' } },
    web: { paths: { tpub: (plain.web as { paths: Record<string, unknown> }).paths.tpub } },
  });
  const { config: rc } = fromCrossbar(cfg);
  const router = await new Router(rc, { log: silentLogger() }).start();
  t.teardown(() => router.stop(200));
  const ports = router.ports();
  const sub = await connect({ port: ports.web! });
  t.teardown(() => sub.connection.close());
  const events = await collect(sub.session, 'com.bridge.tls');

  const body = JSON.stringify({ topic: 'com.bridge.tls', args: ['over tls'] });
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: ports.secure, path: '/tpub', method: 'POST', servername: 'localhost',
      ca: readFileSync(join(dir, 'server.crt')), headers: { 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
  t.equal(res.status, 200, res.body);
  t.type((JSON.parse(res.body) as { id: unknown }).id, 'number');
  await eventually(() => events.length === 1);
  t.same(events[0]!.args, ['over tls']);
  const refusedPlain = await fetch(`http://127.0.0.1:${ports.web}/tpub`, { method: 'POST', body: Buffer.from(body) });
  t.equal(refusedPlain.status, 403, 'the same path on the plain listener is refused');
});
