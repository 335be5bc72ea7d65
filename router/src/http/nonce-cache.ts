// Replay protection for signed bridge requests (Crossbar has none): every
// nonce of an accepted request is remembered until its timestamp leaves the
// accepted window, after which the timestamp check refuses a replay anyway.
// Memory is bounded: when the cache is full of nonces that are still live,
// new requests are refused (the caller answers 503) rather than forgetting a
// live nonce, which would reopen a replay. Only requests with a valid
// signature reach the cache, so only a holder of the secret can fill it.

export type NonceVerdict = 'fresh' | 'replayed' | 'full';

export class NonceCache {
  /** nonce → time (ms) after which it may be forgotten. */
  private readonly seen = new Map<string, number>();
  private nextSweep = 0;

  constructor(
    /** How long a nonce stays live past its request's timestamp (the timestamp window). */
    private readonly windowMs: number,
    readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** Records `nonce` of a request stamped `timestampMs` unless it was seen before. */
  check(nonce: string, timestampMs: number): NonceVerdict {
    const now = this.now();
    if (now >= this.nextSweep || this.seen.size >= this.maxEntries) this.sweep(now);
    const until = this.seen.get(nonce);
    if (until !== undefined && until > now) return 'replayed';
    if (this.seen.size >= this.maxEntries) return 'full';
    // Live until the request's timestamp is out of the window on either side of now.
    this.seen.set(nonce, Math.max(timestampMs, now) + this.windowMs);
    return 'fresh';
  }

  private sweep(now: number): void {
    for (const [nonce, until] of this.seen) if (until <= now) this.seen.delete(nonce);
    this.nextSweep = now + Math.max(1000, this.windowMs);
  }
}
