// Claims in the cluster's key-value buckets (a node's name and id slot, a
// `single` registration): a key made by compare-and-swap, held by whoever
// made it. The client's create() is put-if-absent, then, over a delete
// marker, an update at the marker's revision: between those steps another
// node may make the key, or a sweep may purge the marker
// (watched-bucket.ts), and the create fails although nobody holds the key.
// So a failed create is read back: gone again means try again.
import type { KV, KvEntry } from '@nats-io/kv';

/** A compare-and-swap that found another revision (the key is someone else's, or changed meanwhile). */
export function isConflict(e: unknown): boolean {
  return /wrong last sequence|key exists/i.test((e as Error)?.message ?? '');
}

/** Ours (`revision`), or another's (`holder`: the entry that holds it). */
export type Claim = { revision: number; holder?: undefined } | { revision?: undefined; holder: KvEntry };

/**
 * Creates `key` holding `value`. If it is held already with this very
 * value, it is ours (a create that timed out but was made, or one made
 * again): its revision. If held with another value: that holder. If it
 * was gone again by the time it was read: created again, `rounds` times at
 * most (then the last failure is thrown).
 */
export async function claimKey(kv: KV, key: string, value: string, rounds = 5): Promise<Claim> {
  for (let round = 1; ; round++) {
    try {
      return { revision: await kv.create(key, value) };
    } catch (e) {
      if (!isConflict(e)) throw e;
      const held = await kv.get(key);
      if (held !== null && held.operation === 'PUT') return held.string() === value ? { revision: held.revision } : { holder: held };
      if (round >= rounds) throw e;
    }
  }
}
