// POST /api/session {name} → {authid, ticket, expiresAt, name}: a signed,
// expiring guest ticket for the `player` role (the router checks it with the
// shared secret, no database lookup per connect), also set as an HttpOnly
// cookie so a reloaded page gets the same authid back and keeps its place.
// One SQLite write per call: the display name, so queue snapshots show it.
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { signTicket, verifyTicket } from '@clawgate/router';
import { Roles, SessionRequest, isUriComponent, type SessionAnswer } from '@clawgate/protocol';
import type { BackendConfig } from '../config.js';
import type { Repository } from '../db/repository.js';
import type { Logger } from '../logger.js';

export const SESSION_PATH = '/api/session';

export interface SessionRouteOptions {
  tickets: BackendConfig['tickets'];
  repo: Repository;
  log: Logger;
  now?: () => number;
}

/** A new player authid: `p` and 20 base-32 characters (100 bits), a valid URI component. */
export function newAuthid(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(20);
  let s = 'p';
  for (const b of bytes) s += alphabet[b & 31];
  return s;
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try { return decodeURIComponent(part.slice(eq + 1).trim()); } catch { return undefined; }
    }
  }
  return undefined;
}

/**
 * The authid a cookie ticket proves: validly signed, for the player role, and
 * expired no longer than the renew window ago (a page open overnight keeps
 * its identity).
 */
export function authidFromCookie(ticket: string | undefined, o: { secret: string; renewWindowSeconds: number }, now: number): string | undefined {
  if (!ticket) return undefined;
  const check = verifyTicket(ticket, o.secret, now - o.renewWindowSeconds * 1000);
  if (!check.ok || check.claims.authrole !== Roles.player || !isUriComponent(check.claims.authid)) return undefined;
  return check.claims.authid;
}

export function sessionRouter(o: SessionRouteOptions): Router {
  const now = o.now ?? Date.now;
  const router = express.Router();
  router.post(SESSION_PATH, express.json({ limit: '2kb' }), (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    const parsed = SessionRequest.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_name', message: 'name must be 1–24 printable characters' });
      return;
    }
    const t = now();
    const name = parsed.data.name.trim();
    const authid = authidFromCookie(cookieValue(req.headers.cookie, o.tickets.cookieName), o.tickets, t) ?? newAuthid();
    const expiresAt = t + o.tickets.ttlSeconds * 1000;
    const ticket = signTicket({ authid, authrole: Roles.player, expiresAt }, o.tickets.secret);
    try {
      o.repo.upsertPlayer(authid, name, t);
    } catch (e) {
      o.log.error({ err: (e as Error).message }, 'storing the player name failed');
      res.status(503).json({ error: 'unavailable', message: 'try again' });
      return;
    }
    const secure = o.tickets.cookieSecure === 'auto' ? req.secure : o.tickets.cookieSecure;
    res.cookie(o.tickets.cookieName, ticket, {
      httpOnly: true,
      sameSite: 'strict',
      secure,
      path: '/api/',
      // The cookie outlives the ticket by the renew window, so a reload after expiry still keeps the authid.
      maxAge: (o.tickets.ttlSeconds + o.tickets.renewWindowSeconds) * 1000,
    });
    const answer: SessionAnswer = { authid, ticket, expiresAt, name };
    res.json(answer);
  });
  // Malformed JSON bodies: a 400 that says so, not express's HTML page.
  router.use(SESSION_PATH, (err: unknown, _req: Request, res: Response, next: (e?: unknown) => void) => {
    if (err && (err as { type?: string }).type === 'entity.parse.failed') { res.status(400).json({ error: 'invalid_json', message: 'body must be JSON {"name": ...}' }); return; }
    if (err && (err as { type?: string }).type === 'entity.too.large') { res.status(413).json({ error: 'too_large', message: 'body too large' }); return; }
    next(err);
  });
  return router;
}
