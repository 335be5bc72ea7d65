// The wiring check's little language (`clawgate-claw test --script`, and each
// line typed in the interactive mode): pure parsing, every limit checked here,
// so a typo never reaches a relay.
//   up[:ms] down[:ms] left[:ms] right[:ms]   jog one direction (default: --jog-ms)
//   coin  drop                               one pulse, the config's length and gap
//   prize                                    read the prize input once
//   prize:s                                  watch the prize input for s seconds, report every edge
//   wait:ms                                  pause
//   all                                      up down left right coin drop prize
import type { Direction } from '@clawgate/protocol';

export type Step =
  | { kind: 'jog'; dir: Direction; ms: number }
  | { kind: 'pulse'; name: 'coin' | 'drop' }
  | { kind: 'read' }
  | { kind: 'watch'; seconds: number }
  | { kind: 'wait'; ms: number };

/** Bounds: a jog long enough to cross a cabinet, short enough that a typo cannot grind an end stop for minutes. */
export const MAX_JOG_MS = 10_000;
export const MAX_WAIT_MS = 60_000;
export const MAX_WATCH_SECONDS = 300;
export const MAX_STEPS = 200;
export const DEFAULT_JOG_MS = 500;

export const STEPS_HELP = [
  'steps (separated by spaces or commas):',
  `  up[:ms] down[:ms] left[:ms] right[:ms]  jog one direction (1-${MAX_JOG_MS} ms; default the --jog-ms value)`,
  '  coin | drop                             one pulse (timings.coinPulseMs / dropPulseMs, with their gaps)',
  '  prize                                   read the prize input',
  `  prize:s                                 watch the prize input for s seconds (1-${MAX_WATCH_SECONDS}), print every edge`,
  `  wait:ms                                 pause (0-${MAX_WAIT_MS} ms)`,
  '  all                                     up down left right coin drop prize',
].join('\n');

export class StepError extends Error {
  override readonly name = 'StepError';
}

const DIRECTIONS = new Set(['up', 'down', 'left', 'right']);

function int(token: string, value: string, min: number, max: number, unit: string): number {
  if (!/^\d+$/.test(value)) throw new StepError(`"${token}": ${value === '' ? 'a number is missing' : `"${value}" is not a whole number`} (${unit})`);
  const n = Number(value);
  if (n < min || n > max) throw new StepError(`"${token}": ${n} ${unit} is out of range (${min}-${max})`);
  return n;
}

export function parseSteps(text: string, jogMs = DEFAULT_JOG_MS): Step[] {
  const tokens = text.trim().split(/[\s,]+/).filter(Boolean);
  const steps: Step[] = [];
  for (const token of tokens) {
    const [head, value, extra] = token.toLowerCase().split(':');
    if (extra !== undefined) throw new StepError(`"${token}": one ":" at most`);
    if (head === 'all' && value === undefined) {
      for (const d of ['up', 'down', 'left', 'right'] as const) steps.push({ kind: 'jog', dir: d, ms: jogMs });
      steps.push({ kind: 'pulse', name: 'coin' }, { kind: 'pulse', name: 'drop' }, { kind: 'read' });
    } else if (DIRECTIONS.has(head!)) {
      steps.push({ kind: 'jog', dir: head as Direction, ms: value === undefined ? jogMs : int(token, value, 1, MAX_JOG_MS, 'ms') });
    } else if ((head === 'coin' || head === 'drop') && value === undefined) {
      steps.push({ kind: 'pulse', name: head });
    } else if (head === 'prize') {
      steps.push(value === undefined ? { kind: 'read' } : { kind: 'watch', seconds: int(token, value, 1, MAX_WATCH_SECONDS, 's') });
    } else if (head === 'wait' && value !== undefined) {
      steps.push({ kind: 'wait', ms: int(token, value, 0, MAX_WAIT_MS, 'ms') });
    } else {
      throw new StepError(`"${token}" is not a step. ${STEPS_HELP}`);
    }
    if (steps.length > MAX_STEPS) throw new StepError(`more than ${MAX_STEPS} steps`);
  }
  return steps;
}
