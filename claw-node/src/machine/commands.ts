// Which control commands the node obeys: only the current player's (by the
// router-disclosed publisher authid), only during the move phase.
import { Command, type Direction } from '@clawgate/protocol';

export type TurnPhase = 'coin' | 'move' | 'drop' | 'prize';

export type CommandVerdict = 'accept' | 'no_turn' | 'not_player' | 'invalid' | 'wrong_phase';
export type IgnoredReason = Exclude<CommandVerdict, 'accept'>;

export function classifyCommand(
  turn: { player: string; phase: TurnPhase } | undefined,
  publisherAuthid: string | undefined,
  command: Command | undefined,
): CommandVerdict {
  if (turn === undefined) return 'no_turn';
  if (publisherAuthid === undefined || publisherAuthid !== turn.player) return 'not_player';
  if (command === undefined) return 'invalid';
  if (turn.phase !== 'move') return 'wrong_phase';
  return 'accept';
}

export type Action = { kind: 'hold'; dir: Direction } | { kind: 'release'; dir: Direction } | { kind: 'drop' };

export function actionOf(command: Command): Action {
  if (command === 'drop') return { kind: 'drop' };
  const on = command.endsWith('On');
  const dir = command.slice(0, on ? -2 : -3) as Direction;
  return on ? { kind: 'hold', dir } : { kind: 'release', dir };
}

/** The command in an EVENT payload (args[0]), or undefined when it is not one. */
export function parseCommand(payload: unknown): Command | undefined {
  const r = Command.safeParse((payload as { command?: unknown } | null | undefined)?.command);
  return r.success ? r.data : undefined;
}
