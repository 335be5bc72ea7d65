// A secret in the config: inline, `{"env": NAME}` or `{"file": PATH}`, so
// that a config file can be committed without the secrets it refers to.
// Resolved once at start; a missing variable or unreadable file is a config
// error naming the key.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error.js';

export interface SecretSources {
  env?: Record<string, string | undefined>;
  /** Folder relative `{"file": ...}` secrets are read from. Default: the working directory. */
  baseDir?: string;
}

export const SecretRef = z.union([
  z.string().min(1),
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof SecretRef>;

/**
 * Crossbar's reference to an environment variable, a whole string value
 * `${NAME}` (its checkconfig's `^\$\{(.+)\}$`). Crossbar resolves it for
 * tickets and WAMP-CRA secrets and, when the variable is unset, logs a warning
 * and goes on; here every secret takes it, and an unset one stops the start,
 * so a placeholder is never used as a credential.
 */
const ENV_PLACEHOLDER = /^\$\{(.+)\}$/;

export function resolveSecret(ref: SecretRef, at: string, src: SecretSources): string {
  const fail = (message: string): never => { throw new ConfigError(`invalid config at ${at}: ${message}`); };
  const fromEnv = (name: string, written = ''): string => {
    const v = (src.env ?? process.env)[name];
    if (v === undefined || v === '') return fail(`environment variable ${name} is not set${written}`);
    return v;
  };
  if (typeof ref === 'string') {
    const m = ENV_PLACEHOLDER.exec(ref);
    return m === null ? ref : fromEnv(m[1]!, ` (written as "${ref}")`);
  }
  if ('env' in ref) return fromEnv(ref.env);
  const file = isAbsolute(ref.file) ? ref.file : resolve(src.baseDir ?? process.cwd(), ref.file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`cannot read secret file ${file}: ${(e as Error).message}`);
  }
  const v = text.replace(/\r?\n$/, '');
  if (v === '') fail(`secret file ${file} is empty`);
  return v;
}
