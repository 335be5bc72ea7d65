// The synthetic camera's picture of a simulated cabinet (pure): the box seen
// from above, the prizes, the claw (its size says how low it hangs), and the
// send-time stamp on top (STAMP in @clawgate/protocol). Drawn small (a
// quarter of the output size each way, RGB) and scaled up by ffmpeg with
// nearest-neighbour; the empty box is drawn once and copied. A frame costs
// the node's thread ~50 µs (measured on this project's 2-core VM: 0.15 % of a
// core at 30 fps) and ~58 KB through the pipe at 640 × 480.
import { STAMP, stampBits } from '@clawgate/protocol';

export interface Scene {
  claw: { x: number; y: number; z: number; holding: boolean } | undefined;
  prizes: readonly { x: number; y: number }[];
}

export interface Frame { width: number; height: number; data: Buffer; /** The empty box, drawn once and copied into each frame. */ background?: Buffer }

export function newFrame(width: number, height: number): Frame {
  return { width, height, data: Buffer.alloc(width * height * 3) };
}

type Rgb = readonly [number, number, number];
const BACKGROUND: Rgb = [28, 32, 48];
const FLOOR: Rgb = [52, 60, 88];
const PRIZE: Rgb = [236, 170, 40];
const CLAW: Rgb = [200, 210, 225];
const HELD: Rgb = [236, 170, 40];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];

function rect(f: Frame, x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
  const xa = Math.max(0, Math.floor(x0)), xb = Math.min(f.width, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0)), yb = Math.min(f.height, Math.ceil(y1));
  for (let y = ya; y < yb; y++) {
    let i = (y * f.width + xa) * 3;
    for (let x = xa; x < xb; x++) { f.data[i++] = c[0]; f.data[i++] = c[1]; f.data[i++] = c[2]; }
  }
}

/** Paints `scene` and the stamp of `nowMs` into `f` (every pixel is written). */
export function renderFrame(f: Frame, scene: Scene, nowMs: number): void {
  const { width: w, height: h } = f;
  // The box below the stamp strip, square-ish, centred.
  const top = Math.ceil(h / STAMP.rows) + 2;
  const size = Math.min(w - 4, h - top - 2);
  const left = Math.floor((w - size) / 2);
  if (f.background === undefined) {
    rect(f, 0, 0, w, h, BACKGROUND);
    rect(f, left, top, left + size, top + size, FLOOR);
    f.background = Buffer.from(f.data);
  } else {
    f.background.copy(f.data);
  }
  const at = (x: number, y: number) => [left + x * size, top + y * size] as const;
  const prize = Math.max(2, size / 16);
  for (const p of scene.prizes) {
    const [x, y] = at(p.x, p.y);
    rect(f, x - prize / 2, y - prize / 2, x + prize / 2, y + prize / 2, PRIZE);
  }
  if (scene.claw) {
    const [x, y] = at(scene.claw.x, scene.claw.y);
    // Lower claws look smaller from above.
    const s = Math.max(3, (size / 8) * (1 - 0.5 * Math.min(1, Math.max(0, scene.claw.z))));
    rect(f, x - s / 2, y - s / 2, x + s / 2, y + s / 2, CLAW);
    if (scene.claw.holding) rect(f, x - s / 4, y - s / 4, x + s / 4, y + s / 4, HELD);
  }
  // The stamp: one block per bit on the top strip.
  const bw = w / STAMP.columns;
  const bh = h / STAMP.rows;
  rect(f, 0, 0, w, bh, BLACK);
  stampBits(nowMs).forEach((bit, i) => { if (bit) rect(f, i * bw, 0, (i + 1) * bw, bh, WHITE); });
}
