// WAMP-Ticket: the client sends a shared secret (its ticket) in AUTHENTICATE.
// Static principals, a dynamic authenticator, and ClawGate's signed expiring
// tickets (auth/signed-ticket.ts), which need no lookup at all.
//
// A ticket is checked only at login: a session outlives its ticket's expiry.
import { WampErrors } from '../errors.js';
import type { TicketAuth } from './auth-policy.js';
import {
  admit, askAuthenticator, authFailed, authenticatorDetails, own, refuse, safeEqual,
  type AuthContext, type HelloClaims, type MaybePromise, type Outcome, type Step,
} from './authentication.js';
import { verifyTicket } from './signed-ticket.js';

const INVALID = 'invalid ticket';

export function ticketHello(cfg: TicketAuth, claims: HelloClaims, ctx: AuthContext): Step {
  // Always challenge: whether the authid exists is only decided after the
  // ticket arrives, and the answer is the same either way.
  return { challenge: { authmethod: 'ticket', extra: {} }, verify: (ticket) => checkTicket(cfg, claims, ctx, ticket) };
}

function checkTicket(cfg: TicketAuth, claims: HelloClaims, ctx: AuthContext, ticket: string): MaybePromise<Outcome> {
  if (cfg.signed !== undefined) {
    const check = verifyTicket(ticket, cfg.signed.secret, ctx.now());
    // 'malformed' means "not a signed ticket": it may still be a static or dynamic one.
    if (check.ok || check.reason !== 'malformed') {
      if (!check.ok) {
        return check.reason === 'expired'
          ? authFailed('ticket expired', 'signed ticket expired')
          : authFailed(INVALID, 'signed ticket with a bad signature');
      }
      const { authid, authrole } = check.claims;
      // The claims are the identity; a client that also named itself must have named the same one.
      if (claims.authid !== undefined && claims.authid !== authid) {
        return authFailed('ticket was not issued for this authid', `HELLO.authid "${claims.authid}" differs from the signed ticket's authid "${authid}"`);
      }
      if (cfg.signed.roles !== undefined && !cfg.signed.roles.includes(authrole)) {
        return refuse(WampErrors.notAuthorized, `signed tickets may not claim role "${authrole}" here`, `signed ticket for "${authid}" claims role "${authrole}"`);
      }
      return admit(ctx, { role: authrole, extra: { expires_at: check.claims.expiresAt } }, authid, 'ticket', 'signed');
    }
  }

  if (cfg.type === 'static') {
    const p = own(cfg.principals, claims.authid);
    // Compare against something even when the authid is unknown, so the time taken doesn't tell.
    const match = safeEqual(ticket, p?.ticket ?? '\u0000no principal\u0000');
    if (p === undefined || !match) return authFailed(INVALID, p === undefined ? `unknown authid "${claims.authid ?? '(none)'}"` : `wrong ticket for "${claims.authid}"`);
    return admit(ctx, p, claims.authid!, 'ticket', 'static');
  }

  return (async (): Promise<Outcome> => {
    const a = await askAuthenticator(cfg, ctx, [ctx.realm, claims.authid ?? null, authenticatorDetails(ctx, 'ticket', claims, { ticket })]);
    if ('refuse' in a) return a;
    const r = a.principal;
    const authid = r.authid ?? claims.authid;
    if (authid === undefined) return authFailed(INVALID, 'authenticator accepted the ticket but no authid was given or returned');
    return admit(ctx, r, authid, 'ticket', 'dynamic');
  })();
}
