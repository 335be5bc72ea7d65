// Every URI of the claw protocol, in one place. Machine ids and player
// authids become URI components, so both are restricted to characters that
// are legal in a strict WAMP URI component (see isUriComponent).

export const REALM = 'claw';

/** A strict WAMP URI component: lowercase letters, digits, underscore; we also allow '-'. */
const COMPONENT = /^[0-9a-z_-]+$/;

/** True when `s` can stand as one component of a claw URI (a machine id or a player authid). */
export function isUriComponent(s: string): boolean {
  return s.length > 0 && s.length <= 64 && COMPONENT.test(s);
}

/** Procedures the backend registers. */
export const Procedures = {
  machinesList: 'claw.machines.list',
  requestSlot: 'claw.queue.request_slot',
  leave: 'claw.queue.leave',
  queueGet: 'claw.queue.get',
  turnReady: 'claw.turn.ready',
  adminPause: 'claw.admin.pause',
  adminResume: 'claw.admin.resume',
  adminSkip: 'claw.admin.skip',
  adminKick: 'claw.admin.kick',
  adminSettings: 'claw.admin.settings',
  adminTurns: 'claw.admin.turns',
} as const;

/** The prefix of every machine's URIs, with the trailing dot. */
export const MACHINE_PREFIX = 'claw.machine.';
export const PLAYER_PREFIX = 'claw.player.';

/** URIs of one machine (procedures its node registers, topics it and the backend publish). */
export function machineUris(machine: string) {
  const base = `${MACHINE_PREFIX}${machine}`;
  return {
    startTurn: `${base}.start_turn`,
    endTurn: `${base}.end_turn`,
    status: `${base}.status`,
    queue: `${base}.queue`,
    events: `${base}.events`,
    lines: `${base}.lines`,
    /** Prefix of all control topics of this machine (what the node subscribes, match prefix). */
    controlPrefix: `${base}.control.`,
    control: (authid: string) => `${base}.control.${authid}`,
  } as const;
}

/** The private topic the backend uses to talk to one player. */
export function playerTopic(authid: string): string {
  return `${PLAYER_PREFIX}${authid}`;
}

/**
 * The machine id in a claw machine URI (`claw.machine.<id>.<rest>`), or
 * undefined. `rest` is checked when given, e.g. 'start_turn' or 'status'.
 */
export function machineOf(uri: string, rest?: string): string | undefined {
  if (!uri.startsWith(MACHINE_PREFIX)) return undefined;
  const tail = uri.slice(MACHINE_PREFIX.length);
  const dot = tail.indexOf('.');
  if (dot <= 0) return undefined;
  const id = tail.slice(0, dot);
  if (!isUriComponent(id)) return undefined;
  if (rest !== undefined && tail.slice(dot + 1) !== rest) return undefined;
  return id;
}

/**
 * Optional procedure a claw node may register beside start_turn/end_turn:
 * `claw.machine.<id>.release` releases every line at once while the turn and
 * its timers go on (the backend calls it when the player in control loses
 * their last session). A node without it relies on its hold timeout.
 */
export function machineReleaseUri(machine: string): string {
  return `${MACHINE_PREFIX}${machine}.release`;
}
