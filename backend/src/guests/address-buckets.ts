// Token buckets per client key (guest minting, POST /api/session): `burst`
// requests at once, refilled at `perMinute`. Memory is bounded: at most
// `maxKeys` buckets, the least recently seen dropped first (a Map keeps
// insertion order; a hit re-inserts). A client whose bucket was dropped
// starts again full, which forgives at most one burst.

export interface BucketLimit { burst: number; perMinute: number }

interface Bucket { tokens: number; at: number }

/** ms until `b` holds one token (0: it does now), after refilling it to `now`. */
function refill(b: Bucket, limit: BucketLimit, now: number): number {
  const elapsed = now - b.at;
  if (elapsed > 0) { // a clock that steps back neither adds nor drains
    b.tokens = Math.min(limit.burst, b.tokens + (elapsed * limit.perMinute) / 60_000);
    b.at = now;
  }
  return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil(((1 - b.tokens) * 60_000) / limit.perMinute));
}

export class AddressBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly limit: BucketLimit, private readonly maxKeys: number) {}

  /** ms until `key` may pass (0: now), without taking anything. */
  wait(key: string, now: number): number {
    const b = this.buckets.get(key);
    return b === undefined ? 0 : refill(b, this.limit, now);
  }

  /** Takes one token for `key` if there is one; returns the wait as `wait()` does (0: taken). */
  take(key: string, now: number): number {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.limit.burst, at: now };
    } else {
      this.buckets.delete(key);
    }
    this.buckets.set(key, b);
    const wait = refill(b, this.limit, now);
    if (wait === 0) b.tokens -= 1;
    return wait;
  }

  get size(): number { return this.buckets.size; }
}
