// POST /api/session {name} → {authid, ticket, expiresAt, name, renewableUntil}:
// a signed, expiring guest ticket for the `player` role (the router checks it
// with the shared secret, no database lookup per connect), also set as an
// HttpOnly cookie so a reloaded page gets the same authid back and keeps its
// place. One database write per call: the display name (and, for a new guest,
// the client address it was minted from), so queue snapshots show the name
// and queue quotas know the address.
//
// Identity lifetime: a cookie ticket renews to the same authid only while it
// is valid or expired at most tickets.renewWindowSeconds ago, and only until
// tickets.maxChainSeconds after the first ticket of its chain (the chain's
// start travels in the ticket). Otherwise the request mints a new guest,
// which is rate-limited per client address (GuestGate).
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { clientOfRequest, signTicket, verifyTicket } from '@clawgate/router';
import { Roles, SessionErrors, SessionRequest, isUriComponent, nameProblem, type SessionAnswer } from '@clawgate/protocol';
import { guestDefaults, type BackendConfig } from '../config.js';
import type { Repository } from '../db/repository.js';
import { clientKey } from '../guests/client-key.js';
import { GuestGate } from '../guests/guest-gate.js';
import { LogThrottle, type Logger } from '../logger.js';

export const SESSION_PATH = '/api/session';

