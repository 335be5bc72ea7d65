// The router's metrics: what sessions, the broker, the dealer, the limits and
// the HTTP bridge count, kept as plain numbers on the hot path and turned
// into Prometheus metrics only when scraped (see exposition.ts). Names and
// labels are a stable interface (the operator dashboard reads them); they are
// listed in docs/router.md#metrics.
import { performance } from 'node:perf_hooks';
import { MessageType, messageTypeName, type RouterMessage } from '../messages/types.js';
import { LabelCounter } from './label-counter.js';
import { LatencyHistogram } from './latency-histogram.js';

/** Open sessions on one realm under one role (the sessions gauge). */
export interface SessionCount {
  realm: string;
  role: string;
  count: number;
}

export type CallOutcome = 'result' | 'error';

/** Upper bounds (seconds) of the call latency histogram's buckets. */
export const CALL_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A point-in-time copy of every counter, for in-process readers (the operator dashboard). */
export interface MetricsSnapshot {
  /** Established sessions by realm and role. */
  sessions: SessionCount[];
  /** Open connections and in-process sessions, joined or not (as `/health` counts them). */
  connections: number;
  /** WAMP messages received from clients, by message type name (`PUBLISH`, `CALL`, ...). */
  messagesReceived: Record<string, number>;
  /** WAMP messages sent to clients, by message type name. */
  messagesSent: Record<string, number>;
  /** ERROR messages sent to clients, by error URI. */
  errors: Record<string, number>;
  /** ABORT messages sent, by reason URI. */
  aborts: Record<string, number>;
  /** Refused logins, by authentication method (`none`: no requested method is accepted). */
  authFailures: Record<string, number>;
  /** Calls answered (CALL → final RESULT or ERROR), by outcome, with their summed latency. */
  calls: Record<CallOutcome, { count: number; seconds: number }>;
  /** What the limits refused or dropped, by kind (LimitCounters.snapshot(): `slow_consumers_dropped`, `publish_rate_limited`, ...). */
  limits: Record<string, number>;
  /** HTTP requests to bridge, info and metrics paths, by `<type> <status>`. */
  httpRequests: Record<string, number>;
}

/**
 * What the metrics keep on each session: its CALLs in flight, request id →
 * start (ms, monotonic). On the session rather than in a map keyed by it,
 * because this is looked up twice per call.
 */
export interface MeteredSession {
  callStarts: Map<number, number> | undefined;
}

/** What the metrics read from the router when asked. */
export interface MetricsSource {
  sessions(): SessionCount[];
  connections(): number;
  /** The limits' own counters (router.limitCounters.snapshot()), by kind. */
  limits(): Record<string, number>;
  /** The heap is over its high watermark and new work is refused (optional for embedders' sources). */
  overloaded?(): boolean;
}

/** Highest WAMP message type code we count (EVENT_RECEIVED). */
const MAX_TYPE = MessageType.EVENT_RECEIVED;

export class RouterMetrics {
  readonly received = new Float64Array(MAX_TYPE + 1);
  readonly sent = new Float64Array(MAX_TYPE + 1);
  readonly errors = new LabelCounter();
  readonly aborts = new LabelCounter();
  readonly authFailures = new LabelCounter(20);
  readonly httpRequests = new LabelCounter(100);
  readonly calls: Record<CallOutcome, { count: number; seconds: number }> = {
    result: { count: 0, seconds: 0 },
    error: { count: 0, seconds: 0 },
  };
  /** Registered into the scrape registry by exposition.ts. */
  readonly callLatency = new LatencyHistogram<CallOutcome>(
    'clawgate_call_duration_seconds',
    'Time from a CALL arriving to its final RESULT or ERROR leaving, in seconds',
    'outcome',
    CALL_LATENCY_BUCKETS,
  );

  constructor(readonly source: MetricsSource) {}

  // ---- hooks for sessions (every message in and out) -------------------------

  /** A message a client sent (after decoding). */
  messageIn(session: MeteredSession, m: { type: number; request?: number }): void {
    if (m.type <= MAX_TYPE) this.received[m.type]! += 1;
    if (m.type === MessageType.CALL && m.request !== undefined) {
      (session.callStarts ??= new Map()).set(m.request, performance.now());
    }
  }

  /** A message the router sent to a client. */
  messageOut(session: MeteredSession, m: RouterMessage): void {
    if (m.type <= MAX_TYPE) this.sent[m.type]! += 1;
    switch (m.type) {
      case MessageType.RESULT:
        if (m.details.progress !== true) this.callEnded(session, m.request, 'result');
        break;
      case MessageType.ERROR:
        this.errors.inc(m.error);
        if (m.requestType === MessageType.CALL) this.callEnded(session, m.request, 'error');
        break;
      case MessageType.ABORT:
        this.aborts.inc(m.reason);
        break;
    }
  }

  private callEnded(session: MeteredSession, request: number, outcome: CallOutcome): void {
    const calls = session.callStarts;
    const started = calls?.get(request);
    if (started === undefined) return;
    calls!.delete(request);
    const seconds = (performance.now() - started) / 1000;
    const c = this.calls[outcome];
    c.count++;
    c.seconds += seconds;
    this.callLatency.observe(outcome, seconds);
  }

  authFailure(method: string): void {
    this.authFailures.inc(method);
  }

  // ---- hooks for the HTTP bridge ----------------------------------------------

  httpRequest(type: string, status: number): void {
    this.httpRequests.inc(`${type} ${status}`);
  }

  // ---- readers ----------------------------------------------------------------

  snapshot(): MetricsSnapshot {
    return {
      sessions: this.source.sessions(),
      connections: this.source.connections(),
      messagesReceived: byTypeName(this.received),
      messagesSent: byTypeName(this.sent),
      errors: this.errors.toObject(),
      aborts: this.aborts.toObject(),
      authFailures: this.authFailures.toObject(),
      calls: { result: { ...this.calls.result }, error: { ...this.calls.error } },
      limits: this.source.limits(),
      httpRequests: this.httpRequests.toObject(),
    };
  }
}

/** Non-zero counts by WAMP message type name. */
export function byTypeName(counts: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  counts.forEach((n, type) => {
    if (n > 0) out[messageTypeName[type] ?? String(type)] = n;
  });
  return out;
}
