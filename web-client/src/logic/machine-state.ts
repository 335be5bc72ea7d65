// What the pages show as a machine's state, from the three sources they
// have: the node's retained status, the backend's queue snapshot and the
// machine list. Shared by the player page and the dashboard.
import type { MachineState } from '@clawgate/protocol';

/** A queue snapshot or a machine summary: `state`, and `paused` when the backend sends it. */
export interface PausedSource { state: MachineState; paused?: unknown }

/**
 * Whether an operator has paused the machine. The backend's `state` says
 * `paused` only while the node is `ready`; a pause during a turn leaves it
 * `controlled`. An explicit boolean `paused` field (passthrough, sent by
 * backends that have it) is the truth; without it, `paused` and `ready` are
 * definite and anything else keeps what the page knew.
 */
export function pausedAfter(previous: boolean, p: PausedSource): boolean {
  if (typeof p.paused === 'boolean') return p.paused;
  if (p.state === 'paused') return true;
  if (p.state === 'ready') return false;
  return previous;
}

/** The node's own state (`paused` from the backend means the node is `ready`). */
export function nodeState(status: MachineState | undefined, queue: MachineState | undefined, summary: MachineState): MachineState {
  const s = status ?? queue ?? summary;
  return s === 'paused' ? 'ready' : s;
}

/** The state to show: offline and maintenance first, then an operator's pause, then the node's state. */
export function shownState(node: MachineState, paused: boolean): MachineState {
  if (node === 'offline' || node === 'maintenance') return node;
  return paused ? 'paused' : node;
}
