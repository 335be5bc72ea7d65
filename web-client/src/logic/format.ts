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
 * staff resume it, nor does one whose node is away, so no estimate is
 * honest then. Otherwise the backend's `etaAt` (when it expects to ask the
 * player; it moves with every change of the queue) counted from now, else
 * the `etaSeconds` of the last position message.
 */
export function waitText(etaSeconds: number, paused: boolean, o: { etaAt?: number | undefined; now?: number; skewMs?: number; state?: MachineState } = {}): string {
  if (o.state === 'offline' || o.state === 'maintenance') return `unknown: the machine is ${o.state === 'offline' ? 'offline' : 'in maintenance'} (your place is kept)`;
  if (paused) return 'unknown: the machine is paused by staff (your place is kept)';
  if (o.etaAt !== undefined && o.now !== undefined) return eta(Math.max(0, (o.etaAt - (o.now + (o.skewMs ?? 0))) / 1000));
  return eta(etaSeconds);
}

/** "in about 10 min" / "in less than a minute" until `until` (ms). */
export function untilText(until: number, now: number, skewMs = 0): string {
  const s = Math.max(0, (until - (now + skewMs)) / 1000);
  return s < 60 ? 'in less than a minute' : `in about ${Math.ceil(s / 60)} min`;
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

export function removedText(reason: string, blockedUntil?: number, now = Date.now(), skewMs = 0): string {
  switch (reason) {
    case 'left': return 'You left the queue.';
    case 'kicked': return blockedUntil !== undefined && blockedUntil > now + skewMs
      ? `An operator removed you from the queue. You can join this machine again ${untilText(blockedUntil, now, skewMs)}.`
      : 'An operator removed you from the queue.';
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
