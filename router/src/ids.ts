// WAMP id scopes (spec §"IDs"): global ids are random so they can't be
// guessed or correlated; router and session scopes only need uniqueness.
import { createHash } from 'node:crypto';
import { MAX_ID } from './messages/validate.js';

/** Bits of a global id that name the cluster node that made it (docs/cluster.md, "Identity"). */
export const NODE_SLOT_BITS = 10;
export const NODE_SLOTS = 1 << NODE_SLOT_BITS;

/** Global scope: random in [1, 2^53] (a cluster node's ids: nodeRandomId). */
export function randomId(): number {
  return Math.floor(Math.random() * MAX_ID) + 1;
}

/** A global id of the cluster node with `slot`: random in the upper 43 bits, the slot in the lower 10. */
export function nodeRandomId(slot: number): number {
  // [1, 2^43 - 1] * 1024 + slot stays within [1024, 2^53 - 1].
  return (Math.floor(Math.random() * (MAX_ID / NODE_SLOTS - 1)) + 1) * NODE_SLOTS + slot;
}

/** Router or session scope: 1, 2, 3, ... wrapping at 2^53. */
export class IdSequence {
  private last = 0;
  private wrapped = false;
  next(): number {
    if (this.last >= MAX_ID) { this.last = 1; this.wrapped = true; } else this.last++;
    return this.last;
  }

  /**
   * Has `id` been handed out? The sequence is its own memory of every id
   * issued: ids up to the last one were, later ones were not (after a wrap
   * at 2^53, every id was). No per-id state, however many were issued.
   */
  issued(id: number): boolean {
    return id >= 1 && (this.wrapped || id <= this.last);
  }
}

/**
 * Router scope on a cluster node: the id every node gives the observation of
 * (`uri`, `match`, `variant`) in `realm` (a subscription, a registration),
 * without asking the others: the first 53 bits of its SHA-256. Two
 * observations alive at once share an id with a chance of about n²/2^54
 * (n = 100,000: 6 in 10 million); docs/cluster.md, "Identity".
 */
export function sharedId(noun: 'subscription' | 'registration', realm: string, uri: string, match: string, variant: string): number {
  const h = createHash('sha256').update(`${noun}\u0000${realm}\u0000${match}\u0000${variant}\u0000${uri}`).digest();
  // 21 + 32 bits; 0 is not an id.
  const id = (h.readUInt32BE(0) & 0x1f_ffff) * 2 ** 32 + h.readUInt32BE(4);
  return id === 0 ? 1 : id;
}
