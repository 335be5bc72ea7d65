// An endpoint's `tls` section (Crossbar format) → node TLS server options.
// File paths are relative to the config file's folder, as in Crossbar; a
// missing or unreadable file, or a key that does not fit the certificate, is
// a config error naming the key, so a typo never means serving plaintext or
// failing on the first connection.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createSecureContext, type TlsOptions } from 'node:tls';
import { z } from 'zod';
import { ConfigError } from '../config-error.js';

export const TlsSection = z.object({
  /** PEM private key (no passphrase). */
  key: z.string().min(1),
  /** PEM certificate (may hold the chain too). */
  certificate: z.string().min(1),
  /** Intermediate certificates sent with ours. */
  chain_certificates: z.array(z.string().min(1)).optional(),
  /** When set, clients must present a certificate issued by one of these CAs (Crossbar semantics). */
  ca_certificates: z.array(z.string().min(1)).min(1).optional(),
  /** OpenSSL cipher list. */
  ciphers: z.string().min(1).optional(),
  /** PEM Diffie-Hellman parameters, for DHE ciphers. */
  dhparam: z.string().min(1).optional(),
}).passthrough();
export type TlsSection = z.infer<typeof TlsSection>;

export const TLS_KEYS = ['key', 'certificate', 'chain_certificates', 'ca_certificates', 'ciphers', 'dhparam'];

function readAt(file: string, at: string, baseDir: string | undefined): Buffer {
  const path = isAbsolute(file) ? file : resolve(baseDir ?? process.cwd(), file);
  try {
    const data = readFileSync(path);
    if (data.length === 0) throw new Error('file is empty');
    return data;
  } catch (e) {
    throw new ConfigError(`invalid config at ${at}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Reads the files and checks that node's TLS accepts them together. */
export function loadTls(section: TlsSection, at: string, baseDir: string | undefined): TlsOptions {
  const cert = [readAt(section.certificate, `${at}.certificate`, baseDir)];
  (section.chain_certificates ?? []).forEach((f, i) => cert.push(readAt(f, `${at}.chain_certificates[${i}]`, baseDir)));
  const options: TlsOptions = {
    key: readAt(section.key, `${at}.key`, baseDir),
    cert: Buffer.concat(cert.flatMap((c) => [c, Buffer.from('\n')])),
  };
  if (section.ca_certificates !== undefined) {
    options.ca = section.ca_certificates.map((f, i) => readAt(f, `${at}.ca_certificates[${i}]`, baseDir));
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  if (section.ciphers !== undefined) options.ciphers = section.ciphers;
  if (section.dhparam !== undefined) options.dhparam = readAt(section.dhparam, `${at}.dhparam`, baseDir);
  try {
    createSecureContext(options);
  } catch (e) {
    throw new ConfigError(`invalid config at ${at}: ${(e as Error).message}`);
  }
  return options;
}
