// The subscription meta procedures across the cluster (docs/cluster.md,
// "Meta"): subscriptions live on the node of their subscriber, so a node
// answering wamp.subscription.* asks every other live node for its part
// (NATS request/reply on the node's meta subject) and merges the answers
// (meta/cluster-answers.ts). Only those procedures are asked this way.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Dict } from '../messages/types.js';
import type { Realm } from '../realm/realm.js';
import type { Logger } from '../logger.js';
import { WampError, WampErrors } from '../errors.js';
import type { ClusterMeta, NodeAnswer } from '../meta/cluster-answers.js';
import { cborSerializer } from '../serializers/cbor.js';
import type { ClusterCounters } from './cluster-counters.js';
import { realmToken } from './realm-link.js';

/** How long a node waits for another's answer to a meta procedure: a node that does not answer in time is likely dying. */
export const META_TIMEOUT_MS = 1000;

export interface MetaHost {
  readonly nc: NatsConnection;
  readonly cluster: string;
  readonly node: string;
  readonly connected: boolean;
  readonly log: Logger;
  readonly counters: ClusterCounters;
  others(): string[];
}

const decodeLimits = { maxElements: Number.MAX_SAFE_INTEGER, maxDepth: 1001 };

export class MetaLink implements ClusterMeta {
  private sub: Subscription | undefined;
  private readonly prefix: string;

  constructor(private readonly host: MetaHost, private readonly realm: Realm) {
    this.prefix = `${host.cluster}.r.${realmToken(realm.name)}.meta`;
  }

  start(): void {
    this.sub = this.host.nc.subscribe(`${this.prefix}.${this.host.node}`, { callback: (err, msg) => {
      if (err !== null) return;
      let answer: unknown[];
      try {
        const req = cborSerializer.decode(msg.data, decodeLimits);
        if (!Array.isArray(req) || typeof req[0] !== 'string' || !Array.isArray(req[1]) || typeof req[2] !== 'object' || typeof req[3] !== 'number') throw new WampError(WampErrors.invalidArgument, ['malformed meta request']);
        answer = [1, this.realm.meta.answerForCluster(req[0], req[1], req[2] as Dict, req[3])];
      } catch (e) {
        answer = e instanceof WampError ? [0, e.uri, e.args ?? []] : [0, WampErrors.clusterUnavailable, [`node "${this.host.node}" failed to answer: ${(e as Error).message}`]];
      }
      try { msg.respond(cborSerializer.encode(answer) as Uint8Array); } catch { /* the asker is gone */ }
    } });
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  async ask(procedure: string, args: unknown[], kwargs: Dict, caller: number, node?: string): Promise<NodeAnswer[]> {
    const nodes = node === undefined ? this.host.others() : [node];
    if (nodes.length === 0) return [];
    if (!this.host.connected) throw new WampError(WampErrors.clusterUnavailable, [`${procedure} needs the other router nodes, which can't be reached now (NATS connection lost)`]);
    const body = cborSerializer.encode([procedure, args, kwargs, caller]) as Uint8Array;
    return Promise.all(nodes.map(async (n): Promise<NodeAnswer> => {
      let v: unknown;
      try {
        const reply = await this.host.nc.request(`${this.prefix}.${n}`, body, { timeout: META_TIMEOUT_MS });
        v = cborSerializer.decode(reply.data, decodeLimits);
      } catch (e) {
        throw new WampError(WampErrors.clusterUnavailable, [`router node "${n}" did not answer ${procedure} (${(e as Error).message})`]);
      }
      if (!Array.isArray(v)) { this.host.counters.malformed++; throw new WampError(WampErrors.clusterUnavailable, [`router node "${n}" answered ${procedure} with something unreadable`]); }
      return v[0] === 1 ? { ok: true, value: v[1] } : { ok: false, error: String(v[1]), args: Array.isArray(v[2]) ? v[2] : [] };
    }));
  }
}
