// Words and numbers the page shows. Deadlines from the server are ms since
// the epoch; `skewMs` (server clock minus ours) corrects a browser clock that
// is off, so a countdown ends when the server's deadline does.
import type { MachineState, TurnResult } from '@clawgate/protocol';

/** Whole seconds left until `deadline` (never negative; rounds up so "0" means over). */
export function secondsLeft(deadline: number, now: number, skewMs = 0): number {
  return Math.max(0, Math.ceil((deadline - (now + skewMs)) / 1000));
}

/** `m:ss` for a countdown. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** A rough wait: "less than a minute", "about 2 min". */
export function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'unknown';
  if (seconds < 60) return 'less than a minute';
  const m = Math.round(seconds / 60);
  return `about ${m} min`;
}

/**
 * The wait shown to a queued player. A paused machine starts no turn until
 * staff resume it, so no estimate is honest then.
 */
export function waitText(etaSeconds: number, paused: boolean): string {
  return paused ? 'unknown: the machine is paused by staff (your place is kept)' : eta(etaSeconds);
}

/** "You're next", "1 player ahead of you", ... from a 0-based position. */
export function positionText(position: number): string {
  if (position === 0) return "You're next";
  return `${position} ${position === 1 ? 'player' : 'players'} ahead of you`;
}

export function stateLabel(state: MachineState): string {
  switch (state) {
    case 'ready': return 'Free';
    case 'controlled': return 'Playing';
    case 'offline': return 'Offline';
    case 'maintenance': return 'Maintenance';
    case 'paused': return 'Paused';
  }
}

export function resultText(result: TurnResult): { title: string; detail: string } {
  switch (result) {
    case 'win': return { title: 'You won!', detail: 'The prize dropped into the chute.' };
    case 'lose': return { title: 'No prize this time', detail: 'The claw came back empty.' };
    case 'timeout': return { title: 'Turn over', detail: 'You did not confirm in time.' };
    case 'abandoned': return { title: 'Turn interrupted', detail: 'The machine lost its connection; you are back at the front of the queue.' };
    case 'skipped': return { title: 'Turn ended by staff', detail: 'An operator ended this turn.' };
  }
}

export function removedText(reason: string): string {
  switch (reason) {
    case 'left': return 'You left the queue.';
    case 'kicked': return 'An operator removed you from the queue.';
    case 'timeout': return 'You did not confirm in time, so you lost your place.';
    case 'grace_expired': return 'You were away too long and lost your place.';
    // Found by the page itself: the backend's queue no longer has us (a message was lost while we were away).
    case 'gone': return 'You are no longer in this queue (it changed while you were away).';
    case 'turn_over': return 'Your turn on this machine ended while you were away.';
    default: return `You are no longer in the queue (${reason}).`;
  }
}

/** Server clock minus ours, from an HTTP `Date` header sampled around a request. */
export function skewFromDateHeader(dateHeader: string | null, sentAt: number, receivedAt: number): number {
  if (!dateHeader) return 0;
  const server = Date.parse(dateHeader);
  if (Number.isNaN(server)) return 0;
  // Date has 1 s resolution: only correct a skew larger than that uncertainty.
  const skew = server + 500 - (sentAt + receivedAt) / 2;
  return Math.abs(skew) > 1500 ? Math.round(skew) : 0;
}
