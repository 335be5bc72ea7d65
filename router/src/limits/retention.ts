// May the broker keep one more retained event? Pure: the broker passes what
// it holds. Replacing a topic's retained event never adds to the count, only
// the difference in bytes.
import type { RealmLimits } from './limits-config.js';

export interface RetainedHoldings {
  /** Topics with a retained event now. */
  count: number;
  /** Bytes of all retained events now. */
  bytes: number;
}

/**
 * A refusal message, or undefined when an event of `size` bytes may be
 * retained on a topic whose current retained event has `replacing` bytes
 * (undefined: the topic has none yet).
 */
export function retainRefusal(limits: Pick<RealmLimits, 'maxRetained' | 'maxRetainedSize' | 'maxRetainedBytes'>, held: RetainedHoldings, size: number, replacing: number | undefined): string | undefined {
  if (limits.maxRetainedSize !== null && size > limits.maxRetainedSize) {
    return `an event of ${size} bytes is larger than the ${limits.maxRetainedSize} bytes an event may have to be retained (max_retained_size)`;
  }
  if (replacing === undefined && limits.maxRetained !== null && held.count >= limits.maxRetained) {
    return `the realm already retains events on ${held.count} topics (max_retained)`;
  }
  if (limits.maxRetainedBytes !== null && held.bytes - (replacing ?? 0) + size > limits.maxRetainedBytes) {
    return `retaining ${size} more bytes would pass the realm's ${limits.maxRetainedBytes} bytes of retained events (max_retained_bytes)`;
  }
  return undefined;
}
