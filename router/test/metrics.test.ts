// /metrics (Prometheus text), router.metrics.snapshot(), structured logs with
// session ids, and /health, against a real router and real autobahn clients.
// The exposition text is parsed here, so a malformed line fails the test.
import t, { type Test } from 'tap';
import http from 'node:http';
import os from 'node:os';
import { Router } from '../src/router.js';
import { fromCrossbar } from '../src/config/crossbar-config.js';
import { silentLogger } from '../src/logger.js';
import { authConfig, closeAll, login, refused, startAuthRouter } from './auth-helpers.js';
import { testConfig, startRouter, sleep, eventually } from './helpers.js';
import { Wire } from './wire.js';

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Exposition { samples: Sample[]; types: Map<string, string> }

/**
 * Parses the Prometheus text format (0.0.4); throws on any line it doesn't
 * understand. Values as Prometheus reads them (Go's ParseFloat: NaN in any case).
 */
function parse(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const typeLine = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (typeLine) { types.set(typeLine[1]!, typeLine[2]!); continue; }
    if (line.startsWith('# HELP ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|\+Inf|-Inf)$/.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
      let rest = m[3];
      let lm: RegExpExecArray | null;
      let consumed = 0;
      while ((lm = re.exec(rest)) !== null) { labels[lm[1]!] = lm[2]!.replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\'); consumed += lm[0].length; }
      if (consumed !== rest.length) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      rest = '';
    }
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return { samples, types };
}

/** The value of one sample (0 if absent: counters with no events yet have no sample). */
function value(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  const s = e.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}

async function scrape(port: number, host = '127.0.0.1', path = '/metrics'): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`http://${host}:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function metrics(port: number): Promise<Exposition> {
  const r = await scrape(port);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text}`);
  return parse(r.text);
}

const TICKET_AUTH = {
  anonymous: { type: 'static', role: 'anonymous' },
  ticket: { type: 'static', principals: { alice: { ticket: 'alice-ticket', role: 'user' }, root: { ticket: 'root-ticket', role: 'admin' } } },
};
const ticket = (authid: string, secret: string) => ({ authmethods: ['ticket'], authid, onchallenge: () => secret });

