// Signed HTTP bridge requests, exactly as Crossbar's HTTP Publisher and Caller
// define them (crossbar/bridge/rest/common.py), so existing clients
// (crossbarconnect and friends) sign for us unchanged:
//
//   signature = base64url( HMAC-SHA256_secret( key | timestamp | seq | nonce | body ) )
//
// with the query parameters `key`, `timestamp` (UTC ISO 8601 with a
// fraction and a `Z`, e.g. 2011-10-14T16:59:51.123Z), `seq` and `nonce`
// (integers) and `signature` (URL-safe base64 with padding). The parts are
// concatenated without separators, the body as the raw bytes received.
import { createHmac, timingSafeEqual, createHash } from 'node:crypto';

export interface SignedParams {
  key: string;
  timestamp: string;
  seq: string;
  nonce: string;
}

export function computeSignature(secret: string, p: SignedParams, body: Uint8Array | string): string {
  const h = createHmac('sha256', secret);
  h.update(p.key);
  h.update(p.timestamp);
  h.update(p.seq);
  h.update(p.nonce);
  h.update(body);
  return h.digest('base64url') + '='; // 32 bytes → 43 chars + one '=' of padding, as Python's urlsafe_b64encode
}

/** Signs a request for the bridge: the query parameters to append. For clients and tests. */
export function signRequest(key: string, secret: string, body: Uint8Array | string, opts: { seq?: number; nonce?: number; now?: Date } = {}): Record<string, string> {
  const p: SignedParams = {
    key,
    timestamp: (opts.now ?? new Date()).toISOString(),
    seq: String(opts.seq ?? 0),
    nonce: String(opts.nonce ?? Math.floor(Math.random() * 2 ** 53)),
  };
  return { ...p, signature: computeSignature(secret, p, body) };
}

/** Whether `given` is the signature of the request; padding ('=') is optional. */
export function signatureMatches(secret: string, p: SignedParams, body: Uint8Array | string, given: string): boolean {
  return constantTimeEqual(computeSignature(secret, p, body).replace(/=+$/, ''), given.replace(/=+$/, ''));
}

/** Compares two strings in time independent of where they differ (and of their content when lengths differ). */
export function constantTimeEqual(a: string, b: string): boolean {
  // Hashing first gives equal-length inputs, so the length of a guess leaks nothing either.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;

/** Milliseconds since the epoch of a bridge timestamp, or undefined if it isn't one. */
export function parseTimestamp(s: string): number | undefined {
  const m = TIMESTAMP.exec(s);
  if (m === null) return undefined;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ? m[7].slice(0, 4) : ''}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Crossbar requires `seq` and `nonce` to be integers. */
export function isIntegerParam(s: string): boolean {
  return /^-?\d{1,20}$/.test(s);
}
