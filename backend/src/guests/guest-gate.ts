// Who may call POST /api/session, and who may get a new identity from it.
// Every request takes a token from its client's request bucket before its
// body is read; a valid request that mints a new guest also needs a token
// from its client's mint bucket and from the bucket of all clients together
// (both taken, or neither).
import type { BackendConfig } from '../config.js';
import { AddressBuckets } from './address-buckets.js';

export type GateVerdict = { ok: true } | { ok: false; retryAfterMs: number };

const ALL = '*';

export class GuestGate {
  private readonly requests: AddressBuckets;
  private readonly mints: AddressBuckets;
  private readonly total: AddressBuckets;
  /** Refusals so far. */
  readonly refused = { requests: 0, guests: 0 };

  constructor(guests: BackendConfig['guests']) {
    this.requests = new AddressBuckets(guests.requestsPerAddress, guests.maxTrackedAddresses);
    this.mints = new AddressBuckets(guests.mintPerAddress, guests.maxTrackedAddresses);
    this.total = new AddressBuckets(guests.mintTotal, 1);
  }

  /** One request from `client` (a clientKey). */
  request(client: string, now: number): GateVerdict {
    const wait = this.requests.take(client, now);
    if (wait === 0) return { ok: true };
    this.refused.requests++;
    return { ok: false, retryAfterMs: wait };
  }

  /** One new guest for `client`. */
  mint(client: string, now: number): GateVerdict {
    const wait = Math.max(this.mints.wait(client, now), this.total.wait(ALL, now));
    if (wait > 0) { this.refused.guests++; return { ok: false, retryAfterMs: wait }; }
    this.mints.take(client, now);
    this.total.take(ALL, now);
    return { ok: true };
  }

  /** Client keys with buckets (each kind bounded by guests.maxTrackedAddresses). */
  get trackedClients(): number { return Math.max(this.requests.size, this.mints.size); }
}
