// POST /api/session: signed player tickets the router accepts, cookie renewal.
import t from 'tap';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { signTicket, verifyTicket } from '@clawgate/router';
import { Procedures } from '@clawgate/protocol';
import { sql } from 'kysely';
import { Repository } from '../src/db/repository.js';
import { openStore } from '../src/db/store.js';
import { authidFromCookie, cookieValue, newAuthid, renewalOf, sessionRouter } from '../src/http/session-route.js';
import { silentLogger } from '../src/logger.js';
import { Player, SECRETS, open, scalar, setup, tempDir } from './helpers.js';

type Answer = { authid: string; ticket: string; expiresAt: number; name: string; renewableUntil: number };
const cookieOf = (res: Response) => res.headers.get('set-cookie')!.split(';')[0]!;

const tickets = { secret: SECRETS.ticket, ttlSeconds: 60, renewWindowSeconds: 3600, maxChainSeconds: 86_400, cookieName: 'clawgate_ticket', cookieSecure: 'auto' as const };

async function serve(t: { teardown(fn: () => unknown): void }, o: { tickets?: typeof tickets; now?: () => number } = {}) {
  const store = await openStore({ kind: 'sqlite', path: join(tempDir(t), 'q.sqlite') }, silentLogger());
  const db = { store };
  const app = express();
  app.use(sessionRouter({ tickets: o.tickets ?? tickets, repo: new Repository(store.db, store.dialect), log: silentLogger(), ...(o.now ? { now: o.now } : {}) }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.teardown(async () => { server.close(); await store.close(); });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = (body: unknown, cookie?: string) => fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { db, post };
}

t.test('a new session: ticket, HttpOnly cookie, name stored', async (t) => {
  const { post, db } = await serve(t);
  const res = await post({ name: 'Zoë 🎯' });
  t.equal(res.status, 200);
  const body = await res.json() as { authid: string; ticket: string; expiresAt: number; name: string };
  t.match(body.authid, /^p[a-z2-7]{20}$/);
  t.equal(body.name, 'Zoë 🎯');
  const check = verifyTicket(body.ticket, SECRETS.ticket);
  t.ok(check.ok && check.claims.authid === body.authid && check.claims.authrole === 'player', 'signed for the player role');
  t.ok(body.expiresAt > Date.now() + 50_000 && body.expiresAt <= Date.now() + 60_000);
  const cookie = res.headers.get('set-cookie')!;
  t.match(cookie, /^clawgate_ticket=/);
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Strict/);
  t.equal(res.headers.get('cache-control'), 'no-store');
  t.same(await scalar(db, sql`SELECT name FROM players WHERE authid = ${body.authid}`), 'Zoë 🎯');

  const again = await post({ name: 'Zoe' }, cookie.split(';')[0]);
  const b2 = await again.json() as { authid: string; ticket: string };
  t.equal(b2.authid, body.authid, 'the cookie keeps the authid');
  t.same(await scalar(db, sql`SELECT name FROM players WHERE authid = ${body.authid}`), 'Zoe', 'a new name replaces the old');
});

t.test('bad requests', async (t) => {
  const { post } = await serve(t);
  for (const bad of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(25) }, { name: 'a\u0007b' }, { name: 7 }]) {
    const res = await post(bad);
    t.equal(res.status, 400, JSON.stringify(bad));
    t.match(await res.json(), { error: 'invalid_name' });
  }
  // Issue 14: the answer says exactly why; a family emoji (zero width joiners) is one character and welcome.
  t.match(await (await post({ name: 'x'.repeat(25) })).json(), { message: 'the name is 25 characters long (at most 24)' });
  t.match(await (await post({ name: 'a\u202Eb' })).json(), { message: /invisible formatting character \(U\+202E\)/ });
  t.match(await (await post({})).json(), { message: 'a name is required' });
  const family = await post({ name: '👩‍👩‍👧'.repeat(24) });
  t.equal(family.status, 200, '24 family emoji are 24 characters');
  t.equal((await family.json() as { name: string }).name, '👩‍👩‍👧'.repeat(24));
  const broken = await post('{nope');
  t.equal(broken.status, 400);
  t.match(await broken.json(), { error: 'invalid_json' });
  const forged = await post({ name: 'Eve' }, `clawgate_ticket=${signTicket({ authid: 'victim', authrole: 'player', expiresAt: Date.now() + 60_000 }, 'another secret')}`);
  t.not((await forged.json() as { authid: string }).authid, 'victim', 'a cookie signed with another secret is ignored');
});

t.test('cookie renewal rules (pure)', async (t) => {
  const now = 1_000_000_000;
  const o = { secret: 's', renewWindowSeconds: 100 };
  const tk = (authid: string, authrole: string, expiresAt: number) => signTicket({ authid, authrole, expiresAt }, 's');
  t.equal(authidFromCookie(tk('pabc', 'player', now + 1), o, now), 'pabc');
  t.equal(authidFromCookie(tk('pabc', 'player', now - 50_000), o, now), 'pabc', 'recently expired: renewed');
  t.equal(authidFromCookie(tk('pabc', 'player', now - 200_000), o, now), undefined, 'expired too long ago');
  t.equal(authidFromCookie(tk('pabc', 'operator', now + 1), o, now), undefined, 'only player tickets');
  t.equal(authidFromCookie(tk('a.b', 'player', now + 1), o, now), undefined, 'only valid URI components');
  t.equal(cookieValue('a=1; clawgate_ticket=x%2Ey; b=2', 'clawgate_ticket'), 'x.y');
  t.not(newAuthid(), newAuthid());
});

