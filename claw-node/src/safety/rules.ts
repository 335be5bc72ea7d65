// The safety rules as pure functions, so each is tested on its own.
import type { Direction, OutputName } from '@clawgate/protocol';

export type PulseName = 'coin' | 'drop';

const OPPOSITE: Record<Direction, Direction> = { up: 'down', down: 'up', left: 'right', right: 'left' };

export function opposite(d: Direction): Direction {
  return OPPOSITE[d];
}

export function isDirection(name: OutputName): name is Direction {
  return name === 'up' || name === 'down' || name === 'left' || name === 'right';
}

/** When a pulse may start: now, or once the minimum gap after the previous one has passed. */
export function pulseStart(now: number, lastEnd: number, gapMs: number): number {
  return Math.max(now, lastEnd + gapMs);
}

/** True when asserting `name` would assert two opposite directions at once. */
export function violatesInterlock(levels: Readonly<Record<OutputName, boolean>>, name: OutputName, asserted: boolean): boolean {
  return asserted && isDirection(name) && levels[opposite(name)];
}
