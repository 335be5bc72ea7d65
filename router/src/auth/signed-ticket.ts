// Signed, expiring tickets: a web app that shares the router's secret can
// hand a browser a credential the router checks without a database lookup.
//
// Format: `cg1.<payload>.<mac>`, where payload is base64url(JSON {authid,
// authrole, exp, chain?}) with exp in ms since the epoch, and mac is
// base64url(HMAC-SHA256(secret, "cg1." + payload)). The version prefix lets
// the format change without old tickets being misread.
//
// `chain` (optional, ms since the epoch) is when the identity's first ticket
// was issued: an issuer that renews tickets uses it to end a chain of
// renewals after a maximum age. The router checks only the MAC and `exp`;
// tickets without `chain` (issued before it existed) verify as before.
import { createHmac, timingSafeEqual } from 'node:crypto';

const VERSION = 'cg1';

export interface TicketClaims {
  authid: string;
  authrole: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
  /** When the chain of renewals this ticket belongs to began, ms since the epoch (optional). */
  chainStartedAt?: number;
}

export type TicketCheck =
  | { ok: true; claims: TicketClaims }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

function mac(secret: string | Buffer, signed: string): Buffer {
  return createHmac('sha256', secret).update(signed).digest();
}

/** Issues a ticket for these claims. */
export function signTicket(claims: TicketClaims, secret: string | Buffer): string {
  const body: Record<string, unknown> = { authid: claims.authid, authrole: claims.authrole, exp: claims.expiresAt };
  if (claims.chainStartedAt !== undefined) body.chain = claims.chainStartedAt;
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  const signed = `${VERSION}.${payload}`;
  return `${signed}.${mac(secret, signed).toString('base64url')}`;
}

/** Checks a ticket's MAC (in constant time) and expiry; never throws. */
export function verifyTicket(ticket: string, secret: string | Buffer, now: number = Date.now()): TicketCheck {
  if (typeof ticket !== 'string' || ticket.length > 4096) return { ok: false, reason: 'malformed' };
  const parts = ticket.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(parts[2]!, 'base64url');
  const expected = mac(secret, `${parts[0]}.${parts[1]}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  let body: unknown;
  try { body = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')); } catch { return { ok: false, reason: 'malformed' }; }
  if (typeof body !== 'object' || body === null) return { ok: false, reason: 'malformed' };
  const { authid, authrole, exp, chain } = body as Record<string, unknown>;
  if (typeof authid !== 'string' || typeof authrole !== 'string' || typeof exp !== 'number') return { ok: false, reason: 'malformed' };
  if (chain !== undefined && (typeof chain !== 'number' || !Number.isFinite(chain))) return { ok: false, reason: 'malformed' };
  if (exp <= now) return { ok: false, reason: 'expired' };
  const claims: TicketClaims = { authid, authrole, expiresAt: exp };
  if (chain !== undefined) claims.chainStartedAt = chain;
  return { ok: true, claims };
}
