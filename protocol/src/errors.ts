// Error URIs of the claw protocol. Every one is a WAMP error URI the backend
// or a claw node raises; clients switch on these, never on message text.
export const ClawErrors = {
  noSuchMachine: 'claw.error.no_such_machine',
  queueFull: 'claw.error.queue_full',
  notInQueue: 'claw.error.not_in_queue',
  notYourTurn: 'claw.error.not_your_turn',
  machineOffline: 'claw.error.machine_offline',
  machineBusy: 'claw.error.machine_busy',
  machinePaused: 'claw.error.machine_paused',
  rateLimited: 'claw.error.rate_limited',
  invalidArgument: 'claw.error.invalid_argument',
  notIdentified: 'claw.error.not_identified',
  noTurn: 'claw.error.no_turn',
  /** Players minted from one client address already hold the per-address share of this machine's queue. */
  quotaExceeded: 'claw.error.quota_exceeded',
  /** An operator kicked the caller from this machine's queue with a block: no new join until `until` (kwargs, ms). */
  blocked: 'claw.error.blocked',
} as const;

export type ClawErrorUri = (typeof ClawErrors)[keyof typeof ClawErrors];

/**
 * `error` codes in the JSON body of a refused POST /api/session (HTTP has no
 * WAMP error URI; the status code says the class, this says the reason).
 */
export const SessionErrors = {
  invalidName: 'invalid_name',
  invalidJson: 'invalid_json',
  tooLarge: 'too_large',
  /** 429, with Retry-After: too many requests, or too many new guests, from this client address. */
  rateLimited: 'rate_limited',
  unavailable: 'unavailable',
} as const;

export type SessionErrorCode = (typeof SessionErrors)[keyof typeof SessionErrors];
