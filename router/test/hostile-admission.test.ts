// Session and connection floods (issue 13, attack 5): one client opened
// 9,997 anonymous RawSocket sessions in 3.8 s and real players then got
// too_many_sessions. Now: connections per listener and per client address
// (counted at accept, or at the WebSocket upgrade for a client a trusted
// proxy forwarded), sessions per client address per realm, and sessions
// kept free per role. Checked with clients on other loopback addresses
// (127.0.0.x, all routed to lo) for direct connections, and with
// X-Forwarded-For through a trusted proxy (the claw config as shipped, whose
// nginx is on loopback). Also the forwarded-address parser's fail-closed
// cases (attack 10).
import t from 'tap';
import net from 'node:net';
import { Wire } from './wire.js';
import { startHostileRouter, startClawRouter, clawLogin, probeWhile, loopbackAddresses, ALLOW_ALL } from './hostile-helpers.js';
import { testConfig, within } from './helpers.js';
import { TrustedProxies, clientAddress } from '../src/net/forwarded.js';
import { addressKey, UNKNOWN_CLIENT } from '../src/net/client-key.js';

const MAX_ROUND_TRIP_MS = 500;

/**
 * Opens `n` RawSocket connections from `address` at once and holds them (a
 * connection refused at accept fails its RawSocket handshake), then says
 * HELLO on every one that is open; counts how each ended up.
 */
async function rawFlood(port: number, address: string, n: number): Promise<{ welcomed: Wire[]; aborted: string[]; closedAtAccept: number }> {
  const opened = await Promise.all(Array.from({ length: n }, () => Wire.open({ kind: 'raw', port, localAddress: address }).catch(() => undefined)));
  const open = opened.filter((w): w is Wire => w !== undefined);
  const welcomed: Wire[] = [];
  const aborted: string[] = [];
  await Promise.all(open.map(async (w) => {
    w.send([1, 'realm1', { roles: { subscriber: {}, caller: {} } }]);
    const m = await w.next(undefined, 10_000);
    if (m[0] === 2) welcomed.push(w);
    else { aborted.push(`${m[2] as string}: ${(m[1] as { message: string }).message}`); w.close(); }
  }));
  return { welcomed, aborted, closedAtAccept: n - open.length };
}

t.test('direct clients: per-address connections and sessions, the listener total', async (t) => {
  const r = await startHostileRouter(testConfig({
    realms: [{ name: 'realm1', options: { limits: { max_sessions_per_address: 20, max_sessions: 200 } }, roles: [{ name: 'anonymous', permissions: ALLOW_ALL }] }],
    transportExtras: { limits: { max_connections_per_address: 30, max_connections: 150 } },
  }));
  t.teardown(() => r.stop());
  const [attacker, other, ...more] = loopbackAddresses(6);

  await t.test('one address floods: 30 connections, 20 sessions; another address still gets in', async (t) => {
    const flood = await rawFlood(r.port, attacker!, 45);
    t.equal(flood.welcomed.length, 20, '20 sessions welcomed (max_sessions_per_address)');
    t.equal(flood.aborted.length, 10, 'the other 10 connections get ABORT');
    t.ok(flood.aborted.every((a) => a.startsWith('clawgate.error.too_many_sessions: client address 127.0.0.2 already has 20 sessions')), flood.aborted[0]);
    t.equal(flood.closedAtAccept, 15, 'connections past 30 are closed at accept (max_connections_per_address)');
    const c = await Wire.open({ kind: 'raw', port: r.port, localAddress: other });
    t.equal(typeof (await c.join()), 'number', 'a client on another address joins');
    c.close();
    for (const w of flood.welcomed) w.close();
    t.ok(r.router.limitCounters.connectionsRefused >= 15 && r.router.limitCounters.sessionsRefused >= 10, 'both are counted');
  });

  await t.test('several addresses at once: the listener total holds, and a normal client is served meanwhile', async (t) => {
    await within((async () => { while (r.router.sessionCount > 0) await new Promise((res) => setTimeout(res, 20)); })(), 10_000, 'the first flood is gone');
    const attack = Promise.all(more.map((a) => rawFlood(r.port, a, 45)));
    const probe = probeWhile(r.port, attack);
    const floods = await attack;
    const { maxMs } = await probe;
    const welcomed = floods.reduce((n, f) => n + f.welcomed.length, 0);
    t.equal(welcomed, 80, 'each of four addresses got its 20 sessions');
    t.ok(floods.every((f) => f.welcomed.length === 20), 'no more');
    t.ok(maxMs < MAX_ROUND_TRIP_MS, `a normal session's round trips stayed under ${MAX_ROUND_TRIP_MS} ms (longest ${maxMs.toFixed(1)} ms)`);
    // 80 sessions and the probe are open; fill the listener to 150 from yet more addresses.
    const extra = await Promise.all(loopbackAddresses(4, 20).map((a) => rawFlood(r.port, a, 30)));
    t.ok(extra.some((f) => f.closedAtAccept > 0), `connections past max_connections (150) are closed at accept (${extra.map((f) => f.closedAtAccept).join(', ')})`);
    t.ok(r.router.sessionCount <= 150, `connections with a session: ${r.router.sessionCount}`);
    for (const f of [...floods, ...extra]) for (const w of f.welcomed) w.close();
  });
});

