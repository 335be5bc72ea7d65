// Which statuses the backend does not act on (docs/protocol.md, "status").
import type { StatusPayload } from '@clawgate/protocol';

/**
 * A lost session's testament that comes after its node's newer session
 * spoke: `offline` without `reason` (the router publishes the testament the
 * node set when its session opened; the node's own `offline` has a reason or
 * is newer) and `since` before the status held. On a router cluster the
 * other nodes publish a killed node's testaments only when they see it gone
 * (up to 2.75 s later), and the claw may be back on another node by then,
 * ready. While the machine's start_turn is registered a session speaks for
 * it, so such a testament is dropped; without a registration it is taken
 * (the machine is gone either way).
 */
export function isStaleTestament(held: Pick<StatusPayload, 'state' | 'since'> | undefined, incoming: Pick<StatusPayload, 'state' | 'since' | 'reason'>, registered: boolean): boolean {
  return registered && held !== undefined && incoming.state === 'offline' && incoming.reason === undefined && incoming.since < held.since;
}
