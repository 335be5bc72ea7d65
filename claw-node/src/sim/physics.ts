// The simulated machine's physics as pure functions: a claw in a unit box
// (x: left→right, y: front→back, z: floor→top), moving at a fixed speed
// while direction lines are held, stopped by the walls.
import type { Direction } from '@clawgate/protocol';

export interface Point { x: number; y: number }

export const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

const VECTORS: Record<Direction, Point> = { up: { x: 0, y: 1 }, down: { x: 0, y: -1 }, left: { x: -1, y: 0 }, right: { x: 1, y: 0 } };

/** Where the claw is after `dtMs` with the given directions held (walls stop it). */
export function moveClaw(pos: Point, held: readonly Direction[], speedPerS: number, dtMs: number): Point {
  const step = (speedPerS * dtMs) / 1000;
  let { x, y } = pos;
  for (const d of held) { x += VECTORS[d].x * step; y += VECTORS[d].y * step; }
  return { x: clamp01(x), y: clamp01(y) };
}

/** One step of at most `maxDist` from `from` towards `to`. */
export function stepTowards(from: Point, to: Point, maxDist: number): Point {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const d = Math.hypot(dx, dy);
  if (d <= maxDist || d === 0) return { ...to };
  return { x: from.x + (dx / d) * maxDist, y: from.y + (dy / d) * maxDist };
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/**
 * How likely the claw closes on a prize `d` away from its centre: the full
 * `maxProbability` dead centre, falling off quadratically to 0 at `radius`.
 */
export function grabProbability(d: number, radius: number, maxProbability: number): number {
  if (d >= radius) return 0;
  const r = d / radius;
  return maxProbability * (1 - r * r);
}

/** The prize nearest to `p`, if any. */
export function nearest<T extends Point>(p: Point, prizes: readonly T[]): { prize: T; d: number } | undefined {
  let best: { prize: T; d: number } | undefined;
  for (const prize of prizes) {
    const d = distance(p, prize);
    if (best === undefined || d < best.d) best = { prize, d };
  }
  return best;
}
