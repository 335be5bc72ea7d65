// What happens after Space, told from what the page already receives: the
// machine's retained `lines` topic. A simulated node adds the claw's height
// (`claw.z`, 1 = top), so the page can follow lower → close → raise → back to
// the chute; a real cabinet only has line levels (the drop pulse, the prize
// input), so its progress is coarser. Stages only move forward: a late or
// repeated `lines` message never takes the progress back.
// Newer nodes say more: what the simulated claw is doing (`claw.phase`) and
// the turn's phase (`turnPhase`), so the stages come from the node itself and
// a page reloaded after the claw came back up still knows a drop is on.
import type { ClawMotion, LinesPayload } from '@clawgate/protocol';

export type DropStage = 'sent' | 'lowering' | 'closing' | 'raising' | 'returning' | 'settling' | 'delivered';

export interface DropProgress {
  stage: DropStage;
  /** The lowest claw height seen since the drop (simulated nodes), to notice the claw rising again. */
  lowest: number | undefined;
  /** Whether a line-level machine has shown its drop pulse yet. */
  pulseSeen: boolean;
  /** Whether the node's `claw.phase` has shown the claw at work since the drop (so `idle` again means it is done). */
  moved?: boolean;
}

const ORDER: readonly DropStage[] = ['sent', 'lowering', 'closing', 'raising', 'returning', 'settling', 'delivered'];
/** The claw counts as at the top above this height, at the bottom below BOTTOM. */
const TOP = 0.95;
const BOTTOM = 0.05;
/** Risen this much above the lowest point: on its way up (lines come at most every ~100 ms, so the bottom itself may be missed). */
const RISE = 0.05;
/** Within this distance of the chute (x = y = 0). */
const HOME = 0.03;

export function startDrop(): DropProgress {
  return { stage: 'sent', lowest: undefined, pulseSeen: false };
}

const later = (a: DropStage, b: DropStage): DropStage => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a);

/** The stage the simulated claw's own phase means (idle: none by itself). */
const MOTION_STAGE: Record<ClawMotion, DropStage | undefined> = {
  idle: undefined, lowering: 'lowering', grabbing: 'closing', raising: 'raising', returning: 'returning', releasing: 'settling',
};

/** The progress after one more `lines` message. */
export function advanceDrop(p: DropProgress, lines: LinesPayload): DropProgress {
  if (p.stage === 'delivered') return p;
  if (lines.inputs.prize) return { ...p, stage: 'delivered' };
  const claw = lines.claw;
  if (claw?.phase !== undefined) {
    // The node says what the claw does: no guessing from heights.
    const motion = MOTION_STAGE[claw.phase];
    let stage: DropStage = p.stage;
    if (lines.outputs.drop) stage = later(stage, 'lowering');
    if (motion !== undefined) stage = later(stage, motion);
    else if (p.moved) stage = later(stage, 'settling'); // back at rest after the cycle
    if (lines.turnPhase === 'prize') stage = later(stage, 'settling');
    const lowest = p.lowest === undefined ? claw.z : Math.min(p.lowest, claw.z);
    return { stage, lowest, pulseSeen: p.pulseSeen || lines.outputs.drop, moved: p.moved || motion !== undefined };
  }
  if (!claw) {
    // Line levels only: the drop pulse, then the cabinet's own cycle (nothing to see until the prize input or the result).
    if (lines.outputs.drop) return { ...p, stage: later(p.stage, 'lowering'), pulseSeen: true };
    return p.pulseSeen ? { ...p, stage: later(p.stage, 'settling') } : p;
  }
  const z = claw.z;
  const lowest = p.lowest === undefined ? z : Math.min(p.lowest, z);
  let stage: DropStage = p.stage;
  if (z < TOP || lines.outputs.drop) stage = later(stage, 'lowering');
  if (lowest <= BOTTOM) stage = later(stage, 'closing');
  if (lowest < TOP - RISE && z > lowest + RISE) stage = later(stage, 'raising');
  if (ORDER.indexOf(stage) >= ORDER.indexOf('raising') && z >= TOP) stage = later(stage, 'returning');
  if (stage === 'returning' && claw.x <= HOME && claw.y <= HOME && !claw.holding) stage = 'settling';
  return { stage, lowest, pulseSeen: p.pulseSeen || lines.outputs.drop };
}

/** Words and a step count for the turn panel (`step` of `steps`, for a progress bar). */
export function dropText(p: DropProgress, holding = false): { text: string; step: number; steps: number } {
  const steps = ORDER.length - 1;
  const step = Math.min(steps, ORDER.indexOf(p.stage) + 1);
  switch (p.stage) {
    case 'sent': return { text: 'Dropping the claw…', step, steps };
    case 'lowering': return { text: p.lowest === undefined ? 'The claw is dropping…' : 'Lowering the claw…', step, steps };
    case 'closing': return { text: 'Closing the claw…', step, steps };
    case 'raising': return { text: holding ? 'Raising the claw: it has something!' : 'Raising the claw…', step, steps };
    case 'returning': return { text: holding ? 'Bringing the prize to the chute…' : 'Bringing the claw back to the chute…', step, steps };
    case 'settling': return { text: 'Waiting for the result…', step, steps };
    case 'delivered': return { text: 'Prize delivered!', step: steps, steps };
  }
}

/**
 * The machine's lines show a drop the page did not send (the turn timer ran
 * out, or a drop from before a reload): the turn's phase says so (newer
 * nodes), or the drop line, or a claw at work or lowered.
 */
export function dropUnderway(lines: LinesPayload): boolean {
  if (lines.turnPhase === 'drop' || lines.turnPhase === 'prize') return true;
  if (lines.turnPhase === 'move' || lines.turnPhase === 'coin') return false;
  return lines.outputs.drop || (lines.claw !== undefined && ((lines.claw.phase !== undefined && lines.claw.phase !== 'idle') || lines.claw.z < TOP - RISE));
}
