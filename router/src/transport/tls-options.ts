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

function pathOf(file: string, baseDir: string | undefined): string {
  return isAbsolute(file) ? file : resolve(baseDir ?? process.cwd(), file);
}

function readAt(file: string, at: string, baseDir: string | undefined): Buffer {
  const path = pathOf(file, baseDir);
  try {
    const data = readFileSync(path);
    if (data.length === 0) throw new Error('file is empty');
    return data;
  } catch (e) {
    throw new ConfigError(`invalid config at ${at}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/**
 * Why `pem` is not PEM DH parameters (PKCS #3: SEQUENCE { INTEGER prime, INTEGER
 * generator }) of at least 2048 bits, or undefined. Only the outer structure is
 * read; that the prime is prime is OpenSSL's business when a handshake uses it.
 */
export function dhParamsProblem(pem: Buffer): { bad: string } | { weak: string } | undefined {
  const m = /-----BEGIN DH PARAMETERS-----([A-Za-z0-9+/=\s]+)-----END DH PARAMETERS-----/.exec(pem.toString('latin1'));
  if (m === null) return { bad: 'not PEM DH parameters (-----BEGIN DH PARAMETERS-----)' };
  const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  let pos = 0;
  const header = (tag: number): number | undefined => {
    if (der[pos++] !== tag) return undefined;
    let len = der[pos++] ?? 0;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 3) return undefined;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (der[pos++] ?? 0);
    }
    return pos + len <= der.length ? len : undefined;
  };
  const seq = header(0x30);
  const primeLen = seq === undefined ? undefined : header(0x02);
  if (primeLen === undefined) return { bad: 'its DER structure is not SEQUENCE { INTEGER prime, INTEGER generator }' };
  const prime = der.subarray(pos, pos + primeLen);
  pos += primeLen;
  const genLen = header(0x02);
  if (genLen === undefined || genLen === 0) return { bad: 'its DER structure is not SEQUENCE { INTEGER prime, INTEGER generator }' };
  const bits = (prime.length - (prime[0] === 0 ? 1 : 0)) * 8;
  if (bits < 2048) return { weak: `the prime has ${bits} bits, under 2048` };
  return undefined;
}

/** Reads the files and checks that node's TLS accepts them together. */
export function loadTls(section: TlsSection, at: string, baseDir: string | undefined, warnings: string[] = []): TlsOptions {
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
  if (section.dhparam !== undefined) {
    options.dhparam = readAt(section.dhparam, `${at}.dhparam`, baseDir);
    // Node's TLS ignores a file that is not DH parameters without a word.
    const problem = dhParamsProblem(options.dhparam as Buffer);
    if (problem !== undefined && 'weak' in problem) {
      // Not using weak parameters only turns the DHE suites off (ECDHE ones remain): safer, and the rest runs.
      warnings.push(`${at}.dhparam (${pathOf(section.dhparam, baseDir)}: ${problem.weak}; not used: DHE cipher suites are off, ECDHE ones remain)`);
      delete options.dhparam;
    } else if (problem !== undefined) {
      throw new ConfigError(`invalid config at ${at}.dhparam: ${pathOf(section.dhparam, baseDir)}: ${problem.bad}`);
    }
  }
  // Each file on its own first, so that an error names the file that caused it.
  const checks: [string, string, TlsOptions][] = [
    [`${at}.key`, section.key, { key: options.key }],
    [`${at}.certificate`, section.certificate, { cert: cert[0] }],
    ...(section.ca_certificates ?? []).map((f, i): [string, string, TlsOptions] => [`${at}.ca_certificates[${i}]`, f, { ca: (options.ca as Buffer[])[i] }]),
    ...(options.dhparam !== undefined && section.dhparam !== undefined ? [[`${at}.dhparam`, section.dhparam, { dhparam: options.dhparam }] as [string, string, TlsOptions]] : []),
  ];
  for (const [keyAt, file, one] of checks) {
    try {
      createSecureContext(one);
    } catch (e) {
      throw new ConfigError(`invalid config at ${keyAt}: ${pathOf(file, baseDir)}: ${(e as Error).message}`);
    }
  }
  try {
    createSecureContext(options);
  } catch (e) {
    throw new ConfigError(`invalid config at ${at}: ${pathOf(section.key, baseDir)} and ${pathOf(section.certificate, baseDir)} together: ${(e as Error).message}`);
  }
  return options;
}
