// Waiting on NATS or JetStream with a bound: a scrape's round trip, each step
// of a node's stop. One helper, so every such wait clears its timer.

/** `p`'s value, or undefined once `ms` have passed first. */
export async function within<T>(p: Promise<T> | undefined, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); });
  try { return await Promise.race([p, late]); } finally { clearTimeout(timer); }
}
