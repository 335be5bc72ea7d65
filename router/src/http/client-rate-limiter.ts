// A token bucket per client address for an HTTP path (`options.rate_limit`,
// ClawGate). The bridge's in-process session is not under the per-session
// WAMP limits, so without this an HTTP client could push publications or
// calls into a realm as fast as it can send requests. The client is the
// address the request guard judges (the forwarded client behind a trusted
// proxy). Buckets are kept for at most `maxClients` addresses, least
// recently seen dropped first: a client dropped that way starts again with a
// full bucket, which costs at most one burst.
import { newBucket, takeToken, type BucketState, type RateLimit } from '../limits/token-bucket.js';

export const DEFAULT_MAX_RATE_LIMITED_CLIENTS = 10_000;

export class ClientRateLimiter {
  /** In least-recently-used order (a Map keeps insertion order; a hit re-inserts). */
  private readonly buckets = new Map<string, BucketState>();

  constructor(readonly limit: RateLimit, private readonly maxClients = DEFAULT_MAX_RATE_LIMITED_CLIENTS) {}

  /** 0 if the request may pass, else ms until it may. */
  take(client: string, now = Date.now()): number {
    let b = this.buckets.get(client);
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
      b = newBucket(this.limit, now);
    } else {
      this.buckets.delete(client);
    }
    this.buckets.set(client, b);
    return takeToken(b, this.limit, now);
  }

  get clients(): number {
    return this.buckets.size;
  }
}
