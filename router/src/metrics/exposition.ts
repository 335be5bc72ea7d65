// Prometheus text exposition of a router's metrics, with prom-client doing
// the format (escaping, HELP/TYPE lines, histogram buckets). Counters live as
// plain numbers in RouterMetrics and are copied into prom-client metrics at
// scrape time, so counting a message costs an array increment, not a label
// lookup.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { messageTypeName } from '../messages/types.js';
import type { LabelCounter } from './label-counter.js';
import type { RouterMetrics } from './router-metrics.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

let processRegistry: Registry | undefined;

/**
 * Process metrics (CPU, memory, event loop lag, GC) are the process's, not a
 * router's: one registry per process, shared by every router in it.
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

function fromLabelCounter(counter: Counter<string>, label: string, source: LabelCounter): void {
  counter.reset();
  for (const [value, n] of source.entries()) counter.inc({ [label]: value }, n);
}

function fromTypeCounts(counter: Counter<string>, counts: Float64Array): void {
  counter.reset();
  counts.forEach((n, type) => {
    if (n > 0) counter.inc({ type: messageTypeName[type] ?? String(type) }, n);
  });
}

/** A registry whose collectors read `m` at each scrape. */
export function routerRegistry(m: RouterMetrics): Registry {
  const registry = new Registry();
  const metrics: Metric[] = [
    new Gauge({
      name: 'clawgate_sessions', help: 'Established WAMP sessions, by realm and role', labelNames: ['realm', 'role'], registers: [],
      collect() {
        this.reset();
        for (const s of m.source.sessions()) this.set({ realm: s.realm, role: s.role }, s.count);
      },
    }),
    new Gauge({
      name: 'clawgate_connections', help: 'Open connections and in-process sessions, joined to a realm or not', registers: [],
      collect() { this.set(m.source.connections()); },
    }),
    new Counter({
      name: 'clawgate_messages_received_total', help: 'WAMP messages received from clients, by message type', labelNames: ['type'], registers: [],
      collect() { fromTypeCounts(this, m.received); },
    }),
    new Counter({
      name: 'clawgate_messages_sent_total', help: 'WAMP messages sent to clients, by message type', labelNames: ['type'], registers: [],
      collect() { fromTypeCounts(this, m.sent); },
    }),
    new Counter({
      name: 'clawgate_errors_total', help: 'ERROR messages sent to clients, by error URI (at most 200 URIs, then "other")', labelNames: ['uri'], registers: [],
      collect() { fromLabelCounter(this, 'uri', m.errors); },
    }),
    new Counter({
      name: 'clawgate_aborts_total', help: 'ABORT messages sent, by reason URI', labelNames: ['reason'], registers: [],
      collect() { fromLabelCounter(this, 'reason', m.aborts); },
    }),
    new Counter({
      name: 'clawgate_auth_failures_total', help: 'Refused logins, by authentication method', labelNames: ['method'], registers: [],
      collect() { fromLabelCounter(this, 'method', m.authFailures); },
    }),
    new Counter({
      name: 'clawgate_slow_consumers_dropped_total', help: 'Sessions disconnected because their send buffer grew past the bound', registers: [],
      collect() { this.reset(); this.inc(m.source.limits().slow_consumers_dropped ?? 0); },
    }),
    new Counter({
      name: 'clawgate_rate_limited_total', help: 'Messages refused by a rate limit, by action (publish counts unacknowledged ones dropped; subscribe counts UNSUBSCRIBE, register UNREGISTER)', labelNames: ['action'], registers: [],
      collect() {
        const l = m.source.limits();
        this.reset();
        this.inc({ action: 'publish' }, (l.publish_rate_limited ?? 0) + (l.publish_dropped ?? 0));
        this.inc({ action: 'call' }, l.call_rate_limited ?? 0);
        this.inc({ action: 'subscribe' }, l.subscribe_rate_limited ?? 0);
        this.inc({ action: 'register' }, l.register_rate_limited ?? 0);
      },
    }),
    new Gauge({
      name: 'clawgate_overloaded', help: '1 while the V8 heap is over its high watermark and new sessions, subscriptions, registrations and retained events are refused', registers: [],
      collect() { this.set(m.source.overloaded?.() === true ? 1 : 0); },
    }),
    new Counter({
      name: 'clawgate_limit_events_total', help: 'Everything the limits and checks refused or dropped, by kind (not_authorized, invalid_uris, uris_too_long, subscriptions_refused, connections_refused, http_timeouts, logs_suppressed, ...)', labelNames: ['kind'], registers: [],
      collect() {
        this.reset();
        for (const [kind, n] of Object.entries(m.source.limits())) this.inc({ kind }, n);
      },
    }),
    new Counter({
      name: 'clawgate_http_requests_total', help: 'Requests to HTTP bridge, info and metrics paths, by path type and status', labelNames: ['type', 'status'], registers: [],
      collect() {
        this.reset();
        for (const [key, n] of m.httpRequests.entries()) {
          const [type = 'other', status = 'other'] = key.split(' ');
          this.inc({ type, status }, n);
        }
      },
    }),
  ];
  for (const metric of metrics) registry.registerMetric(metric);
  // Not a prom-client class, but what the registry reads of one (name, get()); see latency-histogram.ts.
  registry.registerMetric(m.callLatency as unknown as Metric);
  return registry;
}

/** The text a scrape gets: the router's metrics, then the process's. */
export async function exposition(registry: Registry): Promise<string> {
  const [own, proc] = await Promise.all([registry.metrics(), processMetrics().metrics()]);
  return `${own}\n${proc}`;
}
