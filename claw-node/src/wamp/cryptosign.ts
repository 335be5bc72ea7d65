// The machine's Ed25519 identity for WAMP-cryptosign: a 32-byte seed stored
// as hex in a file only the node's user can read. The router holds the
// public key (authorized_keys); the node signs the router's challenge.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import nacl from 'tweetnacl';

export interface MachineKey {
  /** Hex public key: what the router's config lists for this machine. */
  publicKey: string;
  /** Signs a CHALLENGE's hex `challenge` (autobahn/Crossbar format: hex(signature ‖ challenge)). */
  sign(challengeHex: string): string;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

function fromHex(hex: string): Uint8Array { return Uint8Array.from(Buffer.from(hex, 'hex')); }
function toHex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }

export function keyFromSeed(seed: Uint8Array): MachineKey {
  if (seed.length !== nacl.sign.seedLength) throw new Error(`an Ed25519 seed is ${nacl.sign.seedLength} bytes, got ${seed.length}`);
  const pair = nacl.sign.keyPair.fromSeed(seed);
  return {
    publicKey: toHex(pair.publicKey),
    sign(challengeHex: string): string {
      if (!/^([0-9a-fA-F]{2})+$/.test(challengeHex)) throw new Error('cryptosign challenge is not hex');
      const challenge = fromHex(challengeHex);
      return toHex(nacl.sign.detached(challenge, pair.secretKey)) + toHex(challenge);
    },
  };
}

/** Reads a key file: 64 hex characters (surrounding whitespace and `#` comment lines allowed). */
export function readKeyFile(path: string): MachineKey {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new Error(`cannot read key file ${path}: ${(e as Error).message}`); }
  const hex = text.split('\n').filter((l) => !l.trim().startsWith('#')).join('').trim();
  if (!HEX64.test(hex)) throw new Error(`key file ${path} must hold a 32-byte Ed25519 seed as 64 hex characters (make one with \`clawgate-claw keygen\`)`);
  return keyFromSeed(fromHex(hex));
}

/** Group/other-readable key files are a warning sign, not an error (the operator decides). */
export function keyFileTooOpen(path: string): boolean {
  try { return (statSync(path).mode & 0o077) !== 0; } catch { return false; }
}

/** Mints a new seed into `path` (mode 0600, never overwriting); returns the key. */
export function generateKeyFile(path: string, machine: string): MachineKey {
  const seed = nacl.randomBytes(nacl.sign.seedLength);
  const key = keyFromSeed(seed);
  writeFileSync(path, `# clawgate claw node ${machine} Ed25519 seed; public key ${key.publicKey}\n${toHex(seed)}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