t.test('the ticket logs into the real router as a player; the router discloses the caller', async (t) => {
  const { r } = await setup(t, ['claw-1']);
  const p = await Player.join(r, 'Real');
  t.match(await p.call(Procedures.requestSlot, ['claw-1']), { machine: 'claw-1', position: 0 });
  const expired = signTicket({ authid: 'pold', authrole: 'player', expiresAt: Date.now() - 1 }, SECRETS.ticket);
  await t.rejects(open(r.url, { authmethods: ['ticket'], authid: 'pold', onchallenge: () => expired }), /authentication_failed/, 'an expired ticket is refused by the router');
});

t.test('renewal rules (pure): grace after expiry, chain maximum age, old tickets without a chain', async (t) => {
  const now = 1_000_000_000;
  const o = { secret: 's', renewWindowSeconds: 100, maxChainSeconds: 1000, ttlSeconds: 60 };
  const tk = (expiresAt: number, chainStartedAt?: number) => signTicket({ authid: 'pabc', authrole: 'player', expiresAt, ...(chainStartedAt !== undefined ? { chainStartedAt } : {}) }, 's');
  t.same(renewalOf(tk(now + 1, now - 10_000), o, now), { authid: 'pabc', chainStartedAt: now - 10_000, chainEndsAt: now + 990_000 }, 'valid: renewed, the chain carried on');
  t.ok(renewalOf(tk(now - 99_000, now - 500_000), o, now), 'expired within the grace');
  t.equal(renewalOf(tk(now - 101_000, now - 500_000), o, now), undefined, 'expired past the grace: not renewed');
  t.equal(renewalOf(tk(now + 30_000, now - 1_000_000), o, now), undefined, 'the chain reached its maximum age, although the ticket is valid');
  t.ok(renewalOf(tk(now + 30_000, now - 999_999), o, now), 'a millisecond before the chain ends');
  t.same(renewalOf(tk(now + 30_000), o, now), { authid: 'pabc', chainStartedAt: now - 30_000, chainEndsAt: now + 970_000 }, 'a ticket without the chain claim: its chain began when it was issued (expiry − ttl)');
  t.equal(renewalOf(tk(now + 30_000), { ...o, ttlSeconds: 2000 }, now), undefined, 'so an old long ticket cannot outlive the chain limit either');
});

t.test('renewal over HTTP: within the grace the same authid; past it, or past the chain\'s age, a new identity', async (t) => {
  let clock = Date.now();
  const short = { ...tickets, ttlSeconds: 60, renewWindowSeconds: 30, maxChainSeconds: 300 };
  const { post } = await serve(t, { tickets: short, now: () => clock });
  const first = await post({ name: 'Ann' });
  const a = await first.json() as Answer;
  const chainEnd = clock + 300_000;
  t.equal(a.renewableUntil, chainEnd, 'the answer says until when this identity renews');
  t.equal(a.expiresAt, clock + 60_000);
  t.match(verifyTicket(a.ticket, SECRETS.ticket, clock), { ok: true, claims: { chainStartedAt: clock } }, 'the ticket carries its chain\'s start');
  t.match(first.headers.get('set-cookie')!, /Max-Age=90/, 'the cookie lives for the ticket plus the grace');

  clock += 60_000 + 20_000; // expired 20 s ago: within the 30 s grace
  const second = await post({ name: 'Ann' }, cookieOf(first));
  const b = await second.json() as Answer;
  t.equal(b.authid, a.authid, 'renewed within the grace');
  t.equal(b.renewableUntil, chainEnd, 'the same chain');
  clock += 60_000 + 31_000; // expired 31 s ago
  const third = await (await post({ name: 'Ann' }, cookieOf(second))).json() as Answer;
  t.not(third.authid, a.authid, 'past the grace: a new identity');
  t.equal(third.renewableUntil, clock + 300_000, 'with a new chain');

  // Renewed on time, again and again: the chain still ends 300 s after it began.
  let cookie = cookieOf(await post({ name: 'Bo' }));
  const bo = (await (await post({ name: 'Bo' }, cookie)).json() as Answer);
  let last = bo;
  for (let i = 0; i < 20; i++) {
    clock += 50_000;
    const res = await post({ name: 'Bo' }, cookie);
    const ans = await res.json() as Answer;
    if (ans.authid !== bo.authid) { last = ans; break; }
    t.ok(ans.expiresAt <= bo.renewableUntil, `renewal ${i + 1}: no ticket of the chain expires after its end`);
    cookie = cookieOf(res);
    last = ans;
  }
  t.not(last.authid, bo.authid, 'the chain ended: a new identity');
  t.ok(clock >= bo.renewableUntil && clock < bo.renewableUntil + 50_000, 'right when the chain reached its maximum age');
});

t.test('the router accepts tickets with the chain claim and old ones without; an old cookie renews', async (t) => {
  const { r } = await setup(t, ['claw-1']);
  const p = await Player.join(r, 'New'); // its ticket carries the chain claim
  t.ok(p.connected);
  const old = signTicket({ authid: 'pold1', authrole: 'player', expiresAt: Date.now() + 60_000 }, SECRETS.ticket); // the old format
  const c = await open(r.url, { authmethods: ['ticket'], authid: 'pold1', onchallenge: () => old });
  t.ok(c.session.isOpen, 'an old-format ticket logs in');
  await c.close();
  const res = await fetch(`${r.http}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: `clawgate_ticket=${old}` }, body: JSON.stringify({ name: 'Old' }) });
  const renewed = await res.json() as Answer;
  t.equal(renewed.authid, 'pold1', 'an old-format cookie renews to the same authid');
  t.match(verifyTicket(renewed.ticket, SECRETS.ticket), { ok: true, claims: { authid: 'pold1' } });
});