t.test('the claw config behind its proxy: forwarded clients are counted, the proxy and the reserved roles are not', async (t) => {
  // Shipped limits, but a realm of 150 sessions so that the test can fill it, and 20 of them
  // (not 2000) kept for players: 62 reserved in all.
  const r = await startClawRouter((raw) => {
    raw.workers[0].realms[0].options.limits.max_sessions = 150;
    raw.workers[0].realms[0].roles.find((role: { name: string }) => role.name === 'player').limits.reserved_sessions = 20;
  });
  t.teardown(() => r.stop());
  const spectators = async (xff: string, n: number): Promise<{ welcomed: Wire[]; refused: string[] }> => {
    const welcomed: Wire[] = [];
    const refused: string[] = [];
    for (let i = 0; i < n; i++) {
      let w: Wire;
      try { w = await Wire.open({ kind: 'ws', port: r.port, headers: { 'x-forwarded-for': xff } }); } catch (e) { refused.push(`upgrade: ${(e as Error).message}`); continue; }
      const m = await clawLogin(w, { role: 'spectator' });
      if (m[0] === 2) welcomed.push(w); else { refused.push((m[1] as { message: string }).message); w.close(); }
    }
    return { welcomed, refused };
  };

  const first = await spectators('198.51.100.7', 70);
  t.equal(first.welcomed.length, 64, 'one forwarded address: 64 sessions (max_sessions_per_address)');
  t.match(first.refused[0], /client address 198\.51\.100\.7 already has 64 sessions/);
  const second = await spectators('198.51.100.8', 70);
  t.equal(second.welcomed.length, 150 - 62 - 64, 'a second address fills what is left after the reservations');
  t.match(second.refused[0], /realm "claw" has reached its limit of 150 sessions \(62 of them kept for the roles player, backend, claw, operator\)/);
  const third = await spectators('198.51.100.9', 1);
  t.equal(third.welcomed.length, 0, 'a spectator from a third address is refused: the realm is full for anonymous sessions');

  const player = await Wire.open({ kind: 'ws', port: r.port, headers: { 'x-forwarded-for': '203.0.113.50' } });
  t.equal((await clawLogin(player, { role: 'player', authid: 'pbob' }))[0], 2, 'a player still gets in: players have sessions kept for them');
  const reserved: Wire[] = [];
  for (const who of [{ role: 'backend' }, { role: 'operator' }, { role: 'claw', authid: 'm1' }, { role: 'claw', authid: 'm2' }] as const) {
    const w = await Wire.open({ kind: 'ws', port: r.port });
    t.equal((await clawLogin(w, who))[0], 2, `${who.role}${'authid' in who ? ` ${who.authid}` : ''} still gets in`);
    reserved.push(w);
  }

  // The proxy itself (loopback without X-Forwarded-For) is never held to the per-address cap (96 connections).
  const own = await Promise.all(Array.from({ length: 100 }, () => Wire.open({ kind: 'ws', port: r.port })));
  t.equal(own.filter((w) => !w.isClosed).length, 100, 'the proxy opened 100 connections of its own, past max_connections_per_address');
  for (const w of [...own, ...first.welcomed, ...second.welcomed, ...reserved, player]) w.close();
});

t.test('forwarded clients whose address is not an address share one bucket', async (t) => {
  const r = await startHostileRouter(testConfig({
    realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: ALLOW_ALL }] }],
    transportExtras: { trusted_proxies: ['loopback'], limits: { max_connections_per_address: 3 } },
  }));
  t.teardown(() => r.stop());
  const opened: Wire[] = [];
  const statuses: string[] = [];
  for (const xff of ['unknown', '_hidden', 'garbage', '198.51.100.7, not-an-ip', 'unknown']) {
    try {
      const w = await Wire.open({ kind: 'ws', port: r.port, headers: { 'x-forwarded-for': xff } });
      opened.push(w);
      statuses.push('open');
    } catch (e) {
      statuses.push((e as Error).message);
    }
  }
  t.same(statuses.slice(0, 3), ['open', 'open', 'open'], 'three unknown clients');
  t.match(statuses[3], /503/, 'the fourth, unknown for another reason, is refused: same bucket');
  t.match(statuses[4], /503/);
  const known = await Wire.open({ kind: 'ws', port: r.port, headers: { 'x-forwarded-for': '198.51.100.7' } });
  t.ok(!known.isClosed, 'a known client is not in that bucket');
  const id = await opened[0]!.join();
  opened[0]!.send([48, 1, {}, 'wamp.session.get', [id]]);
  const details = ((await opened[0]!.next(50))[3] as Record<string, { peer: string; proxy: string }>[])[0]!;
  t.equal(details.transport!.peer, 'tcp4:unknown:0', 'the session sees an unknown peer');
  t.match(details.transport!.proxy, /^tcp4:127\.0\.0\.1:/, 'that came through the proxy');
  const metrics = await fetch(`http://127.0.0.1:${r.port}/metrics`, { headers: { 'x-forwarded-for': '198.51.100.7, garbage' } });
  t.equal(metrics.status, 403, '/metrics (loopback only) refuses an unknown forwarded client (it used to believe it was the proxy, loopback)');
  for (const w of [...opened, known]) w.close();
});

