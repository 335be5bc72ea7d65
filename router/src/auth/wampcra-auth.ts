// WAMP-CRA: the router sends a challenge (a JSON string), the client answers
// with base64(HMAC-SHA256(secret, challenge)). For a salted user the secret
// is the PBKDF2-derived key; CHALLENGE.Extra carries salt, iterations and
// keylen so the client can derive the same key from its password (autobahn's
// auth_cra.derive_key).
import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { WampCraAuth } from './auth-policy.js';
import {
  admit, askAuthenticator, authFailed, authenticatorDetails, own, safeEqual,
  type AuthContext, type HelloClaims, type MaybePromise, type Outcome, type Step,
} from './authentication.js';

const INVALID = 'WAMP-CRA signature is invalid';

export interface CraCredentials {
  secret: string;
  role: string;
  salt?: string;
  iterations?: number;
  keylen?: number;
  realm?: string;
  extra?: Record<string, unknown>;
}

/** The signature a client with `secret` computes for `challenge`. */
export function craSignature(secret: string, challenge: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(challenge, 'utf8').digest('base64');
}

/** The challenge string, as Crossbar builds it. */
export function craChallenge(fields: { authid: string; authrole: string; authprovider: string; session: number; now: number; nonce?: string }): string {
  return JSON.stringify({
    authid: fields.authid,
    authrole: fields.authrole,
    authmethod: 'wampcra',
    authprovider: fields.authprovider,
    nonce: fields.nonce ?? randomBytes(48).toString('base64url'),
    timestamp: new Date(fields.now).toISOString(),
    session: fields.session,
  });
}

export function wampcraHello(cfg: WampCraAuth, claims: HelloClaims, ctx: AuthContext): MaybePromise<Step> {
  const authid = claims.authid;
  if (authid === undefined || authid === '') return authFailed('WAMP-CRA needs HELLO.Details.authid', 'no authid in HELLO');
  if (cfg.type === 'static') {
    const user = own(cfg.users, authid);
    return challenge(user ?? decoy(cfg.users, authid), authid, 'static', ctx, user !== undefined);
  }
  return (async (): Promise<Step> => {
    const a = await askAuthenticator(cfg, ctx, [ctx.realm, authid, authenticatorDetails(ctx, 'wampcra', claims)]);
    if ('refuse' in a) return a;
    const r = a.principal;
    if (r.secret === undefined) return authFailed('authentication service error', `authenticator "${cfg.authenticator}" returned no secret for a wampcra principal`);
    return challenge({ ...r, secret: r.secret }, r.authid ?? authid, 'dynamic', ctx, true);
  })();
}

function challenge(user: CraCredentials, authid: string, authprovider: string, ctx: AuthContext, known: boolean): Step {
  const text = craChallenge({ authid, authrole: user.role, authprovider, session: ctx.sessionId, now: ctx.now() });
  const extra: Record<string, unknown> = { challenge: text };
  if (user.salt !== undefined) {
    extra.salt = user.salt;
    extra.iterations = user.iterations ?? 1000;
    extra.keylen = user.keylen ?? 32;
  }
  const expected = craSignature(user.secret, text);
  return {
    challenge: { authmethod: 'wampcra', extra },
    verify: (signature): Outcome => {
      const match = safeEqual(signature, expected);
      if (!known || !match) return authFailed(INVALID, known ? `wrong signature for "${authid}"` : `unknown authid "${authid}"`);
      return admit(ctx, user, authid, 'wampcra', authprovider);
    },
  };
}

/** Per process: decoy salts are stable per authid (as a real user's are) but unpredictable. */
const DECOY_KEY = randomBytes(32);

/**
 * Credentials for an authid that doesn't exist, shaped like the real users
 * (salted if they are, with the same salt on every attempt, and the most
 * common role), so the challenge looks the same and the refusal comes only
 * after AUTHENTICATE, as for a wrong secret.
 */
function decoy(users: Record<string, CraCredentials>, authid: string): CraCredentials {
  const all = Object.values(users);
  const counts = new Map<string, number>();
  for (const u of all) counts.set(u.role, (counts.get(u.role) ?? 0) + 1);
  const role = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'user';
  const secret = randomBytes(32).toString('base64');
  const salted = all.find((u) => u.salt !== undefined);
  if (salted === undefined) return { secret, role };
  const salt = createHmac('sha256', DECOY_KEY).update(authid, 'utf8').digest('base64').slice(0, salted.salt!.length);
  return { secret, role, salt, iterations: salted.iterations, keylen: salted.keylen };
}

/**
 * The key a salted WAMP-CRA user's config `secret` holds: base64 of
 * PBKDF2-HMAC-SHA256(password, salt, iterations, keylen), the same value
 * autobahn's `auth_cra.derive_key(password, salt, iterations, keylen)` gives.
 */
export function deriveCraKey(password: string, salt: string, iterations = 1000, keylen = 32): string {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, keylen, 'sha256').toString('base64');
}