t.test('/metrics: Prometheus text that follows what real clients do', async (t) => {
  const r = await startAuthRouter(authConfig({ auth: TICKET_AUTH }));
  t.teardown(() => r.stop());

  const first = await scrape(r.port);
  t.equal(first.status, 200);
  t.equal(first.type, 'text/plain; version=0.0.4; charset=utf-8');
  const e0 = parse(first.text);
  for (const [name, type] of [
    ['clawgate_sessions', 'gauge'], ['clawgate_connections', 'gauge'],
    ['clawgate_messages_received_total', 'counter'], ['clawgate_messages_sent_total', 'counter'],
    ['clawgate_errors_total', 'counter'], ['clawgate_aborts_total', 'counter'], ['clawgate_auth_failures_total', 'counter'],
    ['clawgate_call_duration_seconds', 'histogram'], ['clawgate_slow_consumers_dropped_total', 'counter'],
    ['clawgate_rate_limited_total', 'counter'], ['clawgate_limit_events_total', 'counter'], ['clawgate_http_requests_total', 'counter'],
    ['process_cpu_seconds_total', 'counter'], ['nodejs_eventloop_lag_seconds', 'gauge'],
  ] as const) t.equal(e0.types.get(name), type, `${name} is a ${type}`);

  await t.test('sessions by realm and role', async (t) => {
    const a1 = await login(r.port, ticket('alice', 'alice-ticket'));
    const a2 = await login(r.port, ticket('alice', 'alice-ticket'), { rawsocket: true });
    const root = await login(r.port, ticket('root', 'root-ticket'), { serializer: 'cbor' });
    const anon = await login(r.port, {});
    let e = await metrics(r.port);
    t.equal(value(e, 'clawgate_sessions', { realm: 'realm1', role: 'user' }), 2);
    t.equal(value(e, 'clawgate_sessions', { realm: 'realm1', role: 'admin' }), 1);
    t.equal(value(e, 'clawgate_sessions', { realm: 'realm1', role: 'anonymous' }), 1);
    t.ok(value(e, 'clawgate_connections') >= 4, 'connections count the open transports');
    closeAll(a2, anon);
    await eventually(() => r.router.realm('realm1')!.sessions.size === 2);
    e = await metrics(r.port);
    t.equal(value(e, 'clawgate_sessions', { realm: 'realm1', role: 'user' }), 1, 'a session that left is no longer counted');
    t.notOk(e.samples.some((s) => s.name === 'clawgate_sessions' && s.labels.role === 'anonymous'), 'a role with no sessions has no sample');
    closeAll(a1, root);
  });

  await t.test('messages in and out by type, errors by URI, call latency', async (t) => {
    const before = await metrics(r.port);
    const callee = await login(r.port, {});
    const caller = await login(r.port, {});
    t.teardown(() => closeAll(callee, caller));
    await callee.session.register('com.m.echo', (args: unknown[]) => args[0]);
    await callee.session.subscribe('com.m.topic', () => {});
    for (let i = 0; i < 5; i++) await caller.session.publish('com.m.topic', [i], {}, { acknowledge: true });
    for (let i = 0; i < 3; i++) t.equal(await caller.session.call('com.m.echo', [i]), i);
    await caller.session.call('com.m.missing').catch(() => {});
    await caller.session.call('com.m.missing').catch(() => {});
    const e = await metrics(r.port);
    const delta = (name: string, labels: Record<string, string>) => value(e, name, labels) - value(before, name, labels);
    t.equal(delta('clawgate_messages_received_total', { type: 'PUBLISH' }), 5, 'PUBLISH in');
    t.equal(delta('clawgate_messages_sent_total', { type: 'PUBLISHED' }), 5, 'PUBLISHED out');
    t.equal(delta('clawgate_messages_sent_total', { type: 'EVENT' }), 5, 'EVENT out');
    t.equal(delta('clawgate_messages_received_total', { type: 'CALL' }), 5, 'CALL in');
    t.equal(delta('clawgate_messages_sent_total', { type: 'INVOCATION' }), 3, 'INVOCATION out');
    t.equal(delta('clawgate_messages_received_total', { type: 'YIELD' }), 3, 'YIELD in');
    t.equal(delta('clawgate_messages_sent_total', { type: 'RESULT' }), 3, 'RESULT out');
    t.equal(delta('clawgate_messages_received_total', { type: 'REGISTER' }), 1);
    t.equal(delta('clawgate_messages_received_total', { type: 'SUBSCRIBE' }), 1);
    t.equal(delta('clawgate_messages_received_total', { type: 'HELLO' }), 2);
    t.equal(delta('clawgate_messages_sent_total', { type: 'WELCOME' }), 2);
    t.equal(delta('clawgate_errors_total', { uri: 'wamp.error.no_such_procedure' }), 2, 'errors by URI');
    t.equal(delta('clawgate_call_duration_seconds_count', { outcome: 'result' }), 3, 'latency histogram counts answered calls');
    t.equal(delta('clawgate_call_duration_seconds_count', { outcome: 'error' }), 2, 'and failed ones');
    t.ok(delta('clawgate_call_duration_seconds_sum', { outcome: 'result' }) > 0, 'latency sum grows');
    t.equal(value(e, 'clawgate_call_duration_seconds_bucket', { outcome: 'result', le: '+Inf' }), value(e, 'clawgate_call_duration_seconds_count', { outcome: 'result' }), '+Inf bucket = count');
    const buckets = e.samples.filter((s) => s.name === 'clawgate_call_duration_seconds_bucket' && s.labels.outcome === 'result').map((s) => s.value);
    t.ok(buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!), 'buckets are cumulative');
  });

  await t.test('auth failures by method, aborts by reason', async (t) => {
    const before = await metrics(r.port);
    t.equal((await refused(r.port, ticket('alice', 'wrong'))).reason, 'wamp.error.authentication_failed');
    t.equal((await refused(r.port, ticket('nobody', 'x'))).reason, 'wamp.error.authentication_failed');
    t.equal((await refused(r.port, { authmethods: ['wampcra'], authid: 'alice' })).reason, 'wamp.error.no_auth_method');
    t.equal((await refused(r.port, {}, { realm: 'no.such.realm' })).reason, 'wamp.error.no_such_realm');
    const e = await metrics(r.port);
    const delta = (name: string, labels: Record<string, string>) => value(e, name, labels) - value(before, name, labels);
    t.equal(delta('clawgate_auth_failures_total', { method: 'ticket' }), 2, 'wrong ticket and unknown authid');
    t.equal(delta('clawgate_auth_failures_total', { method: 'none' }), 1, 'no accepted method');
    t.equal(delta('clawgate_aborts_total', { reason: 'wamp.error.authentication_failed' }), 2);
    t.equal(delta('clawgate_aborts_total', { reason: 'wamp.error.no_such_realm' }), 1);
    t.equal(delta('clawgate_auth_failures_total', { method: 'anonymous' }), 0, 'a missing realm is not an auth failure');
  });

  await t.test('limit counters are exported', async (t) => {
    r.router.limitCounters.slowConsumersDropped += 2;
    r.router.limitCounters.publishRateLimited += 3;
    r.router.limitCounters.publishDropped += 1;
    r.router.limitCounters.callRateLimited += 4;
    const e = await metrics(r.port);
    t.equal(value(e, 'clawgate_slow_consumers_dropped_total'), r.router.limitCounters.slowConsumersDropped);
    t.equal(value(e, 'clawgate_rate_limited_total', { action: 'publish' }), r.router.limitCounters.publishRateLimited + r.router.limitCounters.publishDropped);
    t.equal(value(e, 'clawgate_rate_limited_total', { action: 'call' }), r.router.limitCounters.callRateLimited);
    t.equal(value(e, 'clawgate_limit_events_total', { kind: 'slow_consumers_dropped' }), r.router.limitCounters.slowConsumersDropped);
  });

  await t.test('snapshot() for in-process readers agrees with /metrics', async (t) => {
    const a = await login(r.port, ticket('alice', 'alice-ticket'));
    t.teardown(() => closeAll(a));
    const e = await metrics(r.port);
    const s = r.router.metrics.snapshot();
    t.same(s.sessions.filter((x) => x.role === 'user'), [{ realm: 'realm1', role: 'user', count: 1 }]);
    t.equal(s.messagesReceived.PUBLISH, value(e, 'clawgate_messages_received_total', { type: 'PUBLISH' }));
    t.equal(s.messagesSent.EVENT, value(e, 'clawgate_messages_sent_total', { type: 'EVENT' }));
    t.equal(s.errors['wamp.error.no_such_procedure'], value(e, 'clawgate_errors_total', { uri: 'wamp.error.no_such_procedure' }));
    t.equal(s.authFailures.ticket, value(e, 'clawgate_auth_failures_total', { method: 'ticket' }));
    t.equal(s.calls.result.count, value(e, 'clawgate_call_duration_seconds_count', { outcome: 'result' }));
    t.equal(s.limits.slow_consumers_dropped, value(e, 'clawgate_slow_consumers_dropped_total'));
    // A scrape is counted once it has been answered: the text it got shows the ones before it.
    t.equal(s.httpRequests['metrics 200'], value(e, 'clawgate_http_requests_total', { type: 'metrics', status: '200' }) + 1, 'scrapes are counted');
  });

  await t.test('logs carry session ids on join, leave, abort and auth failure', async (t) => {
    const a = await login(r.port, ticket('alice', 'alice-ticket'));
    const id = a.session.id as number;
    closeAll(a);
    await eventually(() => r.logs.some((l) => l.msg === 'session left' && l.session === id));
    const joined = r.logs.find((l) => l.msg === 'session joined' && l.session === id);
    t.match(joined, { realm: 'realm1', authid: 'alice', authrole: 'user', authmethod: 'ticket' }, 'session joined');
    t.match(r.logs.find((l) => l.msg === 'session left' && l.session === id), { realm: 'realm1', authid: 'alice', authrole: 'user' }, 'session left');
    const n = r.logs.length;
    await refused(r.port, ticket('alice', 'wrong'));
    await eventually(() => r.logs.slice(n).some((l) => l.msg === 'session aborted'));
    const failed = r.logs.slice(n).find((l) => l.msg === 'authentication failed');
    const aborted = r.logs.slice(n).find((l) => l.msg === 'session aborted');
    t.type(failed?.session, 'number', 'auth failure names the session id');
    t.ok((failed?.session as number) > 0);
    t.equal(aborted?.session, failed?.session, 'and the abort the same one');
  });
});

