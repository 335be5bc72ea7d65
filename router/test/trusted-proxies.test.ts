// Behind a reverse proxy: `trusted_proxies` makes the router believe
// X-Forwarded-For / X-Forwarded-Proto from those proxies only. Checked on
// the pure rule and on a real router: WebSocket sessions (session details,
// what the meta API reports), the HTTP bridge's require_ip and require_tls,
// and the loopback-only /metrics, with the headers sent by a real client
// from 127.0.0.1 (the "proxy" here).
import t from 'tap';
import { startRouter, testConfig, bridgeRealm, type RunningRouter } from './helpers.js';
import { Wire } from './wire.js';
import { TrustedProxies, clientAddress, trustedProxyError } from '../src/net/forwarded.js';
import { fromCrossbar, ConfigError } from '../src/config/crossbar-config.js';

const LOCAL = { address: '127.0.0.1', port: 40000, encrypted: false };
const loopback = new TrustedProxies(['loopback']);

t.test('the rule: headers only from a trusted peer, client = first untrusted hop from the right', async (t) => {
  const xff = (v: string) => ({ 'x-forwarded-for': v });
  t.same(clientAddress(LOCAL, xff('198.51.100.7'), undefined), { ...LOCAL, proxy: undefined }, 'no trusted_proxies: headers ignored');
  t.same(clientAddress({ ...LOCAL, address: '203.0.113.9' }, xff('10.1.1.1'), loopback).address, '203.0.113.9', 'untrusted peer: its header is a claim, ignored');
  t.same(clientAddress(LOCAL, xff('198.51.100.7'), loopback), { address: '198.51.100.7', port: undefined, encrypted: false, proxy: '127.0.0.1' });
  t.equal(clientAddress(LOCAL, xff('1.2.3.4, 198.51.100.7'), loopback).address, '198.51.100.7', 'what the client wrote left of the proxy\'s entry is not believed');
  const two = new TrustedProxies(['loopback', '10.0.0.0/8']);
  t.equal(clientAddress(LOCAL, xff('198.51.100.7, 10.0.0.5'), two).address, '198.51.100.7', 'a chain of trusted proxies is walked');
  t.equal(clientAddress(LOCAL, xff('10.0.0.9, 10.0.0.5'), two).address, '10.0.0.9', 'all trusted: the leftmost');
  // Changed with issue 13: this used to be the proxy itself (fail-open: a remote client looked like loopback).
  t.same(clientAddress(LOCAL, xff('198.51.100.7, garbage'), loopback), { address: undefined, port: undefined, encrypted: false, proxy: '127.0.0.1' }, 'a malformed last hop: the client is unknown (fail closed), never the proxy');
  t.equal(clientAddress(LOCAL, xff('[2001:db8::1]:443'), loopback).address, '2001:db8::1', 'bracketed IPv6 with port');
  t.equal(clientAddress(LOCAL, xff('198.51.100.7:5555'), loopback).address, '198.51.100.7', 'IPv4 with port');
  t.equal(clientAddress({ ...LOCAL, address: '::ffff:127.0.0.1' }, xff('198.51.100.7'), loopback).address, '198.51.100.7', 'IPv4-mapped proxy address');
  t.equal(clientAddress(LOCAL, { ...xff('198.51.100.7'), 'x-forwarded-proto': 'https' }, loopback).encrypted, true, 'X-Forwarded-Proto https');
  t.equal(clientAddress({ ...LOCAL, encrypted: true }, { ...xff('198.51.100.7'), 'x-forwarded-proto': 'http' }, loopback).encrypted, false, 'the client\'s leg was plain http');
  t.equal(clientAddress({ ...LOCAL, address: '203.0.113.9' }, { 'x-forwarded-proto': 'https' }, loopback).encrypted, false, 'proto from an untrusted peer ignored');
  t.equal(trustedProxyError('10.0.0.0/8'), undefined);
  t.equal(trustedProxyError('private'), undefined);
  t.match(trustedProxyError('10.0.0.0/40'), /prefix length/);
  t.match(trustedProxyError('nginx'), /not an IP address.*loopback, private/);
});

function config(trusted: string[] | undefined): unknown {
  return testConfig({
    realms: [bridgeRealm()],
    transportExtras: {
      ...(trusted !== undefined ? { trusted_proxies: trusted } : {}),
      web: {
        paths: {
          ipub: { type: 'publisher', realm: 'realm1', role: 'bridge', options: { require_ip: ['203.0.113.0/24'] } },
          tpub: { type: 'publisher', realm: 'realm1', role: 'bridge', options: { require_tls: true } },
        },
      },
    },
  });
}

