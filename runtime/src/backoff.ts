// Reconnect delays, one formula for every ClawGate client: the Node link
// (backend, claw node) and the browser pages. Exponential from `initialMs` up
// to `maxMs`, with ± `jitter` spread so that a fleet of nodes or a room of
// pages does not hit a restarted router at once; never above `maxMs`, so
// "at most N s apart" holds with the jitter too.
//
// Pure and browser-safe (no Node imports): the pages' bundle imports it as
// `@clawgate/runtime/backoff`.

export interface Backoff {
  /** The first retry's delay (ms). */
  initialMs: number;
  /** No delay is longer (ms), jitter included. */
  maxMs: number;
  /** Growth per retry (≥ 1). */
  factor: number;
  /** Fraction of the delay that is randomized, either way (0.2: ±20 %). */
  jitter: number;
}

/**
 * The delay before retry `retry` (0 = the first after a loss; negative counts as 0).
 * `random` in [0, 1): 0.5 is the delay without jitter.
 */
export function backoffDelay(retry: number, b: Backoff, random: number = Math.random()): number {
  const base = Math.min(b.maxMs, b.initialMs * b.factor ** Math.max(0, retry));
  const jittered = base * (1 + b.jitter * (2 * random - 1));
  return Math.max(0, Math.round(Math.min(b.maxMs, jittered)));
}
