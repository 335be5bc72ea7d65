// WAMP id scopes (spec §"IDs"): global ids are random so they can't be
// guessed or correlated; router and session scopes only need uniqueness.
import { createHash } from 'node:crypto';
import { MAX_ID } from './messages/validate.js';

/** Bits of a global id that name the cluster node that made it (docs/cluster.md, "Identity"). */
export const NODE_SLOT_BITS = 10;
export const NODE_SLOTS = 1 << NODE_SLOT_BITS;

/**
 * The cluster node slot of this process, while exactly one cluster node runs
 * in it (the CLI's case): the publication ids the broker makes end in the
 * slot, so no two live nodes can hand out the same one. undefined otherwise.
 * Session ids don't depend on it: each router gives its own (Router.sessionId).
 */
let processSlot: number | undefined;
const slotHolders = new Map<object, number>();

/**
 * A cluster node in this process claimed `slot` (undefined: it released it).
 * With two nodes in one process (tests, an embedder) ids stay plain random:
 * one process-wide id source can't speak for two slots.
 */
export function setNodeSlot(holder: object, slot: number | undefined): void {
  if (slot === undefined) slotHolders.delete(holder); else slotHolders.set(holder, slot);
  processSlot = slotHolders.size === 1 ? slotHolders.values().next().value : undefined;
}

/** Global scope: random in [1, 2^53]; on a cluster node, random in its upper 43 bits and its slot in the lower 10. */
export function randomId(): number {
  if (processSlot === undefined) return Math.floor(Math.random() * MAX_ID) + 1;
  return nodeRandomId(processSlot);
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
