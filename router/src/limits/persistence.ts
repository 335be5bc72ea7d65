// What persistent subscriptions (broker/persistent-subscriptions.ts) may
// hold: how many per authid and per realm, and which kept events make room
// for a new one. Pure.

/** Why one more persistent subscription can't be created for this authid, or undefined. */
export function persistentRefusal(
  limits: { perAuthid: number | null; perRealm: number | null },
  held: { authid: number; realm: number },
  authid: string,
): string | undefined {
  const { perAuthid, perRealm } = limits;
  if (perAuthid !== null && held.authid >= perAuthid) {
    return `authid "${authid}" already holds ${held.authid} persistent subscriptions (max_persistent_per_authid ${perAuthid})`;
  }
  if (perRealm !== null && held.realm >= perRealm) return `the realm already holds ${held.realm} persistent subscriptions (max_total_persistent ${perRealm})`;
  return undefined;
}

export interface QueueBounds {
  /** Events one subscription keeps. */
  readonly maxEvents: number;
  /** Bytes one subscription keeps. */
  readonly maxBytes: number;
  /** Bytes all subscriptions of the realm keep together; null: no bound. */
  readonly maxTotalBytes: number | null;
}

/**
 * Room for an event of `size` bytes in a queue of events (oldest first,
 * `bytes` together) while the realm keeps `realmBytes`: how
 * many of the oldest events go, and whether the new one is then kept. A
 * queue gives up its own oldest events, never another subscription's; when
 * even an empty queue would not fit under the realm's total, nothing goes
 * and the new event is not kept.
 */
export function makeRoom(queue: readonly { readonly size: number }[], bytes: number, realmBytes: number, size: number, b: QueueBounds): { evict: number; keep: boolean } {
  const NONE = { evict: 0, keep: false };
  if (size > b.maxBytes) return NONE;
  if (b.maxTotalBytes !== null && realmBytes - bytes + size > b.maxTotalBytes) return NONE;
  let evict = 0;
  let freed = 0;
  const over = (): boolean => queue.length - evict + 1 > b.maxEvents || bytes - freed + size > b.maxBytes
    || (b.maxTotalBytes !== null && realmBytes - freed + size > b.maxTotalBytes);
  while (over()) freed += queue[evict++]!.size;
  return { evict, keep: true };
}
