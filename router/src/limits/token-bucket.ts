// A token bucket per session and action (PUBLISH, CALL): `rate` tokens a
// second refill it up to `burst`; each message takes one. Pure arithmetic on
// a small mutable state, so the hot path allocates nothing.

export interface RateLimit {
  /** Tokens added per second. */
  rate: number;
  /** Bucket size: how many messages may arrive at once after a quiet spell. */
  burst: number;
}

export interface BucketState {
  tokens: number;
  /** ms timestamp of the last refill. */
  at: number;
}

export function newBucket(limit: RateLimit, now: number): BucketState {
  return { tokens: limit.burst, at: now };
}

/**
 * Takes one token if there is one. Returns 0 when the message may pass, or
 * the number of ms (at least 1) until a token will be available.
 */
export function takeToken(bucket: BucketState, limit: RateLimit, now: number): number {
  const elapsed = now - bucket.at;
  // A clock that steps back never adds tokens nor drains any.
  if (elapsed > 0) {
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsed * limit.rate) / 1000);
    bucket.at = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / limit.rate));
}
