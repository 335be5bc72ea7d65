// Timing and size defaults the protocol names. Machines may override the
// per-machine ones through claw.admin.settings; nodes through their config.
export const Defaults = {
  /** How long the player at the front has to confirm with claw.turn.ready. */
  readyWindowSeconds: 15,
  /** How long a waiting player whose session dropped keeps their place. */
  graceSeconds: 120,
  /** Length of the move phase of a turn. */
  moveSeconds: 30,
  /** A held direction is re-sent at least this often by the player page. */
  repeatMs: 200,
  /** A claw node releases a direction not refreshed within this time. */
  holdTimeoutMs: 600,
  /** Longest queue per machine. */
  maxQueue: 50,
} as const;

/** Display names: 1–24 printable characters, no control characters. */
export function isValidName(name: unknown): name is string {
  if (typeof name !== 'string') return false;
  const chars = [...name];
  if (chars.length < 1 || chars.length > 24) return false;
  if (name.trim().length === 0) return false;
  return !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name);
}
