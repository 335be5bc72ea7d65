// WAMP-Cryptosign: the client names its Ed25519 public key in
// HELLO.Details.authextra.pubkey, the router challenges it with 32 random
// bytes, and the client signs them. With `tls-unique` channel binding the
// signed message is the challenge XOR the TLS channel id, which ties the
// signature to this one TLS connection.
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { WampErrors } from '../errors.js';
import type { CryptosignAuth } from './auth-policy.js';
import {
  admit, askAuthenticator, authFailed, authenticatorDetails, own, refuse,
  type AuthContext, type DynamicPrincipal, type HelloClaims, type MaybePromise, type Outcome, type Step,
} from './authentication.js';

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const INVALID = 'cryptosign signature is invalid';

export function isHexKey(s: unknown): s is string {
  return typeof s === 'string' && HEX_KEY.test(s);
}

interface Candidate {
  authid: string;
  role: string;
  realm?: string;
  extra?: Record<string, unknown>;
}

export function cryptosignHello(cfg: CryptosignAuth, claims: HelloClaims, ctx: AuthContext): MaybePromise<Step> {
  const pubkey = claims.authextra.pubkey;
  if (!isHexKey(pubkey)) {
    return authFailed('cryptosign needs HELLO.Details.authextra.pubkey (an Ed25519 public key, 64 hex digits)', 'no or malformed pubkey');
  }
  const key = pubkey.toLowerCase();
  const binding = claims.authextra.channel_binding;
  if (binding !== undefined && binding !== null) {
    if (binding !== 'tls-unique') return authFailed(`unsupported channel binding "${String(binding)}" (only tls-unique)`);
    if (ctx.channelId === undefined) return authFailed('channel binding tls-unique is not supported by this router', 'tls-unique requested (channel binding is not implemented)');
  }
  const bound = binding === 'tls-unique';

  if (cfg.type === 'static') {
    let found: Candidate | undefined;
    if (claims.authid !== undefined) {
      const p = own(cfg.principals, claims.authid);
      if (p !== undefined && p.authorized_keys.includes(key)) found = { ...p, authid: claims.authid };
    } else {
      const owners = Object.entries(cfg.principals).filter(([, p]) => p.authorized_keys.includes(key));
      if (owners.length > 1) {
        return authFailed('this key belongs to several principals: name one in HELLO.Details.authid', `pubkey ${key} is authorized for ${owners.length} principals`);
      }
      if (owners.length === 1) found = { ...owners[0]![1], authid: owners[0]![0] };
    }
    // An unknown key or authid still gets a challenge, and fails like a bad signature.
    return challenge(key, found, bound, 'static', ctx);
  }

  return (async (): Promise<Step> => {
    const a = await askAuthenticator(cfg, ctx, [ctx.realm, claims.authid ?? null, authenticatorDetails(ctx, 'cryptosign', claims)]);
    if ('refuse' in a) return a;
    const r = a.principal;
    if (!keysOf(r).includes(key)) {
      return refuse(WampErrors.notAuthorized, 'public key not authorized', `authenticator "${cfg.authenticator}" did not confirm pubkey ${key}`);
    }
    const authid = r.authid ?? claims.authid;
    if (authid === undefined) return authFailed('no authid', `authenticator "${cfg.authenticator}" returned no authid and HELLO had none`);
    return challenge(key, { ...r, authid }, bound, 'dynamic', ctx);
  })();
}

/** The keys a dynamic principal vouches for: Crossbar's `pubkey`, or an `authorized_keys` list. */
function keysOf(p: DynamicPrincipal): string[] {
  const keys = [...(p.authorized_keys ?? []), ...(p.pubkey !== undefined ? [p.pubkey] : [])];
  return keys.filter(isHexKey).map((k) => k.toLowerCase());
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}

function challenge(key: string, who: Candidate | undefined, bound: boolean, authprovider: string, ctx: AuthContext): Step {
  const nonce = randomBytes(32);
  const expected = bound ? xor(nonce, ctx.channelId!) : new Uint8Array(nonce);
  return {
    challenge: { authmethod: 'cryptosign', extra: { challenge: nonce.toString('hex'), channel_binding: bound ? 'tls-unique' : null } },
    verify: (signature): Outcome => {
      const ok = verifySignature(signature, expected, Buffer.from(key, 'hex'));
      if (who === undefined || !ok) return authFailed(INVALID, who === undefined ? `no principal for pubkey ${key}` : `bad signature from "${who.authid}"`);
      return admit(ctx, who, who.authid, 'cryptosign', authprovider);
    },
  };
}

/**
 * The signature is 64 bytes, hex; autobahn appends the signed message
 * (96 bytes in all), which must then be exactly what we expect.
 */
export function verifySignature(signature: string, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!HEX.test(signature)) return false;
  const bytes = Buffer.from(signature, 'hex');
  if (bytes.length !== 64 && bytes.length !== 64 + message.length) return false;
  if (bytes.length > 64 && !bytes.subarray(64).equals(Buffer.from(message))) return false;
  return nacl.sign.detached.verify(message, new Uint8Array(bytes.subarray(0, 64)), publicKey);
}
