// POST /api/session: signed player tickets the router accepts, cookie renewal.
import t from 'tap';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { signTicket, verifyTicket } from '@clawgate/router';
import { Procedures } from '@clawgate/protocol';
import { openDatabase } from '../src/db/database.js';
import { Repository } from '../src/db/repository.js';
import { authidFromCookie, cookieValue, newAuthid, sessionRouter } from '../src/http/session-route.js';
import { silentLogger } from '../src/logger.js';
import { Player, SECRETS, open, setup, tempDir } from './helpers.js';

const tickets = { secret: SECRETS.ticket, ttlSeconds: 60, renewWindowSeconds: 3600, cookieName: 'clawgate_ticket', cookieSecure: 'auto' as const };

async function serve(t: { teardown(fn: () => unknown): void }) {
  const db = openDatabase(join(tempDir(t), 'q.sqlite'));
  const app = express();
  app.use(sessionRouter({ tickets, repo: new Repository(db), log: silentLogger() }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.teardown(() => { server.close(); db.close(); });
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
  t.same(db.prepare('SELECT name FROM players WHERE authid = ?').pluck().get(body.authid), 'Zoë 🎯');

  const again = await post({ name: 'Zoe' }, cookie.split(';')[0]);
  const b2 = await again.json() as { authid: string; ticket: string };
  t.equal(b2.authid, body.authid, 'the cookie keeps the authid');
  t.same(db.prepare('SELECT name FROM players WHERE authid = ?').pluck().get(body.authid), 'Zoe', 'a new name replaces the old');
});

t.test('bad requests', async (t) => {
  const { post } = await serve(t);
  for (const bad of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(25) }, { name: 'a\u0007b' }, { name: 7 }]) {
    const res = await post(bad);
    t.equal(res.status, 400, JSON.stringify(bad));
    t.match(await res.json(), { error: 'invalid_name' });
  }
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
