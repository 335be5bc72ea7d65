// Roles of the claw realm (who may do what is enforced by the router's
// permissions; see docs/protocol.md and the realm config the system ships).
export const Roles = {
  player: 'player',
  spectator: 'spectator',
  backend: 'backend',
  claw: 'claw',
  operator: 'operator',
} as const;

export type Role = (typeof Roles)[keyof typeof Roles];