export interface SessionRouteOptions {
  tickets: BackendConfig['tickets'];
  repo: Repository;
  log: Logger;
  now?: () => number;
  /** Request and guest-minting limits; share one gate between every route of one backend. Default: a gate with guestDefaults(). */
  gate?: GuestGate;
  /**
   * The client's address. Default: `clientOfRequest` of @clawgate/router, right
   * when the route is mounted on the router's app (the forwarded client behind
   * the listener's trusted proxies). The backend's own listener passes its own.
   */
  clientOf?: (req: Request) => string | undefined;
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

export interface RenewRules {
  secret: string;
  /** A ticket that expired at most this long ago still renews (grace). */
  renewWindowSeconds: number;
  /** A chain of renewals ends this long after it began. Absent: no chain limit (pure checks only). */
  maxChainSeconds?: number;
  /** Used to date the chain of a ticket issued before tickets carried their chain's start. */
  ttlSeconds?: number;
}

export interface Renewal {
  authid: string;
  /** When the chain began (ms); a renewed ticket carries it on. */
  chainStartedAt: number;
  /** The chain's end: no ticket of this identity expires later. */
  chainEndsAt: number;
}

/**
 * What a cookie ticket may renew into: validly signed, for the player role,
 * still valid or expired at most the grace ago, and its chain not over.
 * A ticket without the chain claim (issued before it existed) is taken to
 * have started its chain when it was issued (expiry − ttl).
 */
export function renewalOf(ticket: string | undefined, o: RenewRules, now: number): Renewal | undefined {
  if (!ticket) return undefined;
  const check = verifyTicket(ticket, o.secret, now - o.renewWindowSeconds * 1000);
  if (!check.ok || check.claims.authrole !== Roles.player || !isUriComponent(check.claims.authid)) return undefined;
  const chainStartedAt = check.claims.chainStartedAt ?? check.claims.expiresAt - (o.ttlSeconds ?? 0) * 1000;
  const chainEndsAt = o.maxChainSeconds === undefined ? Infinity : chainStartedAt + o.maxChainSeconds * 1000;
  if (chainEndsAt <= now) return undefined;
  return { authid: check.claims.authid, chainStartedAt, chainEndsAt };
}

/** The authid a cookie ticket renews to (renewalOf's authid). */
export function authidFromCookie(ticket: string | undefined, o: RenewRules, now: number): string | undefined {
  return renewalOf(ticket, o, now)?.authid;
}

export function sessionRouter(o: SessionRouteOptions): Router {
  const now = o.now ?? Date.now;
  const gate = o.gate ?? new GuestGate(guestDefaults());
  const clientOf = o.clientOf ?? ((req: Request) => clientOfRequest(req).address);
  const refusals = new LogThrottle(10_000);
  const router = express.Router();
  const refuse = (res: Response, client: string, what: 'requests' | 'guests', retryAfterMs: number, t: number) => {
    refusals.maybe(t, (suppressed) => o.log.warn({ client, what, suppressed }, 'POST /api/session refused: rate limit'));
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    res.set('Retry-After', String(seconds)).status(429).json({
      error: SessionErrors.rateLimited,
      message: what === 'guests' ? `too many new players from your address; retry in ${seconds} s` : `too many requests from your address; retry in ${seconds} s`,
    });
  };
  // Before the body is read: a client over its request rate costs us no body.
  const admit = (req: Request, res: Response, next: () => void) => {
    const t = now();
    const client = clientKey(clientOf(req));
    res.locals.client = client;
    const v = gate.request(client, t);
    if (v.ok) { next(); return; }
    // The body is left unread: close the connection rather than wade through it for the next request.
    res.set({ 'Cache-Control': 'no-store', Connection: 'close' });
    refuse(res, client, 'requests', v.retryAfterMs, t);
  };
  router.post(SESSION_PATH, admit, express.json({ limit: '2kb' }), async (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    const parsed = SessionRequest.safeParse(req.body);
    if (!parsed.success) {
      // The exact reason ("the name is 25 characters long (at most 24)", "… a control character …").
      const name = (req.body as { name?: unknown } | undefined)?.name;
      res.status(400).json({ error: SessionErrors.invalidName, message: name === undefined ? 'a name is required' : nameProblem(name) ?? 'invalid name' });
      return;
    }
    const t = now();
    const client = res.locals.client as string;
    const renewal = renewalOf(cookieValue(req.headers.cookie, o.tickets.cookieName), o.tickets, t);
    if (renewal === undefined) {
      const v = gate.mint(client, t);
      if (!v.ok) { refuse(res, client, 'guests', v.retryAfterMs, t); return; }
    }
    const name = parsed.data.name.trim();
    const authid = renewal?.authid ?? newAuthid();
    const chainStartedAt = renewal?.chainStartedAt ?? t;
    const renewableUntil = renewal?.chainEndsAt ?? t + o.tickets.maxChainSeconds * 1000;
    const expiresAt = Math.min(t + o.tickets.ttlSeconds * 1000, renewableUntil);
    const ticket = signTicket({ authid, authrole: Roles.player, expiresAt, chainStartedAt }, o.tickets.secret);
    try {
      await o.repo.upsertPlayer(authid, name, t, client);
    } catch (e) {
      o.log.error({ err: (e as Error).message }, 'storing the player name failed');
      res.status(503).json({ error: SessionErrors.unavailable, message: 'try again' });
      return;
    }
    const secure = o.tickets.cookieSecure === 'auto' ? req.secure : o.tickets.cookieSecure;
    res.cookie(o.tickets.cookieName, ticket, {
      httpOnly: true,
      sameSite: 'strict',
      secure,
      path: '/api/',
      // The cookie outlives its ticket by the grace, so a reload shortly after expiry still keeps the authid.
      maxAge: expiresAt - t + o.tickets.renewWindowSeconds * 1000,
    });
    const answer: SessionAnswer = { authid, ticket, expiresAt, name, renewableUntil };
    res.json(answer);
  });
  // Malformed JSON bodies: a 400 that says so, not express's HTML page.
  router.use(SESSION_PATH, (err: unknown, _req: Request, res: Response, next: (e?: unknown) => void) => {
    const type = (err as { type?: string } | undefined)?.type;
    if (type === 'entity.parse.failed') { res.status(400).json({ error: SessionErrors.invalidJson, message: 'body must be JSON {"name": ...}' }); return; }
    if (type === 'entity.too.large') { res.status(413).json({ error: SessionErrors.tooLarge, message: 'body too large' }); return; }
    // The client went away (or the listener's request timeout cut it off) before its body was complete:
    // nobody to answer, and nothing worth a log line per occurrence.
    if (type === 'request.aborted') { if (!res.headersSent) res.destroy(); return; }
    next(err);
  });
  return router;
}
