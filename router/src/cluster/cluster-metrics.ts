// A cluster node's metrics for /metrics (docs/operations.md, "Running a
// cluster"): read at scrape time from the node's state and counters, like
// the router's own (metrics/exposition.ts); nothing counted per message
// beyond the counters' increments.
import { Counter, Gauge, type Metric } from 'prom-client';
import type { ClusterState } from './cluster-node.js';
import type { ClusterCounters } from './cluster-counters.js';
import { within } from './within.js';

/** How long a scrape waits for the NATS round trip it measures. */
const RTT_TIMEOUT_MS = 1000;

export interface ClusterMetricsSource {
  state(): ClusterState;
  readonly counters: ClusterCounters;
  /** One round trip to the NATS server, in milliseconds (rejects when it can't be made). */
  rtt(): Promise<number>;
}

export function clusterMetrics(c: ClusterMetricsSource): Metric[] {
  return [
    new Gauge({
      name: 'clawgate_cluster_nodes', help: 'Live router nodes of the cluster this node sees, itself included', registers: [],
      collect() { this.set(c.state().nodes.length); },
    }),
    new Gauge({
      name: 'clawgate_cluster_nats_connected', help: '1 while this node is connected to NATS, 0 while it reconnects or is closed', registers: [],
      collect() { this.set(c.state().nats === 'connected' ? 1 : 0); },
    }),
    new Gauge({
      name: 'clawgate_cluster_nats_rtt_seconds', help: 'Round trip to the NATS server, measured at this scrape (absent when it failed or took over 1 s)', registers: [],
      async collect() {
        this.reset();
        const ms = await within(c.rtt().catch(() => undefined), RTT_TIMEOUT_MS);
        if (ms !== undefined) this.set(ms / 1000);
      },
    }),
    new Counter({
      name: 'clawgate_cluster_messages_total', help: 'Node messages (publications, invocations, answers) sent to (out) and received from (in) the other nodes', labelNames: ['direction'], registers: [],
      collect() { this.reset(); this.inc({ direction: 'out' }, c.counters.sent); this.inc({ direction: 'in' }, c.counters.received); },
    }),
    new Counter({
      name: 'clawgate_cluster_problems_total', help: 'Node messages not sent (send_failure), too large for NATS (too_large), unreadable (malformed), store writes failed (store_failure)', labelNames: ['kind'], registers: [],
      collect() {
        this.reset();
        const k = c.counters;
        this.inc({ kind: 'send_failure' }, k.sendFailures);
        this.inc({ kind: 'too_large' }, k.tooLarge);
        this.inc({ kind: 'malformed' }, k.malformed);
        this.inc({ kind: 'store_failure' }, k.storeFailures);
      },
    }),
    new Counter({
      name: 'clawgate_cluster_lost_sessions_total', help: 'Sessions of lost nodes (killed or cut off) this node fired on_leave and testaments for', registers: [],
      collect() { this.reset(); this.inc(c.counters.lostSessions); },
    }),
    new Counter({
      name: 'clawgate_cluster_markers_cleared_total', help: 'Delete markers of ended sessions, subscriptions and registrations this node cleared from the cluster tables (older than marker_age)', registers: [],
      collect() { this.reset(); this.inc(c.counters.markersCleared); },
    }),
    new Counter({
      name: 'clawgate_cluster_entries_reconciled_total', help: 'Table entries this node found gone when it read the cluster tables again after a NATS outage of half of marker_age or more', registers: [],
      collect() { this.reset(); this.inc(c.counters.entriesReconciled); },
    }),
  ];
}
