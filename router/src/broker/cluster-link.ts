// What the broker needs of the cluster its realm is spread over
// (cluster/realm-link.ts implements it; docs/cluster.md). Absent on a router
// that is no cluster node: then the broker pays one null check per
// publication and nothing else.
import type { Dict } from '../messages/types.js';
import type { PublicationData } from '../routing/publication.js';

export interface BrokerClusterLink {
  /** This node's slot: the low bits of every publication id it makes (ids.ts nodeRandomId), so no two live nodes hand out the same. */
  readonly slot: number;
  /**
   * The largest publication (bytes of its PUBLISH as it arrived) the other
   * nodes can be sent: NATS's max_payload less room for what travels with it.
   */
  readonly maxPublicationSize: number;
  /**
   * A publication accepted here, after its local fan-out, for the other
   * nodes' subscribers. `retainStamp`: non-zero when it is retained (its
   * place in the cluster's order of retained events).
   */
  published(topic: string, publication: number, data: PublicationData, lists: Dict | null, retainStamp: number): void;
  /** The stamp of a retained event published now on this node: greater than every stamp this node has made or seen. */
  retainStamp(): number;
  /**
   * The stamp of a retained publication made on behalf of the lost node with
   * `slot` (its sessions' testaments, published by every other node to its
   * own subscribers): just after everything that node published and no later
   * than it can have died (`heardAt`: when it was last heard, ms; estimated
   * without it), so a retained event published after its death (a session
   * that moved to another node) stays the last one.
   */
  lostStamp(slot: number, heardAt?: number): number;
  /** Such a publication retained here at `stamp`: written to the cluster's retained store (not sent as an event: every node publishes it itself). */
  retainLost(topic: string, publication: number, data: PublicationData, lists: Dict | null, stamp: number): void;
  /** Settles once every live node's publications sent before now have reached this node (SUBSCRIBE with get_retained waits for it). */
  synced(): Promise<void>;
}
