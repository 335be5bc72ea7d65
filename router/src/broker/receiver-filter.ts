// Subscriber black- and whitelisting (spec: "Subscriber Black- and
// Whitelisting"). Compiled once per publication into one predicate; null when
// the publication names no lists, so the common case costs nothing.
import type { Dict } from '../messages/types.js';

export interface Receiver {
  readonly id: number;
  readonly authid: string;
  readonly authrole: string;
}

export type ReceiverFilter = (r: Receiver) => boolean;

function set<T>(v: unknown): Set<T> | null {
  return Array.isArray(v) ? new Set(v as T[]) : null;
}

export function compileReceiverFilter(options: Dict): ReceiverFilter | null {
  const exclude = set<number>(options.exclude);
  const excludeAuthid = set<string>(options.exclude_authid);
  const excludeAuthrole = set<string>(options.exclude_authrole);
  const eligible = set<number>(options.eligible);
  const eligibleAuthid = set<string>(options.eligible_authid);
  const eligibleAuthrole = set<string>(options.eligible_authrole);
  if (!exclude && !excludeAuthid && !excludeAuthrole && !eligible && !eligibleAuthid && !eligibleAuthrole) return null;
  // A receiver must pass every whitelist given and be on no blacklist.
  return (r) =>
    (eligible === null || eligible.has(r.id)) &&
    (eligibleAuthid === null || eligibleAuthid.has(r.authid)) &&
    (eligibleAuthrole === null || eligibleAuthrole.has(r.authrole)) &&
    (exclude === null || !exclude.has(r.id)) &&
    (excludeAuthid === null || !excludeAuthid.has(r.authid)) &&
    (excludeAuthrole === null || !excludeAuthrole.has(r.authrole));
}
