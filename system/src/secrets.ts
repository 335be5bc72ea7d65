// Development secrets: made at first start into the data directory (never
// committed, never fixed in the source), reused afterwards so players'
// tickets and the operator's password survive a restart.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { generateKeyFile, readKeyFile, type MachineKey } from '@clawgate/claw-node';

const SecretsFile = z.object({
  /** HMAC key for the signed player tickets (POST /api/session issues, the router verifies). */
  ticketSecret: z.string().min(32),
  /** The backend's WAMP-CRA secret. */
  backendSecret: z.string().min(16),
  /** The development operator's WAMP-CRA secret. */
  operatorSecret: z.string().min(16),
}).strict();
export type Secrets = z.infer<typeof SecretsFile>;

export interface DevSecrets extends Secrets {
  /** Where they are stored. */
  file: string;
  /** True when this start created them. */
  created: boolean;
}

const token = (bytes: number) => randomBytes(bytes).toString('base64url');

/** Creates the data directory, ignored by git whatever the repository's .gitignore says. */
export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ignore = join(dir, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '# created by clawgate: runtime data and development secrets\n*\n');
}

export function loadOrCreateSecrets(dataDir: string): DevSecrets {
  ensureDataDir(dataDir);
  const file = join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const parsed = SecretsFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`${file}: not a clawgate secrets file (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); delete it to make new secrets`);
    return { ...parsed.data, file, created: false };
  }
  const secrets: Secrets = { ticketSecret: token(32), backendSecret: token(24), operatorSecret: token(12) };
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { ...secrets, file, created: true };
}

/** The Ed25519 key of a simulated machine, minted on first use. */
export function machineKey(dataDir: string, machine: string): { path: string; key: MachineKey } {
  const dir = join(dataDir, 'keys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${machine}.key`);
  const key = existsSync(path) ? readKeyFile(path) : generateKeyFile(path, machine);
  return { path, key };
}
