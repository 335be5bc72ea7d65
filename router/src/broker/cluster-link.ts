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
  /** Settles once every live node's publications sent before now have reached this node (SUBSCRIBE with get_retained waits for it). */
  synced(): Promise<void>;
}
