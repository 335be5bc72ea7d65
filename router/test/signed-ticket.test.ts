// Signed tickets: what the backend issues, the router must accept until
// expiry, and refuse when tampered with, expired or signed with another key.
import t from 'tap';
import { signTicket, verifyTicket } from '../src/index.js';

t.test('round trip, expiry, tampering, wrong key', async (t) => {
  const claims = { authid: 'p_abc', authrole: 'player', expiresAt: 2_000_000 };
  const ticket = signTicket(claims, 'secret');
  t.strictSame(verifyTicket(ticket, 'secret', 1_000_000), { ok: true, claims });
  t.strictSame(verifyTicket(ticket, 'secret', 2_000_000), { ok: false, reason: 'expired' });
  t.strictSame(verifyTicket(ticket, 'other', 1_000_000), { ok: false, reason: 'bad_signature' });
  const [v, payload, mac] = ticket.split('.');
  const forged = Buffer.from(JSON.stringify({ authid: 'p_abc', authrole: 'operator', exp: 2_000_000 })).toString('base64url');
  t.strictSame(verifyTicket(`${v}.${forged}.${mac}`, 'secret', 1_000_000), { ok: false, reason: 'bad_signature' }, 'role cannot be changed');
  t.strictSame(verifyTicket(`${v}.${payload}`, 'secret', 1_000_000), { ok: false, reason: 'malformed' });
  t.strictSame(verifyTicket(`cg0.${payload}.${mac}`, 'secret', 1_000_000), { ok: false, reason: 'malformed' });
  t.strictSame(verifyTicket('', 'secret'), { ok: false, reason: 'malformed' });
  t.strictSame(verifyTicket('x'.repeat(5000), 'secret'), { ok: false, reason: 'malformed' });
});