async function publish(r: RunningRouter, path: string, headers: Record<string, string>): Promise<{ status: number; error?: string }> {
  const res = await fetch(`http://127.0.0.1:${r.port}/${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ topic: 'com.bridge.x', args: [1] }),
  });
  const body = await res.json() as { error?: string };
  return { status: res.status, error: body.error };
}

async function ownDetails(r: RunningRouter, headers?: Record<string, string>): Promise<Record<string, unknown>> {
  const c = Wire.connect({ url: r.url, codec: 'json-text', headers });
  const id = await c.join();
  c.send([48, 1, {}, 'wamp.session.get', [id]]);
  const result = await c.next(50);
  c.end();
  return (result[3] as unknown[])[0] as Record<string, unknown>;
}

t.test('a router behind a trusted proxy sees the forwarded client', async (t) => {
  const r = await startRouter(config(['loopback']));
  t.teardown(() => r.stop());

  const d = await ownDetails(r, { 'x-forwarded-for': '198.51.100.7' });
  t.match(d.transport, { peer: 'tcp4:198.51.100.7:0', proxy: /^tcp4:127\.0\.0\.1:\d+$/ }, 'session details: the client, and the proxy it came through');
  const direct = await ownDetails(r);
  t.match(direct.transport, { peer: /^tcp4:127\.0\.0\.1:\d+$/ }, 'no header: the TCP peer');
  t.notOk('proxy' in (direct.transport as object), 'and no proxy');

  t.equal((await publish(r, 'ipub', { 'x-forwarded-for': '203.0.113.5' })).status, 200, 'require_ip judges the forwarded client (allowed)');
  t.same(await publish(r, 'ipub', { 'x-forwarded-for': '198.51.100.1' }), { status: 403, error: 'clawgate.error.http.forbidden_ip' }, 'and refuses another');
  t.equal((await publish(r, 'ipub', { 'x-forwarded-for': '203.0.113.5, 198.51.100.1' })).status, 403, 'a spoofed entry left of the real client does not help');
  t.equal((await publish(r, 'tpub', { 'x-forwarded-for': '203.0.113.5', 'x-forwarded-proto': 'https' })).status, 200, 'require_tls: the client used https to the proxy');
  t.same(await publish(r, 'tpub', { 'x-forwarded-for': '203.0.113.5', 'x-forwarded-proto': 'http' }), { status: 403, error: 'clawgate.error.http.tls_required' }, 'and plain http is refused');

  const metrics = async (h: Record<string, string>) => (await fetch(`http://127.0.0.1:${r.port}/metrics`, { headers: h })).status;
  t.equal(await metrics({}), 200, '/metrics from loopback itself');
  t.equal(await metrics({ 'x-forwarded-for': '198.51.100.7' }), 403, '/metrics (loopback only) refuses a client the proxy forwarded from outside');
});

t.test('without trusted_proxies the headers are ignored', async (t) => {
  const r = await startRouter(config(undefined));
  t.teardown(() => r.stop());
  const d = await ownDetails(r, { 'x-forwarded-for': '198.51.100.7' });
  t.match(d.transport, { peer: /^tcp4:127\.0\.0\.1:\d+$/ }, 'the TCP peer, whatever the header says');
  t.equal((await publish(r, 'ipub', { 'x-forwarded-for': '203.0.113.5' })).status, 403, 'require_ip is not fooled');
  t.equal((await publish(r, 'tpub', { 'x-forwarded-proto': 'https' })).status, 403, 'nor require_tls');
  t.equal((await fetch(`http://127.0.0.1:${r.port}/metrics`, { headers: { 'x-forwarded-for': '198.51.100.7' } })).status, 200, '/metrics sees loopback');
});

t.test('a bad trusted_proxies entry fails at start, naming the key', async (t) => {
  const bad = config(['loopback', '10.0.0.0/33']);
  t.throws(() => fromCrossbar(bad), ConfigError);
  t.throws(() => fromCrossbar(bad), /workers\[0\]\.transports\[0\]\.trusted_proxies\[1\].*prefix length/);
  t.throws(() => fromCrossbar(config(['proxy.example.com'])), /trusted_proxies\[0\]/);
});
