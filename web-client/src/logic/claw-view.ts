// The spectator view: the retained `lines` topic as a claw-in-a-box seen
// from above. The simulated node adds the claw's position (x left→right,
// y front→back, z floor→top, all 0..1); real cabinets only have line levels,
// and then the view shows those (and the video slot carries the picture).
import { OUTPUTS, type LinesPayload, type OutputName } from '@clawgate/protocol';

/** The drawing's coordinate system: a square viewBox of this size, front of the cabinet at the bottom. */
export const BOX = 100;
const MARGIN = 8;

export interface ClawDrawing {
  /** Centre of the claw in viewBox units. */
  cx: number;
  cy: number;
  /** Radius: bigger when the claw is high (nearer the camera above the box). */
  r: number;
  /** Cable length drawn from the gantry, 0..1 (0 = at the top). */
  lowered: number;
  holding: boolean;
}

/** A prize lying in the box (simulated machines), in viewBox units. */
export interface PrizeDrawing { cx: number; cy: number; r: number }

/** Drawn size of a prize (viewBox units): about the simulator's grab radius across. */
export const PRIZE_R = 3.6;

export interface BoxView {
  claw: ClawDrawing | undefined;
  /** Where the prizes lie, when the machine says (simulated machines); empty otherwise. */
  prizes: PrizeDrawing[];
  outputs: Record<OutputName, boolean>;
  prize: boolean;
  /** One line for screen readers and the caption. */
  caption: string;
}

const clamp01 = (v: number) => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);

export function clawDrawing(c: { x: number; y: number; z: number; holding: boolean }): ClawDrawing {
  const span = BOX - 2 * MARGIN;
  const z = clamp01(c.z);
  return {
    cx: MARGIN + clamp01(c.x) * span,
    cy: MARGIN + (1 - clamp01(c.y)) * span,
    r: 4 + 3 * z,
    lowered: 1 - z,
    holding: c.holding,
  };
}

/** Where a prize at (x, y) in the box (0..1, like the claw) is drawn. */
export function prizeDrawing(p: { x: number; y: number }): PrizeDrawing {
  const span = BOX - 2 * MARGIN;
  return { cx: MARGIN + clamp01(p.x) * span, cy: MARGIN + (1 - clamp01(p.y)) * span, r: PRIZE_R };
}

/**
 * `prizes`: the last prize positions the machine published (the lines
 * topic leaves them out of motion updates, so the page keeps them).
 */
export function boxView(lines: LinesPayload | undefined, prizes: readonly { x: number; y: number }[] = lines?.prizes ?? []): BoxView {
  const outputs = Object.fromEntries(OUTPUTS.map((o) => [o, lines?.outputs[o] === true])) as Record<OutputName, boolean>;
  const claw = lines?.claw ? clawDrawing(lines.claw) : undefined;
  const prize = lines?.inputs.prize === true;
  return { claw, prizes: claw ? prizes.map(prizeDrawing) : [], outputs, prize, caption: caption(outputs, claw, prize, lines !== undefined) };
}

function caption(outputs: Record<OutputName, boolean>, claw: ClawDrawing | undefined, prize: boolean, known: boolean): string {
  if (!known) return 'No picture from this machine yet.';
  const moving = (['up', 'down', 'left', 'right'] as const).filter((d) => outputs[d]);
  const parts: string[] = [];
  if (prize) parts.push('Prize delivered!');
  if (outputs.drop) parts.push('Dropping the claw.');
  if (moving.length > 0) parts.push(`Claw moving ${moving.map((d) => DIRECTION_WORDS[d]).join(' and ')}.`);
  if (claw?.holding) parts.push('The claw is holding a prize.');
  if (parts.length === 0) parts.push(claw && claw.lowered > 0.05 ? 'The claw is down.' : 'The claw is still.');
  return parts.join(' ');
}

const DIRECTION_WORDS = { up: 'back', down: 'forward', left: 'left', right: 'right' } as const;

/** How a machine's video URL is shown: an MJPEG stream is an image, a media file a video, anything else a page. */
export function videoKind(url: string): 'image' | 'video' | 'frame' | undefined {
  let u: URL;
  try { u = new URL(url, 'http://localhost/'); } catch { return undefined; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const path = u.pathname.toLowerCase();
  if (/\.(mjpe?g|jpe?g|png)$/.test(path) || path.includes('mjpeg')) return 'image';
  if (/\.(mp4|webm|ogv|m3u8)$/.test(path)) return 'video';
  return 'frame';
}
