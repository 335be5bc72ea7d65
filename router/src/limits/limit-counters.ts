// Counts of what the limits refused or dropped, per router. Metrics read
// these; nothing else depends on them.
export class LimitCounters {
  /** PUBLISH over the rate limit, acknowledged (answered with ERROR). */
  publishRateLimited = 0;
  /** PUBLISH over the rate limit without acknowledge: dropped silently. */
  publishDropped = 0;
  callRateLimited = 0;
  pendingCallsRefused = 0;
  sessionsRefused = 0;
  helloTimeouts = 0;
  slowConsumersDropped = 0;

  snapshot(): Record<string, number> {
    return {
      publish_rate_limited: this.publishRateLimited,
      publish_dropped: this.publishDropped,
      call_rate_limited: this.callRateLimited,
      pending_calls_refused: this.pendingCallsRefused,
      sessions_refused: this.sessionsRefused,
      hello_timeouts: this.helloTimeouts,
      slow_consumers_dropped: this.slowConsumersDropped,
    };
  }
}
