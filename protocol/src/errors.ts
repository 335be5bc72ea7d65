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
} as const;

export type ClawErrorUri = (typeof ClawErrors)[keyof typeof ClawErrors];