t.test('/metrics exposure: loopback only by default; a metrics path replaces it', async (t) => {
  await t.test('the default /metrics refuses a client that is not on loopback', async (t) => {
    const external = Object.values(os.networkInterfaces()).flat().find((i) => i !== undefined && !i.internal && i.family === 'IPv4');
    if (external === undefined) { t.pass('not checked: no non-loopback IPv4 address on this machine'); return; }
    const cfg = testConfig() as { workers: { transports: { endpoint: { interface: string } }[] }[] };
    cfg.workers[0]!.transports[0]!.endpoint.interface = '0.0.0.0';
    const r = await startRouter(cfg);
    t.teardown(() => r.stop());
    const res = await scrape(r.port, external!.address);
    t.equal(res.status, 403, `from ${external!.address}`);
    t.match(JSON.parse(res.text), { error: 'clawgate.error.http.forbidden_ip' });
    t.equal((await scrape(r.port)).status, 200, 'from 127.0.0.1');
  });

  await t.test('type: metrics paths with require_ip', async (t) => {
    const cfg = testConfig({ transportExtras: { web: { paths: {
      'internal/metrics': { type: 'metrics', options: { require_ip: ['127.0.0.0/8'] } },
      'closed/metrics': { type: 'metrics', options: { require_ip: ['10.0.0.0/8'] } },
    } } } });
    const r = await startRouter(cfg);
    t.teardown(() => r.stop());
    const ok = await scrape(r.port, '127.0.0.1', '/internal/metrics');
    t.equal(ok.status, 200);
    t.ok(parse(ok.text).types.has('clawgate_sessions'));
    const closed = await scrape(r.port, '127.0.0.1', '/closed/metrics');
    t.equal(closed.status, 403);
    t.equal((await scrape(r.port)).status, 404, 'the default /metrics is gone once a metrics path is configured');
  });

  await t.test('embedders can turn the default off', async (t) => {
    const { config } = fromCrossbar(testConfig());
    const router = new Router({ ...config, defaultMetrics: false }, { log: silentLogger() });
    await router.start();
    t.teardown(() => router.stop(200));
    t.equal((await scrape(Object.values(router.ports())[0]!)).status, 404);
  });
});

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

