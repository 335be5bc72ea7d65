// What the link says in HELLO and how it answers the CHALLENGE, per
// authentication method: anonymous (development paths), ticket, WAMP-CRA
// (the backend; salted keys derived as Crossbar and autobahn do) and
// cryptosign (the claw nodes' Ed25519 keys).
import { createHmac, pbkdf2Sync } from 'node:crypto';

/** An Ed25519 identity that signs a cryptosign CHALLENGE (the claw node's MachineKey is one). */
export interface CryptosignKey {
  /** Hex public key, sent as `authextra.pubkey`. */
  publicKey: string;
  /** hex(signature ‖ challenge) for the CHALLENGE's hex `challenge`. */
  sign(challengeHex: string): string;
}

export type HelloAuth =
  | { method: 'anonymous' }
  | { method: 'ticket'; authid?: string | undefined; ticket: string }
  | { method: 'wampcra'; authid: string; secret: string }
  | { method: 'cryptosign'; authid: string; key: CryptosignKey };

interface CraExtra { challenge?: string; salt?: string; iterations?: number; keylen?: number }

/** WAMP-CRA: HMAC-SHA256 of the challenge, base64; with a salt the key is PBKDF2-SHA256(secret, salt), base64 (Crossbar's and autobahn's derivation). */
export function craAnswer(secret: string, extra: CraExtra): string {
  if (typeof extra?.challenge !== 'string') throw new Error('wampcra challenge without a challenge string');
  const key = extra.salt ? pbkdf2Sync(secret, extra.salt, extra.iterations ?? 1000, extra.keylen ?? 32, 'sha256').toString('base64') : secret;
  return createHmac('sha256', key).update(extra.challenge).digest('base64');
}

/** autobahn Connection options for `auth`: authmethods, authid, authextra and onchallenge. */
export function helloOptions(auth: HelloAuth): Record<string, unknown> {
  const expect = (wanted: string, method: string): void => { if (method !== wanted) throw new Error(`unexpected challenge method ${method}`); };
  switch (auth.method) {
    case 'anonymous':
      return { authmethods: ['anonymous'] };
    case 'ticket':
      return {
        authmethods: ['ticket'],
        ...(auth.authid !== undefined ? { authid: auth.authid } : {}),
        onchallenge: (_s: unknown, method: string) => { expect('ticket', method); return auth.ticket; },
      };
    case 'wampcra':
      return {
        authmethods: ['wampcra'],
        authid: auth.authid,
        onchallenge: (_s: unknown, method: string, extra: CraExtra) => { expect('wampcra', method); return craAnswer(auth.secret, extra); },
      };
    case 'cryptosign':
      return {
        authmethods: ['cryptosign'],
        authid: auth.authid,
        authextra: { pubkey: auth.key.publicKey },
        onchallenge: (_s: unknown, method: string, extra: { challenge?: string }) => {
          expect('cryptosign', method);
          if (typeof extra?.challenge !== 'string') throw new Error('cryptosign challenge without a challenge string');
          return auth.key.sign(extra.challenge);
        },
      };
  }
}
