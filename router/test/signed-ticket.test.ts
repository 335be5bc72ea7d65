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

t.test('the optional chain claim: signed, verified, returned; old tickets without it verify unchanged', async (t) => {
  const claims = { authid: 'p_abc', authrole: 'player', expiresAt: 2_000_000, chainStartedAt: 900_000 };
  const ticket = signTicket(claims, 'secret');
  t.strictSame(verifyTicket(ticket, 'secret', 1_000_000), { ok: true, claims });
  t.strictSame(verifyTicket(ticket, 'secret', 2_000_000), { ok: false, reason: 'expired' }, 'the chain does not change expiry');
  const [v, , mac] = ticket.split('.');
  const extended = Buffer.from(JSON.stringify({ authid: 'p_abc', authrole: 'player', exp: 2_000_000, chain: 1_900_000 })).toString('base64url');
  t.strictSame(verifyTicket(`${v}.${extended}.${mac}`, 'secret', 1_000_000), { ok: false, reason: 'bad_signature' }, 'the chain start cannot be moved');

  // A ticket in the format before `chain` existed, built byte for byte as the old signTicket did.
  const { createHmac } = await import('node:crypto');
  const oldPayload = Buffer.from(JSON.stringify({ authid: 'p_old', authrole: 'player', exp: 2_000_000 })).toString('base64url');
  const oldMac = createHmac('sha256', 'secret').update(`cg1.${oldPayload}`).digest('base64url');
  const old = `cg1.${oldPayload}.${oldMac}`;
  t.strictSame(verifyTicket(old, 'secret', 1_000_000), { ok: true, claims: { authid: 'p_old', authrole: 'player', expiresAt: 2_000_000 } });
  t.equal(signTicket({ authid: 'p_old', authrole: 'player', expiresAt: 2_000_000 }, 'secret'), old, 'without chainStartedAt signTicket still writes the old format');

  const badChain = Buffer.from(JSON.stringify({ authid: 'p', authrole: 'player', exp: 2_000_000, chain: 'yesterday' })).toString('base64url');
  const badMac = createHmac('sha256', 'secret').update(`cg1.${badChain}`).digest('base64url');
  t.strictSame(verifyTicket(`cg1.${badChain}.${badMac}`, 'secret', 1_000_000), { ok: false, reason: 'malformed' }, 'a chain that is not a number is malformed');
});
