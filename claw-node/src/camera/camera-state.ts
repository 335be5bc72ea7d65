// The camera supervisor's decisions (pure): the state it reports and how long
// it waits before starting a pipeline again.
import type { CameraState } from '@clawgate/protocol';

/** `off` is final (the node stopped); everything else goes where it is told. */
export function nextState(current: CameraState, wanted: CameraState): CameraState {
  return current === 'off' ? 'off' : wanted;
}

/** The delay before restart number `failures` in a row (1 = the first): initial × factor^(failures-1), at most max. */
export function restartDelay(r: { initialDelayMs: number; maxDelayMs: number; factor: number }, failures: number): number {
  const n = Math.max(0, failures - 1);
  return Math.min(r.maxDelayMs, Math.round(r.initialDelayMs * r.factor ** Math.min(n, 30)));
}
