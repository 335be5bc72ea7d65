// Free identities can't be farmed: guest minting is rate-limited per client
// address (the forwarded client behind a trusted proxy; IPv6 per /64), guest
// rows nobody uses expire, and guests minted from one address share a quota of
// places per queue. Each with several clients at once. Real router, real
// backend (its own HTTP listener and the route mounted on the router), real
// SQLite file, and for what the store counts (sweeps, quotas) a real
// PostgreSQL database too.
import t from 'tap';
import { sql } from 'kysely';
import { ClawErrors, Procedures, SessionErrors } from '@clawgate/protocol';
import { clientKey } from '../src/guests/client-key.js';
import { AddressBuckets } from '../src/guests/address-buckets.js';
import { Player, ScriptedClaw, UNLIMITED_GUESTS, column, eventually, errorOf, scalar, sleep, startClawRouter, startTestBackend, storeTest, testDatabase, type StoreKind, type TestRouter } from './helpers.js';
import type { Backend } from '../src/service.js';
import type { BackendConfigInput } from '../src/config.js';

const M = 'claw-1';
const M2 = 'claw-2';

interface Rig { r: TestRouter; backend: Backend; own: string }

/** Router + backend with its own listener trusting loopback proxies (so X-Forwarded-For says who the client is), and the route mounted on the router too. */
async function rig(t: { teardown(fn: () => unknown): void }, guests: Record<string, unknown>, extra: Partial<BackendConfigInput> = {}, machines: string[] = [], store: StoreKind = 'sqlite'): Promise<Rig> {
  const db = await testDatabase(t, store);
  const r = await startClawRouter(machines);
  t.teardown(() => r.stop());
  for (const m of machines) { const c = await new ScriptedClaw(r, m).start(); t.teardown(() => c.stop()); }
  const backend = await startTestBackend(r, db, {
    http: { port: 0, trustedProxies: ['loopback'] },
    guests: { ...UNLIMITED_GUESTS, ...guests } as BackendConfigInput['guests'],
    ...extra,
  });
  t.teardown(() => backend.stop());
  return { r, backend, own: `http://127.0.0.1:${backend.httpPort}` };
}

