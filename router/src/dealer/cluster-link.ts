// What the dealer needs of the cluster when its realm is spread over several
// router nodes (cluster/call-link.ts implements it; docs/cluster.md, "RPC").
// Without a cluster the dealer holds null and none of this is on its paths.
import type { InvokePolicy, MatchPolicy } from '../messages/options.js';
import type { Peer } from '../routing/peer.js';

export interface DealerClusterLink {
  /**
   * Makes a registration of `session` known to every node before it gets
   * REGISTERED: `single` claims the procedure cluster-wide (compare-and-swap),
   * a shared one checks that no `single` holds it. Resolves with the reason
   * for a refusal (an ERROR URI and message), or with the registration's
   * cluster-wide time (which orders `first`/`last`). With `force`
   * (force_reregister) a `single` claim of the same authid on another node
   * is taken over and its callee there loses the registration.
   */
  register(session: Peer, id: number, uri: string, match: MatchPolicy, invoke: InvokePolicy, force: boolean): Promise<{ refused: [string, string] } | { stamp: number }>;
  /** `session` no longer holds registration `id` (UNREGISTER, revocation, the session left). */
  unregistered(session: Peer, id: number): void;
  /** A session of this node left: its registrations are no longer the cluster's. */
  sessionLeft(session: Peer): void;
  /** A callee on another node is to lose registration `id` (force_reregister on this node). */
  revokeRemote(callee: Peer, id: number, reason: string): void;
  /** Resolves once this node has seen every registration the cluster's table held when called (a CALL that found no callee asks). */
  tableCurrent(): Promise<void>;
  /** Is `peer` a callee on another node? */
  isRemote(peer: Peer): boolean;
}
