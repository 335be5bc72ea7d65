// What the broker, dealer and meta API need of the realm they route in:
// the URI check, permission decisions and refusals, meta events and meta
// procedures, and the realm-wide bounds they enforce. The Realm class
// (realm/realm.ts) implements it; routing code never imports that class,
// so it can be exercised with a realm on its own (router/test/
// broker-routing.test.ts, dealer-routing.test.ts), and a realm shared by
// several router nodes can provide the same contract.
import type { Dict } from '../messages/types.js';
import type { MatchPolicy } from '../messages/options.js';
import type { Action, Decision } from '../auth/permissions.js';
import type { RealmLimits } from '../limits/limits-config.js';
import type { Peer } from './peer.js';

export interface RealmContext {
  readonly name: string;
  /** max_uri_length, max_total_subscriptions/registrations and the retained bounds (limits/limits-config.ts). */
  readonly limits: RealmLimits;
  /**
   * Why a URI `peer` sent can't be used (`what`: "topic", "procedure";
   * `match` for subscriptions and registrations), or undefined. The
   * refusal is counted and logged on the peer.
   */
  uriRefusal(peer: Peer, uri: string, what: string, match?: MatchPolicy): string | undefined;
  /**
   * The decision for `peer` doing `action` on `uri`; a Promise only when a
   * dynamic authorizer must be asked. `match` (SUBSCRIBE, REGISTER): a
   * prefix or wildcard pattern is allowed only if every URI it matches is.
   */
  decide(peer: Peer, uri: string, action: Action, options: Dict, match?: MatchPolicy): Decision | Promise<Decision>;
  /** Runs `then` with the decision, at once or (holding the peer's later messages) when the authorizer answered. */
  authorize(peer: Peer, uri: string, action: Action, options: Dict, then: (d: Decision) => void, match?: MatchPolicy): void;
  /** A refused action: counted, and logged once per session. */
  denied(peer: Peer, uri: string, action: Action, why?: string): void;
  /** Publishes a meta event (`wamp.session.on_join`, `wamp.subscription.on_create`, ...) to its subscribers. */
  metaEvent(topic: string, args: unknown[]): void;
  /** Answers a `wamp.*` procedure; throws WampError for the caller's mistakes, may answer later (a Promise). */
  callMeta(caller: Peer, procedure: string, args: unknown[], kwargs: Dict): unknown;
  /** A testament was published but could not be retained (the retained bounds): counted, logged now and then. */
  retainDropped(topic: string, why: string): void;
}
