// The mirrored meta procedures of subscriptions and registrations
// (`wamp.subscription.*`, `wamp.registration.*`), built from one
// description for the broker's and the dealer's ObservationMap.
import type { Dict } from '../messages/types.js';
import { WampError, WampErrors } from '../errors.js';
import { isDict } from '../messages/validate.js';
import type { Peer } from '../routing/peer.js';
import type { Observation, ObservationOwner } from '../routing/observation-map.js';
import { arg, isMatch, isNumber, isString, type MetaProcedure } from './meta-args.js';

/** The reason a removed subscriber or callee is told: the caller's (3rd argument or kwargs.reason), or who removed it. */
function removalReason(caller: Peer, positional: unknown, kwargs: Dict): string {
  const given = positional ?? kwargs.reason;
  if (given === undefined || given === null) return `removed by session ${caller.id}`;
  if (typeof given !== 'string') throw new WampError(WampErrors.invalidArgument, ['reason must be a string']);
  return given;
}

/**
 * `list`, `lookup`, `match`, `get`, `list_<observer>s`, `count_<observer>s`
 * and `remove_<observer>` under `wamp.<noun>.`; argument shapes as the spec
 * and Crossbar have them.
 */
export function observationProcedures<O extends Observation>(owner: ObservationOwner<O>): Record<string, MetaProcedure> {
  const map = owner.observations;
  const { noun, observer, uriName, matching } = map.kind;
  const missing = noun === 'subscription' ? WampErrors.noSuchSubscription : WampErrors.noSuchRegistration;
  const observation = (args: unknown[]): O => {
    const id = arg(args, 0, noun, isNumber);
    const o = map.get(id);
    if (o === undefined) throw new WampError(missing, [`no ${noun} ${id}`]);
    return o;
  };
  const prefix = `wamp.${noun}.`;
  return {
    [`${prefix}list`]: () => ({ exact: map.ids('exact'), prefix: map.ids('prefix'), wildcard: map.ids('wildcard') }),
    [`${prefix}lookup`]: (_c, args) => {
      const uri = arg(args, 0, uriName, isString);
      const options = isDict(args[1]) ? args[1] : {};
      const match = options.match === undefined ? 'exact' : options.match;
      if (!isMatch(match)) throw new WampError(WampErrors.invalidArgument, ['options.match must be exact, prefix or wildcard']);
      return map.lookup(uri, match)?.id ?? null;
    },
    // A topic is matched by every subscription that delivers it; a procedure by the one registration that serves it.
    [`${prefix}match`]: (_c, args) => {
      const uri = arg(args, 0, uriName, isString);
      if (matching === 'best') return map.best(uri)?.id ?? null;
      const ids = map.matchAll(uri).map((o) => o.id);
      return ids.length > 0 ? ids : null;
    },
    [`${prefix}get`]: (_c, args) => map.kind.describe(observation(args)),
    [`${prefix}list_${observer}s`]: (_c, args) => [...observation(args).observers].map((s) => s.id),
    [`${prefix}count_${observer}s`]: (_c, args) => observation(args).observers.size,
    [`${prefix}remove_${observer}`]: (caller, args, kwargs) => {
      const o = observation(args);
      const id = arg(args, 1, observer, isNumber);
      const peer = [...o.observers].find((s) => s.id === id);
      if (peer === undefined) throw new WampError(WampErrors.noSuchSession, [`session ${id} is not a ${observer} of ${noun} ${o.id}`]);
      owner.removeObserver(o, peer, removalReason(caller, args[2], kwargs));
      return undefined;
    },
  };
}
