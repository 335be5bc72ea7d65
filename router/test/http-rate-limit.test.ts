// options.rate_limit on HTTP bridge paths: a token bucket per client address,
// 429 with Retry-After past it. Real router, real HTTP; distinct clients come
// through a trusted "proxy" (this process on loopback) with X-Forwarded-For.
import t from 'tap';
import { startRouter, connect, eventually, testConfig, bridgeRealm } from './helpers.js';
import { fromCrossbar, ConfigError } from '../src/config/crossbar-config.js';
import { ClientRateLimiter } from '../src/http/client-rate-limiter.js';

function config(rateLimit: unknown): unknown {
  return testConfig({
    realms: [bridgeRealm()],
    transportExtras: {
      trusted_proxies: ['loopback'],
      web: {
        paths: {
          pub: { type: 'publisher', realm: 'realm1', role: 'bridge', options: { rate_limit: rateLimit } },
          free: { type: 'publisher', realm: 'realm1', role: 'bridge' },
        },
      },
    },
  });
}

t.test('past the burst a client gets 429 with Retry-After; other clients and unlimited paths are not affected', async (t) => {
  const r = await startRouter(config({ rate: 0.5, burst: 2 }));
  t.teardown(() => r.stop());
  const sub = await connect({ port: r.port });
  t.teardown(() => sub.connection.close());
  const got: unknown[] = [];
  await sub.session.subscribe('com.bridge.x', (a: unknown[]) => got.push(a[0]));

  const post = async (path: string, client: string, n: number) => {
    const res = await fetch(`http://127.0.0.1:${r.port}/${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
      body: JSON.stringify({ topic: 'com.bridge.x', args: [`${client}#${n}`] }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as { error?: string; args?: string[] } };
  };
  t.equal((await post('pub', '198.51.100.1', 1)).status, 200);
  t.equal((await post('pub', '198.51.100.1', 2)).status, 200, 'the burst of 2');
  const third = await post('pub', '198.51.100.1', 3);
  t.equal(third.status, 429);
  t.equal(third.body.error, 'clawgate.error.http.rate_limited');
  t.match(third.body.args?.[0], /rate limit of 0.5 requests per second \(burst 2\) exceeded; retry after \d+ ms/);
  t.equal(third.retryAfter, '2', 'Retry-After in whole seconds (a token every 2 s)');
  t.equal((await post('pub', '198.51.100.2', 1)).status, 200, 'another client has its own bucket');
  for (let i = 0; i < 5; i++) t.equal((await post('free', '198.51.100.1', 10 + i)).status, 200, 'a path without rate_limit is unlimited');
  await eventually(() => got.length === 8);
  t.notOk(got.includes('198.51.100.1#3'), 'the refused publication never reached the realm');
});

t.test('the limiter: buckets refill, and the least recently seen client is dropped at the bound', async (t) => {
  const l = new ClientRateLimiter({ rate: 10, burst: 1 }, 2);
  t.equal(l.take('a', 0), 0);
  t.equal(l.take('a', 0), 100, '100 ms to the next token at 10/s');
  t.equal(l.take('a', 100), 0, 'refilled');
  l.take('b', 100);
  l.take('a', 100);
  l.take('c', 100); // evicts b, the least recently seen
  t.equal(l.clients, 2);
  t.ok(l.take('a', 100) > 0, 'a, seen more recently than b, was kept: still limited');
  t.equal(l.take('b', 100), 0, 'b starts again with a full bucket');
  t.equal(l.clients, 2, 'never more than the bound');
});

t.test('a bad rate_limit fails at start, naming the key', async (t) => {
  t.throws(() => fromCrossbar(config({ rate: 0 })), ConfigError);
  t.throws(() => fromCrossbar(config({ rate: 0 })), /web\.paths\.pub\.options\.rate_limit\.rate/);
  t.throws(() => fromCrossbar(config({ rate: 5, burst: 0 })), /rate_limit\.burst/);
  t.throws(() => fromCrossbar(config({ rate: 5, per: 'minute' })), /rate_limit/);
});