t.test('forwarded IPv6 clients count per /64: connections and sessions', async (t) => {
  const r = await startHostileRouter(testConfig({
    realms: [{ name: 'realm1', options: { limits: { max_sessions_per_address: 2 } }, roles: [{ name: 'anonymous', permissions: ALLOW_ALL }] }],
    transportExtras: { trusted_proxies: ['loopback'], limits: { max_connections_per_address: 3 } },
  }));
  t.teardown(() => r.stop());
  const from = (address: string): Promise<Wire> => Wire.open({ kind: 'ws', port: r.port, headers: { 'x-forwarded-for': address } });
  // Four addresses of one /64, as one subscriber can pick at will.
  const same = await Promise.all(['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3'].map(from));
  const fourth = await from('2001:db8:1:2::4').then(() => 'open', (e: Error) => e.message);
  t.match(fourth, /503/, 'a fourth connection from the same /64 is refused at the upgrade (max_connections_per_address 3)');
  const joins = await Promise.all(same.map((w) => w.join().then(() => 'welcomed', (e: Error) => e.message)));
  t.same(joins.filter((j) => j === 'welcomed').length, 2, 'two sessions from the /64 (max_sessions_per_address 2)');
  t.match(joins.find((j) => j !== 'welcomed'), /client address 2001:db8:1:2::\/64 already has 2 sessions.*too_many_sessions/, 'the third is refused, naming the /64');
  const next = await from('2001:db8:1:3::1');
  t.equal(typeof (await next.join()), 'number', 'the neighbouring /64 is another client');
  for (const w of [...same, next]) w.close();
});

t.test('the forwarded-address parser fails closed', async (t) => {
  const local = { address: '127.0.0.1', port: 40000, encrypted: false };
  const loopback = new TrustedProxies(['loopback']);
  const two = new TrustedProxies(['loopback', '10.0.0.0/8']);
  const xff = (v: string) => ({ 'x-forwarded-for': v });
  const unknown = { address: undefined, port: undefined, encrypted: false, proxy: '127.0.0.1' };
  for (const v of ['garbage', 'unknown', '_hidden', '198.51.100.7, garbage', '198.51.100.7,', ' , ', '1.2.3.4.5', '198.51.100.7, 10.0.0.5, nope']) {
    t.same(clientAddress(local, xff(v), two), unknown, `"${v}": the client is unknown, never the proxy`);
  }
  t.equal(clientAddress(local, xff('garbage, 198.51.100.7'), loopback).address, '198.51.100.7', 'garbage left of the client is never reached');
  t.equal(clientAddress(local, xff('198.51.100.7, 10.0.0.5'), two).address, '198.51.100.7', 'a chain of trusted proxies is still walked');
  t.equal(clientAddress(local, xff(''), loopback).address, '127.0.0.1', 'an empty header: the proxy speaking for itself');
  t.equal(clientAddress({ ...local, address: '203.0.113.9' }, xff('garbage'), loopback).address, '203.0.113.9', 'from an untrusted peer the header is ignored, garbage or not');
  t.equal(addressKey(clientAddress(local, xff('garbage'), loopback), loopback), UNKNOWN_CLIENT, 'an unknown client counts under "unknown"');
  t.equal(addressKey(clientAddress(local, {}, loopback), loopback), undefined, 'the proxy\'s own connection is not counted per address');
  t.equal(addressKey(clientAddress({ ...local, address: '::ffff:198.51.100.7' }, {}, loopback), loopback), '198.51.100.7', 'a direct client counts under its address (IPv4-mapped unmapped)');
  t.equal(addressKey(clientAddress(local, xff('198.51.100.7'), loopback), loopback), '198.51.100.7', 'a forwarded client under its own');
});

t.test('RawSocket clients are closed at accept over the per-address cap, before any handshake', async (t) => {
  const r = await startHostileRouter(testConfig({ transportExtras: { limits: { max_connections_per_address: 2 } } }));
  t.teardown(() => r.stop());
  const [a] = loopbackAddresses(1, 40);
  const sockets = await Promise.all(Array.from({ length: 3 }, () => new Promise<net.Socket>((res) => {
    const s = net.connect({ port: r.port, host: '127.0.0.1', localAddress: a });
    s.on('error', () => {});
    s.once('connect', () => res(s));
  })));
  const closed = await Promise.all(sockets.map((s) => Promise.race([
    new Promise<boolean>((res) => s.once('close', () => res(true))),
    new Promise<boolean>((res) => setTimeout(() => res(false), 1500)),
  ])));
  t.same(closed.filter(Boolean).length, 1, 'the third connection from one address is closed at once; two stay open');
  for (const s of sockets) s.destroy();
});
