// Reconnect delays: exponential from initialDelayMs up to maxDelayMs, with
// ±20 % jitter so a fleet of nodes does not hit a restarted router at once.
export interface BackoffOptions { initialDelayMs: number; maxDelayMs: number; factor: number }

/** The delay before reconnect attempt `attempt` (0 = the first after a loss). */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * o.factor ** Math.max(0, attempt));
  const jitter = 1 + (random() * 0.4 - 0.2);
  return Math.round(Math.min(o.maxDelayMs, base * jitter));
}