function post(base: string, name: string, o: { from?: string; cookie?: string } = {}): Promise<Response> {
  return fetch(`${base}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(o.from ? { 'x-forwarded-for': o.from } : {}), ...(o.cookie ? { cookie: o.cookie } : {}) },
    body: JSON.stringify({ name }),
  });
}

/** A player minted through the backend's own listener as `from`, logged into the router. */
async function guestFrom(g: Rig, from: string, name: string): Promise<Player> {
  const res = await post(g.own, name, { from });
  if (res.status !== 200) throw new Error(`mint: ${res.status}`);
  const body = await res.json() as { authid: string };
  // The row (name, minting address) is the one just minted; the ticket withTicket signs is for the same authid.
  return Player.withTicket(g.r, body.authid, name);
}

t.test('client keys: IPv4 as is, IPv6 by /64, IPv4-mapped unmapped', async (t) => {
  t.equal(clientKey('203.0.113.5'), '203.0.113.5');
  t.equal(clientKey('::ffff:203.0.113.5'), '203.0.113.5');
  t.equal(clientKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  t.equal(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64', 'any address in the /64');
  t.equal(clientKey('2001:db8:1:3::1'), '2001:db8:1:3::/64', 'the next /64 is another client');
  t.equal(clientKey('::1'), '0:0:0:0::/64');
  t.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.equal(clientKey(undefined), 'unknown');
  t.equal(clientKey('not an ip'), 'unknown');
});

t.test('address buckets: burst, refill, and at most maxKeys clients remembered', async (t) => {
  const b = new AddressBuckets({ burst: 2, perMinute: 60 }, 3);
  t.equal(b.take('a', 0), 0);
  t.equal(b.take('a', 0), 0);
  t.equal(b.take('a', 0), 1000, 'empty: one token a second');
  t.equal(b.take('a', 1000), 0, 'refilled');
  for (const k of ['b', 'c', 'd', 'e']) b.take(k, 1000);
  t.equal(b.size, 3, 'bounded');
  t.equal(b.wait('a', 1000), 0, 'the least recently seen was dropped (and starts full again)');
});

t.test('guest minting is rate-limited per forwarded client: 429 with Retry-After; renewals and other clients go on', async (t) => {
  const g = await rig(t, { mintPerAddress: { burst: 3, perMinute: 1 } });
  const a = '203.0.113.5';
  const ok = [];
  for (let i = 0; i < 3; i++) ok.push(await post(g.own, `A${i}`, { from: a }));
  t.same(ok.map((r) => r.status), [200, 200, 200], 'the burst');
  const refused = await post(g.own, 'A3', { from: a });
  t.equal(refused.status, 429);
  t.ok(Number(refused.headers.get('retry-after')) >= 1, `Retry-After: ${refused.headers.get('retry-after')}`);
  t.match(await refused.json(), { error: SessionErrors.rateLimited, message: /new players/ });
  const renewed = await post(g.own, 'A0 again', { from: a, cookie: ok[0]!.headers.get('set-cookie')!.split(';')[0]! });
  t.equal(renewed.status, 200, 'a renewal mints nothing and is not refused');
  t.equal((await post(g.own, 'B', { from: '198.51.100.7' })).status, 200, 'another client has its own bucket');
  t.equal((await post(g.own, 'C', { from: '2001:db8:1:2::1' })).status, 200);
  for (let i = 0; i < 2; i++) t.equal((await post(g.own, 'C', { from: `2001:db8:1:2::${i + 2}` })).status, 200);
  t.equal((await post(g.own, 'C', { from: '2001:db8:1:2::ffff' })).status, 429, 'IPv6: the whole /64 is one client');
  t.equal((await post(g.own, 'D', { from: '2001:db8:1:3::1' })).status, 200, 'the next /64 is another');
  // The route on the router's listener (the shipped config trusts loopback proxies there too) shares the
  // gate: the same forwarded client is out of guests on both ways in.
  t.equal((await post(g.r.http, 'A via the router', { from: a })).status, 429, 'one gate for both listeners');
  const mounted = [];
  for (let i = 0; i < 4; i++) mounted.push((await post(g.r.http, `M${i}`, { from: '192.0.2.1' })).status);
  t.same(mounted, [200, 200, 200, 429], 'on the router: the forwarded client has its own bucket');
  t.equal(g.backend.guests.gate.refused.guests, 4);
  t.equal((await scalar(g.backend, sql`SELECT COUNT(*) FROM players`)), 11, 'refused mints left no row');
  t.equal((await scalar(g.backend, sql`SELECT address FROM players WHERE name = ${'A1'}`)), a, 'the minting address is recorded');
});

t.test('X-Forwarded-For from a peer that is not a trusted proxy is not believed', async (t) => {
  const g = await rig(t, { mintPerAddress: { burst: 3, perMinute: 1 } }, { http: { port: 0 } });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await post(g.own, `X${i}`, { from: `192.0.2.${i + 1}` })).status);
  t.same(statuses, [200, 200, 200, 429], 'every request counted as 127.0.0.1, whatever the header says');
  t.same((await column(g.backend, sql`SELECT DISTINCT address FROM players`)), ['127.0.0.1']);
});

t.test('several clients minting at once: each gets exactly its burst; the total cap holds over all', async (t) => {
  const g = await rig(t, { mintPerAddress: { burst: 4, perMinute: 1 }, mintTotal: { burst: 14, perMinute: 1 } });
  const clients = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5'];
  const results = await Promise.all(clients.flatMap((c) => Array.from({ length: 6 }, (_, i) => post(g.own, `${c}-${i}`, { from: c }).then((r) => ({ c, status: r.status })))));
  const perClient = clients.map((c) => results.filter((r) => r.c === c && r.status === 200).length);
  t.ok(perClient.every((n) => n <= 4), `no client beyond its burst of 4: ${perClient.join(', ')}`);
  t.equal(perClient.reduce((a, b) => a + b, 0), 14, 'all together: the total burst of 14');
  t.equal(results.filter((r) => r.status === 429).length, 30 - 14);
  t.equal((await scalar(g.backend, sql`SELECT COUNT(*) FROM players`)), 14);
});

t.test('requests per client are limited before the body is read (renewals too)', async (t) => {
  const g = await rig(t, { requestsPerAddress: { burst: 5, perMinute: 1 } });
  const first = await post(g.own, 'R', { from: '203.0.113.9' });
  const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
  const statuses = [];
  for (let i = 0; i < 6; i++) statuses.push((await post(g.own, `R${i}`, { from: '203.0.113.9', cookie })).status);
  t.same(statuses, [200, 200, 200, 200, 429, 429], 'renames and renewals count as requests');
  t.equal((await post(g.own, 'other', { from: '203.0.113.10' })).status, 200);
});

storeTest('unused guest rows expire: not seen, not queued, no session; queued and connected guests stay; bounded steps', async (t, store) => {
  // (Long ready and grace windows: the queued guest must still be queued when the sweep runs, however loaded the machine.)
  const g = await rig(t, { expireAfterSeconds: 3, sweepBatch: 100, sweepIntervalSeconds: 3600 }, {
    tickets: { secret: 'test-ticket-secret-0123456789abcdef0123456789', ttlSeconds: 1, renewWindowSeconds: 0, maxChainSeconds: 60 },
    defaults: { readyWindowSeconds: 120, graceSeconds: 120, moveSeconds: 5, maxQueue: 50 },
  }, [M], store);
  const count = async () => Number(await scalar(g.backend, sql`SELECT COUNT(*) FROM players`));
  // Farmed rows, from long ago (as a flood leaves them): more than one sweep step.
  await g.backend.store.db.insertInto('players')
    .values(Array.from({ length: 1234 }, (_, i) => ({ authid: `pfarm${i}`, name: 'farm', createdAt: 1000, updatedAt: 1000 + i, address: '203.0.113.66' }))).execute();
  const queued = await guestFrom(g, '198.51.100.1', 'Queued');
  const connected = await guestFrom(g, '198.51.100.2', 'Connected');
  const gone = await guestFrom(g, '198.51.100.3', 'Gone');
  t.teardown(async () => { await queued.disconnect(); await connected.disconnect(); });
  await queued.call(Procedures.requestSlot, [M]);
  await gone.disconnect();
  await queued.disconnect(); // queued, but not connected: its entry keeps its row
  const fresh = await post(g.own, 'Fresh', { from: '198.51.100.4' });
  t.equal(fresh.status, 200);
  await sleep(3200);
  const recentAt = Date.now();
  const recent = await post(g.own, 'Recent', { from: '198.51.100.5' }); // seen just now
  t.equal(recent.status, 200);
  t.equal(await count(), 1234 + 5);
  const deleted = await g.backend.guests.sweeper.sweep();
  t.equal(deleted, 1234 + 2, 'the farmed rows, the gone guest and the fresh one (unused for 3 s)');
  const left = await column(g.backend, sql`SELECT name FROM players ORDER BY name`);
  t.same(left, ['Connected', 'Queued', 'Recent'], 'queued, connected and recently seen guests stay');
  // Nothing the first sweep should have deleted is left; on a loaded box 'Recent' itself may have
  // become 3 s old by now (the first sweep's 13 steps took that long), and only it may go then.
  const again = await g.backend.guests.sweeper.sweep();
  t.equal(again, Date.now() - recentAt >= 3000 ? again && 1 : 0, 'nothing left to sweep (but Recent, once 3 s old)');
});

storeTest('no sweep while the backend is not connected (presence unknown)', async (t, store) => {
  const g = await rig(t, { expireAfterSeconds: 3, sweepIntervalSeconds: 3600 }, { tickets: { secret: 'test-ticket-secret-0123456789abcdef0123456789', ttlSeconds: 1, renewWindowSeconds: 0, maxChainSeconds: 60 } }, [], store);
  await g.backend.store.db.insertInto('players').values({ authid: 'pold', name: 'old', createdAt: 1, updatedAt: 1, address: null }).execute();
  await g.r.stop();
  await eventually(async () => !g.backend.connected, 10_000, 'backend disconnected');
  t.equal(await g.backend.guests.sweeper.sweep(), 0);
  t.equal(Number(await scalar(g.backend, sql`SELECT COUNT(*) FROM players`)), 1);
});

storeTest('queue places per client address: a quota per machine, clear error, freed when a place is; several clients at once', async (t, store) => {
  const g = await rig(t, { queuePlacesPerAddress: 2 }, {}, [M, M2], store);
  const a = await Promise.all(['A1', 'A2', 'A3', 'A4'].map((n) => guestFrom(g, '203.0.113.7', n)));
  const b = await guestFrom(g, '198.51.100.8', 'B1');
  const signedElsewhere = await Player.withTicket(g.r, 'pnorow', 'NoRow'); // no guest row: no address, no quota
  const all = [...a, b, signedElsewhere];
  t.teardown(async () => { for (const p of all) await p.disconnect(); });
  // Four players behind one address ask at once: two places.
  const outcomes = await Promise.all(a.map((p) => errorOf(p.call(Procedures.requestSlot, [M]))));
  t.equal(outcomes.filter((o) => o === 'resolved').length, 2, `two join: ${outcomes.join(', ')}`);
  t.equal(outcomes.filter((o) => o === ClawErrors.quotaExceeded).length, 2, 'two get claw.error.quota_exceeded');
  t.equal(await errorOf(b.call(Procedures.requestSlot, [M])), 'resolved', 'another address joins');
  t.equal(await errorOf(signedElsewhere.call(Procedures.requestSlot, [M])), 'resolved', 'a player without a guest row is not counted');
  const refusedOne = a[outcomes.indexOf(ClawErrors.quotaExceeded)]!;
  const joinedOne = a[outcomes.indexOf('resolved')]!;
  t.equal(await errorOf(refusedOne.call(Procedures.requestSlot, [M2])), 'resolved', 'the quota is per machine');
  const why = await refusedOne.call(Procedures.requestSlot, [M]).then(() => undefined, (e: { error: string; args: string[] }) => e);
  t.match(why, { error: ClawErrors.quotaExceeded, args: [/your network already hold 2 places/] }, 'the message says why');
  t.equal(await errorOf(joinedOne.call(Procedures.requestSlot, [M])), 'resolved', 'a queued player asking again keeps their place (idempotent)');
  t.same((await g.backend.coordinator.queueGet(M, true)).waiting.length + ((await g.backend.coordinator.queueGet(M, true)).current ? 1 : 0), 4);
  await joinedOne.call(Procedures.leave, [M]);
  t.equal(await errorOf(refusedOne.call(Procedures.requestSlot, [M])), 'resolved', 'a freed place can be taken');
});

t.test('the backend\'s own listener: a slow POST body is cut off; idle connections are closed; the connection cap holds', async (t) => {
  const net = await import('node:net');
  const g = await rig(t, {}, { http: { port: 0, requestTimeoutMs: 1000, headersTimeoutMs: 1000, idleTimeoutMs: 1500, maxConnections: 5 } } as Partial<BackendConfigInput>);
  const port = g.backend.httpPort!;
  const connect = () => new Promise<import('node:net').Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const closedWithin = (s: import('node:net').Socket, ms: number) => new Promise<{ closed: boolean; after: number; data: string }>((resolve) => {
    const start = Date.now();
    let data = '';
    s.on('data', (d) => { data += d.toString(); });
    s.on('error', () => {});
    const timer = setTimeout(() => resolve({ closed: false, after: Date.now() - start, data }), ms);
    s.once('close', () => { clearTimeout(timer); resolve({ closed: true, after: Date.now() - start, data }); });
  });

  // A body trickling in one byte every 200 ms: each byte resets any idle timer, the request timeout still ends it.
  const slow = await connect();
  slow.write('POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{');
  const drip = setInterval(() => { if (!slow.destroyed) slow.write(' '); }, 200);
  const cut = await closedWithin(slow, 8000);
  clearInterval(drip);
  t.ok(cut.closed && cut.after < 4000, `the slow body was cut off (after ${cut.after} ms; timeout 1000 ms, checked every 250 ms)`);
  t.match(cut.data, /^HTTP\/1\.1 408/, 'with 408 Request Timeout');

  // A connection that sends nothing.
  const silent = await connect();
  const idle = await closedWithin(silent, 8000);
  t.ok(idle.closed && idle.after < 4000, `an idle connection was closed (after ${idle.after} ms)`);

  // The cap: five connections held open (each trickling headers), the sixth is closed at once.
  const held = await Promise.all(Array.from({ length: 5 }, () => connect()));
  for (const s of held) { s.on('error', () => {}); s.write('POST /api/session HTTP/1.1\r\n'); }
  const keep = setInterval(() => { for (const s of held) if (!s.destroyed) s.write('X-A: b\r\n'); }, 100);
  await sleep(100);
  const extra = await connect();
  const refused = await closedWithin(extra, 3000);
  t.ok(refused.closed && refused.after < 900, `the sixth connection was closed at once (${refused.after} ms)`);
  clearInterval(keep);
  for (const s of held) s.destroy();
  await sleep(200);
  const res = await post(g.own, 'After', { from: '203.0.113.20' });
  t.equal(res.status, 200, 'once they are gone, requests are served again');
});