t.test('/health: 503 before start and while stopping, 200 when ready', async (t: Test) => {
  const { config } = fromCrossbar(testConfig());
  const router = new Router(config, { log: silentLogger() });
  // Before start() nothing listens, so serve the same app on a side server to ask it.
  const side = http.createServer(router.app);
  await new Promise<void>((r) => side.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => side.close(() => r())));
  const sidePort = (side.address() as { port: number }).port;
  const early = await health(sidePort);
  t.equal(early.status, 503);
  t.equal(early.body.status, 'starting');

  await router.start();
  const port = Object.values(router.ports())[0]!;
  const ready = await health(port);
  t.equal(ready.status, 200);
  t.match(ready.body, { status: 'ok', realms: ['realm1'] });
  t.equal((await health(sidePort)).status, 200, 'the app is ready once the listeners are');

  // A client that never answers GOODBYE keeps stop() in its grace period; ask meanwhile.
  const stubborn = Wire.connect({ url: `ws://127.0.0.1:${port}/ws`, codec: 'json-text' });
  await stubborn.join();
  const stopped = router.stop(1500);
  await sleep(100);
  const during = await health(sidePort);
  t.equal(during.status, 503, 'not ready once stop() began');
  t.equal(during.body.status, 'stopping');
  const throughListener = await health(port).catch((e: Error) => ({ status: -1, body: { error: e.message } }));
  t.equal(throughListener.status, 503, 'the listener itself answers 503 while stopping');
  await stopped;
  t.equal((await health(sidePort)).status, 503, 'still 503 after stop()');
  stubborn.end();
});

t.test('the HTTP bridge counts its requests', async (t) => {
  const cfg = testConfig({ transportExtras: { web: { paths: { pub: { type: 'publisher', realm: 'realm1', role: 'anonymous' } } } } });
  const r = await startRouter(cfg);
  t.teardown(() => r.stop());
  const post = (body: string) => fetch(`http://127.0.0.1:${r.port}/pub`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  t.equal((await post('{"topic": "com.x"}')).status, 200);
  t.equal((await post('{"topic": ')).status, 400);
  t.equal((await post('{"topic": ')).status, 400);
  const e = await metrics(r.port);
  t.equal(value(e, 'clawgate_http_requests_total', { type: 'publisher', status: '200' }), 1);
  t.equal(value(e, 'clawgate_http_requests_total', { type: 'publisher', status: '400' }), 2);
});
