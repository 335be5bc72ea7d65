// The checks every request to an HTTP path service passes before it does
// anything: client address, TLS, content type, body size, and (when the path
// has a secret) Crossbar's request signature, the timestamp window and our
// nonce replay check. Cheap checks that need no body come first, so a
// forbidden client never gets to make the router buffer a body.
import type { IncomingMessage } from 'node:http';
import type { HttpGuard } from './http-config.js';
import { HttpError, HttpErrors } from './http-error.js';
import { IpAllowList } from '../net/ip-allow.js';
import { clientOfRequest } from '../net/forwarded.js';
import { clientKey } from '../net/client-key.js';
import { NonceCache } from './nonce-cache.js';
import { ClientRateLimiter } from './client-rate-limiter.js';
import { isIntegerParam, parseTimestamp, signatureMatches } from './signature.js';

/** What the guard needs to know about a request, apart from its body. */
export interface RequestFacts {
  method: string;
  remoteAddress: string | undefined;
  encrypted: boolean;
  contentType: string | undefined;
  contentLength: string | undefined;
  query: URLSearchParams;
}

export function requestFacts(req: IncomingMessage): RequestFacts {
  const url = new URL(req.url ?? '/', 'http://x');
  // Behind a trusted reverse proxy: the client it forwarded, and whether that client used TLS.
  const client = clientOfRequest(req);
  return {
    method: req.method ?? 'GET',
    remoteAddress: client.address,
    encrypted: client.encrypted,
    contentType: req.headers['content-type'],
    contentLength: req.headers['content-length'],
    query: url.searchParams,
  };
}

export class RequestGuard {
  private readonly ips: IpAllowList | undefined;
  private readonly nonces: NonceCache | undefined;
  private readonly rate: ClientRateLimiter | undefined;

  constructor(readonly config: HttpGuard, nonceCacheSize?: number) {
    this.rate = config.rateLimit !== undefined ? new ClientRateLimiter(config.rateLimit) : undefined;
    this.ips = config.requireIp !== undefined ? new IpAllowList(config.requireIp) : undefined;
    this.nonces = config.secret !== undefined ? new NonceCache(config.timestampDeltaLimitS * 1000, nonceCacheSize) : undefined;
  }

  get signed(): boolean {
    return this.config.secret !== undefined;
  }

  /** Checks that need no body. Throws HttpError. */
  admit(f: RequestFacts): void {
    if (this.ips !== undefined && !this.ips.allows(f.remoteAddress)) {
      throw new HttpError(403, HttpErrors.forbiddenIp, `requests from ${f.remoteAddress ?? 'an unknown address'} are not allowed here`);
    }
    if (this.config.requireTls && !f.encrypted) throw new HttpError(403, HttpErrors.tlsRequired, 'this path requires TLS (https)');
    if (this.rate !== undefined) {
      const wait = this.rate.take(clientKey(f.remoteAddress));
      if (wait > 0) {
        const l = this.rate.limit;
        throw new HttpError(429, HttpErrors.rateLimited, `rate limit of ${l.rate} requests per second (burst ${l.burst}) exceeded; retry after ${wait} ms`, { 'retry-after': String(Math.ceil(wait / 1000)) });
      }
    }
    if (f.method === 'POST' || f.method === 'PUT') {
      if (f.contentType !== undefined) {
        const [type, ...params] = f.contentType.split(';').map((s) => s.trim().toLowerCase());
        if (type !== 'application/json') {
          throw new HttpError(415, HttpErrors.unsupportedContentType, `content type must be application/json, not "${type}"`);
        }
        const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
        if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
          throw new HttpError(415, HttpErrors.unsupportedContentType, `charset must be utf-8, not "${charset}"`);
        }
      }
      if (f.contentLength !== undefined && Number(f.contentLength) > this.config.postBodyLimit) {
        throw tooLarge(Number(f.contentLength), this.config.postBodyLimit);
      }
    }
  }

  /** The signature, timestamp and nonce checks (a no-op on unsigned paths). Throws HttpError. */
  verify(query: URLSearchParams, body: Buffer, now = Date.now()): void {
    const secret = this.config.secret;
    if (secret === undefined) return;
    const p: Record<'key' | 'timestamp' | 'seq' | 'nonce' | 'signature', string> = { key: '', timestamp: '', seq: '', nonce: '', signature: '' };
    for (const name of ['key', 'timestamp', 'seq', 'nonce', 'signature'] as const) {
      const v = query.get(name);
      if (v === null || v === '') throw new HttpError(400, HttpErrors.missingParameter, `signed request required, but query parameter "${name}" is missing`);
      p[name] = v;
    }
    const ts = parseTimestamp(p.timestamp);
    if (ts === undefined) {
      throw new HttpError(400, HttpErrors.invalidParameter, `invalid timestamp "${p.timestamp}" (must be UTC ISO 8601, e.g. 2011-10-14T16:59:51.123Z)`);
    }
    if (!isIntegerParam(p.seq)) throw new HttpError(400, HttpErrors.invalidParameter, `invalid seq "${p.seq}" (must be an integer)`);
    if (!isIntegerParam(p.nonce)) throw new HttpError(400, HttpErrors.invalidParameter, `invalid nonce "${p.nonce}" (must be an integer)`);
    if (p.key !== this.config.key) throw new HttpError(401, HttpErrors.unknownKey, `unknown key "${p.key}" in signed request`);
    if (!signatureMatches(secret, p, body, p.signature)) throw new HttpError(401, HttpErrors.invalidSignature, 'invalid request signature');
    const limitMs = this.config.timestampDeltaLimitS * 1000;
    if (Math.abs(now - ts) > limitMs) {
      throw new HttpError(401, HttpErrors.staleTimestamp, `request timestamp is more than ${this.config.timestampDeltaLimitS} s away from the router's clock`);
    }
    const verdict = this.nonces!.check(p.nonce, ts);
    if (verdict === 'replayed') throw new HttpError(401, HttpErrors.replayedNonce, 'nonce already used: request replayed');
    if (verdict === 'full') throw new HttpError(503, HttpErrors.busy, 'too many signed requests in the timestamp window; retry later', { 'retry-after': '1' });
  }
}

function tooLarge(length: number, limit: number): HttpError {
  return new HttpError(413, HttpErrors.bodyTooLarge, `request body of ${length} bytes is longer than the accepted ${limit} bytes`, { connection: 'close' });
}

/** Reads the whole body, refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (e?: Error): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      if (e) reject(e);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) { finish(tooLarge(size, limit)); req.resume(); return; }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish());
    req.once('error', (e) => finish(e));
    req.once('aborted', () => finish(new HttpError(400, HttpErrors.invalidBody, 'request aborted before the body was complete')));
  });
}

/** The body as the JSON object a bridge request must be. Throws HttpError. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new HttpError(400, HttpErrors.invalidBody, 'request body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, HttpErrors.invalidBody, `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, HttpErrors.invalidBody, 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
