// The spectator drawing computed from the retained lines payload.
import t from 'tap';
import type { LinesPayload } from '@clawgate/protocol';
import { BOX, PRIZE_R, boxView, clawDrawing, prizeDrawing, videoKind } from '../src/logic/claw-view.js';

const released = { up: false, down: false, left: false, right: false, drop: false, coin: false };
const lines = (o: Partial<typeof released> = {}, claw?: LinesPayload['claw'], prize = false): LinesPayload => ({ outputs: { ...released, ...o }, inputs: { prize }, ...(claw ? { claw } : {}) });

t.test('the claw is placed in the box: front at the bottom, left at the left', async (t) => {
  const home = clawDrawing({ x: 0, y: 0, z: 1, holding: false });
  const backRight = clawDrawing({ x: 1, y: 1, z: 1, holding: false });
  t.ok(home.cx < BOX / 2 && home.cy > BOX / 2, 'x=0 y=0 is the front-left corner (the chute)');
  t.ok(backRight.cx > BOX / 2 && backRight.cy < BOX / 2, 'x=1 y=1 is back-right');
  const centre = clawDrawing({ x: 0.5, y: 0.5, z: 1, holding: false });
  t.equal(centre.cx, BOX / 2);
  t.equal(centre.cy, BOX / 2);
  t.ok(clawDrawing({ x: 0, y: 0, z: 0, holding: false }).r < home.r, 'a lowered claw is drawn smaller (farther from the camera)');
  t.equal(clawDrawing({ x: 0, y: 0, z: 0, holding: false }).lowered, 1);
  const wild = clawDrawing({ x: 7, y: -3, z: Number.NaN, holding: true });
  t.ok(wild.cx <= BOX && wild.cy <= BOX && wild.cx >= 0 && wild.cy >= 0, 'out-of-range values stay inside the box');
});

t.test('moving right moves the drawing right', async (t) => {
  const a = boxView(lines({}, { x: 0.2, y: 0.5, z: 1, holding: false }));
  const b = boxView(lines({ right: true }, { x: 0.3, y: 0.5, z: 1, holding: false }));
  t.ok(b.claw!.cx > a.claw!.cx);
  t.equal(b.outputs.right, true);
  t.match(b.caption, /moving right/);
});

t.test('captions describe what the lines say', async (t) => {
  t.equal(boxView(undefined).caption, 'No picture from this machine yet.');
  t.equal(boxView(undefined).claw, undefined);
  t.equal(boxView(lines()).caption, 'The claw is still.');
  t.match(boxView(lines({ up: true, left: true })).caption, /moving back and left/);
  t.match(boxView(lines({ drop: true })).caption, /Dropping/);
  t.match(boxView(lines({}, undefined, true)).caption, /Prize delivered/);
  t.equal(boxView(lines({}, undefined, true)).prize, true);
  t.match(boxView(lines({}, { x: 0, y: 0, z: 0.2, holding: false })).caption, /down/);
  t.match(boxView(lines({}, { x: 0, y: 0, z: 1, holding: true })).caption, /holding a prize/);
  t.equal(boxView(lines()).claw, undefined, 'real cabinets send no position');
});

t.test('video URLs: MJPEG as an image, media as video, pages in a frame, nothing else', async (t) => {
  t.equal(videoKind('http://cam.local/stream.mjpg'), 'image');
  t.equal(videoKind('https://cam.example/video/mjpeg?x=1'), 'image');
  t.equal(videoKind('https://cdn.example/live.m3u8'), 'video');
  t.equal(videoKind('https://cdn.example/a.webm'), 'video');
  t.equal(videoKind('https://player.example/claw-1'), 'frame');
  t.equal(videoKind('javascript:alert(1)'), undefined, 'no script URLs');
  t.equal(videoKind('data:text/html,<b>'), undefined);
});

t.test('prizes are drawn where the machine says they lie, like the claw; kept by the page across motion updates', async (t) => {
  const claw = { x: 0.5, y: 0.5, z: 1, holding: false };
  const withPrizes = { ...lines({}, claw), prizes: [{ x: 0, y: 0 }, { x: 1, y: 1 }] };
  const v = boxView(withPrizes);
  t.equal(v.prizes.length, 2);
  t.same({ cx: v.prizes[0]!.cx, cy: v.prizes[0]!.cy }, { cx: clawDrawing({ ...claw, x: 0, y: 0 }).cx, cy: clawDrawing({ ...claw, x: 0, y: 0 }).cy }, 'the same place as the claw would be');
  t.equal(v.prizes[0]!.r, PRIZE_R);
  t.same(boxView(lines({}, claw), [{ x: 0.25, y: 0.75 }]).prizes, [prizeDrawing({ x: 0.25, y: 0.75 })], 'a motion update without prizes: the ones the page kept');
  t.same(boxView(lines({}, claw)).prizes, [], 'none known: none drawn');
  t.same(boxView(lines(), [{ x: 0.5, y: 0.5 }]).prizes, [], 'a real cabinet (no position) draws none');
  const far = prizeDrawing({ x: 3, y: -2 });
  t.ok(far.cx <= BOX && far.cy <= BOX && far.cx >= 0 && far.cy >= 0, 'inside the box whatever a node says');
});
