// Drop progress from the machine's lines: forward only, with and without the
// simulated node's claw position.
import t from 'tap';
import type { LinesPayload } from '@clawgate/protocol';
import { advanceDrop, dropText, dropUnderway, startDrop, type DropProgress } from '../src/logic/drop-progress.js';

const L = (o: { z?: number; x?: number; y?: number; holding?: boolean; drop?: boolean; prize?: boolean; noClaw?: boolean } = {}): LinesPayload => ({
  outputs: { up: false, down: false, left: false, right: false, drop: o.drop ?? false, coin: false },
  inputs: { prize: o.prize ?? false },
  ...(o.noClaw ? {} : { claw: { x: o.x ?? 0.5, y: o.y ?? 0.5, z: o.z ?? 1, holding: o.holding ?? false } }),
});
const walk = (seq: LinesPayload[], from: DropProgress = startDrop()) => {
  const stages: string[] = [];
  let p = from;
  for (const l of seq) { p = advanceDrop(p, l); stages.push(p.stage); }
  return { p, stages };
};

t.test('a simulated drop: lower, close, raise, back to the chute, settle, prize', async (t) => {
  const { stages } = walk([L({ drop: true }), L({ z: 0.6 }), L({ z: 0.02 }), L({ z: 0.02, holding: true }), L({ z: 0.5, holding: true }),
    L({ z: 1, holding: true, x: 0.4, y: 0.3 }), L({ z: 1, holding: true, x: 0, y: 0 }), L({ z: 1, x: 0, y: 0 }), L({ z: 1, x: 0, y: 0, prize: true })]);
  t.same(stages, ['lowering', 'lowering', 'closing', 'closing', 'raising', 'returning', 'returning', 'settling', 'delivered']);
});

t.test('coarse lines: a missed bottom still moves on once the claw rises', async (t) => {
  const { stages } = walk([L({ z: 0.7 }), L({ z: 0.2 }), L({ z: 0.4 })]);
  t.same(stages, ['lowering', 'lowering', 'raising']);
});

t.test('never backwards: an old or repeated message leaves the stage', async (t) => {
  const { p } = walk([L({ z: 0.5 }), L({ z: 0 }), L({ z: 0.5 })]);
  t.equal(p.stage, 'raising');
  t.equal(advanceDrop(p, L({ z: 0.3 })).stage, 'raising', 'z going down again does not undo raising');
  t.equal(advanceDrop(p, L({ z: 1, drop: true })).stage, 'returning');
  const delivered = advanceDrop(p, L({ prize: true }));
  t.equal(advanceDrop(delivered, L({ z: 0 })), delivered, 'delivered is final');
});

t.test('a real cabinet (line levels only): the drop pulse, then waiting, then the prize input', async (t) => {
  const { stages } = walk([L({ noClaw: true }), L({ noClaw: true, drop: true }), L({ noClaw: true }), L({ noClaw: true, prize: true })]);
  t.same(stages, ['sent', 'lowering', 'settling', 'delivered']);
  t.equal(dropText(walk([L({ noClaw: true, drop: true })]).p).text, 'The claw is dropping…', 'no height: no "lowering" claim');
});

t.test('words and steps', async (t) => {
  const s = startDrop();
  t.same(dropText(s), { text: 'Dropping the claw…', step: 1, steps: 6 });
  t.equal(dropText({ ...s, stage: 'raising', lowest: 0 }, true).text, 'Raising the claw: it has something!');
  t.equal(dropText({ ...s, stage: 'returning', lowest: 0 }, true).text, 'Bringing the prize to the chute…');
  t.same(dropText({ ...s, stage: 'delivered' }), { text: 'Prize delivered!', step: 6, steps: 6 });
  t.equal(dropText({ ...s, stage: 'settling' }).step, 6);
});

t.test('dropUnderway: the drop line or a lowered claw; steering alone is not a drop', async (t) => {
  t.notOk(dropUnderway(L({ z: 1 })));
  t.ok(dropUnderway(L({ drop: true })));
  t.ok(dropUnderway(L({ z: 0.5 })));
  t.notOk(dropUnderway(L({ noClaw: true })));
});

t.test('newer nodes say what the claw does (claw.phase) and the turn\'s phase: exact stages, also after the claw is back up', async (t) => {
  const P = (phase: string, o: { z?: number; x?: number; y?: number; holding?: boolean; drop?: boolean; prize?: boolean; turn?: string } = {}): LinesPayload => ({
    ...L(o), claw: { x: o.x ?? 0.5, y: o.y ?? 0.5, z: o.z ?? 1, holding: o.holding ?? false, phase: phase as never }, ...(o.turn ? { turnPhase: o.turn as never } : {}),
  });
  const { stages } = walk([P('idle', { turn: 'drop' }), P('lowering', { drop: true, turn: 'drop' }), P('lowering', { z: 0.3, turn: 'drop' }), P('grabbing', { z: 0, turn: 'drop' }),
    P('raising', { z: 0.5, holding: true, turn: 'drop' }), P('returning', { z: 1, holding: true, turn: 'drop' }), P('releasing', { x: 0, y: 0, turn: 'drop' }),
    P('idle', { x: 0, y: 0, turn: 'prize' }), P('idle', { x: 0, y: 0, prize: true, turn: 'prize' })]);
  t.same(stages, ['sent', 'lowering', 'lowering', 'closing', 'raising', 'returning', 'settling', 'settling', 'delivered']);
  t.equal(walk([P('idle'), P('idle')]).p.stage, 'sent', 'idle before the claw moved is not the end of the cycle');
  // A page reloaded while the claw returns at the top (nothing lowered to see): the turn phase and the claw's phase say so.
  t.ok(dropUnderway(P('returning', { z: 1 })), 'the claw at work');
  t.ok(dropUnderway(P('idle', { turn: 'prize' })), 'waiting for the prize: still the drop');
  t.notOk(dropUnderway(P('idle', { turn: 'move' })), 'the move phase is no drop');
  t.notOk(dropUnderway({ ...P('idle', { turn: 'move' }), outputs: { ...L().outputs, drop: false } }));
  t.same(walk([P('returning', { turn: 'drop' })]).stages, ['returning'], 'picked up mid-cycle: where the claw is');
});
