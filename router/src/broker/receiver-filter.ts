// Subscriber black- and whitelisting (spec: "Subscriber Black- and
// Whitelisting"). Compiled once per publication into one predicate; null when
// the publication names no lists, so the common case costs nothing.
//
// The predicate carries the options it was compiled from, as data: a
// durable event history (history-store.ts) stores their lists and compiles
// them again when it loads the event after a restart. Picking the lists out
// is left to it, so a publication pays nothing for it.
import type { Dict } from '../messages/types.js';

export interface Receiver {
  readonly id: number;
  readonly authid: string;
  readonly authrole: string;
}

export type ReceiverFilter = ((r: Receiver) => boolean) & {
  /** The options it was compiled from (the publication's, as given): receiverLists(options) is all it depends on. */
  readonly options: Dict;
};

const LIST_KEYS = ['exclude', 'exclude_authid', 'exclude_authrole', 'eligible', 'eligible_authid', 'eligible_authrole'] as const;

/** The black/whitelists among a publication's options: compileReceiverFilter(receiverLists(o)) filters as compileReceiverFilter(o). */
export function receiverLists(options: Dict): Dict {
  const lists: Dict = {};
  for (const k of LIST_KEYS) if (Array.isArray(options[k])) lists[k] = options[k];
  return lists;
}

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
  const accepts = (r: Receiver): boolean =>
    (eligible === null || eligible.has(r.id)) &&
    (eligibleAuthid === null || eligibleAuthid.has(r.authid)) &&
    (eligibleAuthrole === null || eligibleAuthrole.has(r.authrole)) &&
    (exclude === null || !exclude.has(r.id)) &&
    (excludeAuthid === null || !excludeAuthid.has(r.authid)) &&
    (excludeAuthrole === null || !excludeAuthrole.has(r.authrole));
  return Object.assign(accepts, { options });
}
