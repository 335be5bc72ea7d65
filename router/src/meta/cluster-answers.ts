// The wamp.subscription.* procedures on a cluster node: subscriptions live
// on their subscriber's node, so the answer is this node's merged with every
// other node's (cluster/meta-link.ts asks them). Subscription ids are the
// same on every node (ids.ts sharedId), so lists are merged as sets.
import type { Dict } from '../messages/types.js';
import { WampError } from '../errors.js';

export type NodeAnswer = { ok: true; value: unknown } | { ok: false; error: string; args: unknown[] };

/** What the meta API asks of the other nodes (cluster/meta-link.ts). */
export interface ClusterMeta {
  /**
   * Every other live node's answer to `procedure` (only `node`'s when given).
   * Rejects with clawgate.error.cluster_unavailable when one can't be asked
   * or does not answer in time: a partial answer would look whole.
   */
  ask(procedure: string, args: unknown[], kwargs: Dict, caller: number, node?: string): Promise<NodeAnswer[]>;
}

/** The subscription procedures answered by merging every node's part (remove_subscriber goes to the subscriber's node instead). */
export const MERGED_PROCEDURES: ReadonlySet<string> = new Set([
  'wamp.subscription.list', 'wamp.subscription.lookup', 'wamp.subscription.match', 'wamp.subscription.get',
  'wamp.subscription.list_subscribers', 'wamp.subscription.count_subscribers',
]);

const union = (lists: unknown[][]): unknown[] => [...new Set(lists.flat())];

/** One answer from the answers of every node (this one's first). Throws the first node's error when no node knows the subscription. */
export function mergeAnswers(procedure: string, answers: NodeAnswer[]): unknown {
  const ok = answers.filter((a): a is { ok: true; value: unknown } => a.ok).map((a) => a.value);
  if (ok.length === 0) {
    const e = answers.find((a) => !a.ok) as { error: string; args: unknown[] } | undefined;
    throw new WampError(e?.error ?? 'wamp.error.no_such_subscription', e?.args ?? []);
  }
  switch (procedure) {
    case 'wamp.subscription.list': {
      const get = (k: string): unknown[][] => ok.map((v) => ((v as Dict | null)?.[k] as unknown[] | undefined) ?? []);
      return { exact: union(get('exact')), prefix: union(get('prefix')), wildcard: union(get('wildcard')) };
    }
    case 'wamp.subscription.lookup':
      return ok.find((v) => v !== null && v !== undefined) ?? null;
    case 'wamp.subscription.match': {
      const ids = union(ok.map((v) => (Array.isArray(v) ? v : [])));
      return ids.length > 0 ? ids : null;
    }
    case 'wamp.subscription.get':
      return ok[0];
    case 'wamp.subscription.list_subscribers':
      return ok.flatMap((v) => (Array.isArray(v) ? v : []));
    case 'wamp.subscription.count_subscribers':
      return ok.reduce((n: number, v) => n + (typeof v === 'number' ? v : 0), 0);
    default:
      return ok[0];
  }
}
