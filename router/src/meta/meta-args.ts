// Meta procedures' arguments: positional, checked one by one, with the
// argument's name in the error (`argument 1 (session) is missing or has
// the wrong type`), as Crossbar answers.
import type { Dict } from '../messages/types.js';
import { MATCH_POLICIES, type MatchPolicy } from '../messages/options.js';
import { WampError, WampErrors } from '../errors.js';
import type { Peer } from '../routing/peer.js';

/** One meta procedure: returns its result (args[0] of RESULT) or a Promise of it; throws WampError. */
export type MetaProcedure = (caller: Peer, args: unknown[], kwargs: Dict) => unknown;

export function arg<T>(args: unknown[], i: number, name: string, check: (v: unknown) => v is T): T {
  const v = args[i];
  if (!check(v)) throw new WampError(WampErrors.invalidArgument, [`argument ${i + 1} (${name}) is missing or has the wrong type`]);
  return v;
}

export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
export const isString = (v: unknown): v is string => typeof v === 'string';
export const isMatch = (v: unknown): v is MatchPolicy => typeof v === 'string' && (MATCH_POLICIES as readonly string[]).includes(v);
