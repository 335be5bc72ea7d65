// The operators' procedures for persistent subscriptions (x_persistent,
// broker/persistent-subscriptions.ts), a ClawGate extension:
// `clawgate.persistent.list` and `clawgate.persistent.drop`: ClawGate's own
// namespace, which the router answers itself like `wamp.` (the dealer hands
// those CALLs to the meta API after the caller's call permission, and
// refuses REGISTERs of them: uri.ts isRouterProcedure).
import { WampError, WampErrors } from '../errors.js';
import type { PersistentRegistry } from '../routing/observation-map.js';
import { shortUri } from '../uri.js';
import { arg, isString, type MetaProcedure } from './meta-args.js';

/** Entries one `list` answer carries at most (one is ~300 bytes of JSON): ask per authid for the rest. */
export const MAX_PERSISTENT_LISTED = 1000;

export function persistentProcedures(registry: PersistentRegistry): Record<string, MetaProcedure> {
  return {
    'clawgate.persistent.list': (_caller, args) => {
      const authid = args[0] === undefined || args[0] === null ? undefined : arg(args, 0, 'authid', isString);
      return registry.list(authid, MAX_PERSISTENT_LISTED);
    },
    'clawgate.persistent.drop': (_caller, args) => {
      const authid = arg(args, 0, 'authid', isString);
      const name = arg(args, 1, 'name', isString);
      if (!registry.drop(authid, name)) {
        throw new WampError(WampErrors.noSuchSubscription, [`authid "${shortUri(authid)}" has no persistent subscription "${shortUri(name)}"`]);
      }
      return undefined;
    },
  };
}
