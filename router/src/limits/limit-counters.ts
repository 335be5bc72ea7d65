// Counts of what the limits and checks refused or dropped, per router.
// Metrics read these (clawgate_limit_events_total{kind}); nothing else
// depends on them. Every kind is a fixed name, so the label set is bounded.
export class LimitCounters {
  /** PUBLISH over the rate limit, acknowledged (answered with ERROR). */
  publishRateLimited = 0;
  /** PUBLISH over the rate limit without acknowledge: dropped silently. */
  publishDropped = 0;
  callRateLimited = 0;
  subscribeRateLimited = 0;
  registerRateLimited = 0;
  pendingCallsRefused = 0;
  sessionsRefused = 0;
  helloTimeouts = 0;
  slowConsumersDropped = 0;
  /** SUBSCRIBE refused by max_subscriptions or max_total_subscriptions. */
  subscriptionsRefused = 0;
  /** REGISTER refused by max_registrations or max_total_registrations. */
  registrationsRefused = 0;
  testamentsRefused = 0;
  /** Retained publications refused: not allowed to retain, or over a retained limit. */
  retainRefused = 0;
  /** Publications over their permission's max_publication_size. */
  publicationsTooLarge = 0;
  /** URIs over max_uri_length (any message). */
  urisTooLong = 0;
  /** URIs that are not valid URIs (SUBSCRIBE/PUBLISH/CALL/REGISTER answered with invalid_uri). */
  invalidUris = 0;
  /** Actions refused by permissions or an authorizer. */
  notAuthorized = 0;
  /** Messages over max_message_elements or max_message_depth (the session is aborted). */
  decodeLimited = 0;
  /** Messages before WELCOME over max_handshake_size (the session is aborted). */
  handshakeTooLarge = 0;
  /** Work refused while the heap was over its high watermark (sessions, subscriptions, registrations, retains). */
  overloadRefused = 0;
  /** TCP connections closed at accept or upgrade: max_connections or max_connections_per_address. */
  connectionsRefused = 0;
  /** Plain HTTP requests refused by max_http_connections. */
  httpConnectionsRefused = 0;
  /** HTTP requests whose body (or next request) did not arrive in time. */
  httpTimeouts = 0;
  /** Log lines left out because the session already logged that refusal once. */
  logsSuppressed = 0;
  /** Connections dropped for answering no ping within auto_ping_timeout. */
  pingTimeouts = 0;
  /** SUBSCRIBEs refused for their event filter (x_filter): not a valid filter, or over the filter limits. */
  invalidFilters = 0;
  /** Events a filtered subscription did not get because its filter failed on them (a missing key, a type mismatch). */
  filterErrors = 0;
  /** SUBSCRIBEs refused for their x_persistent: not a valid option, an anonymous session, a name taken for another topic, over a persistent cap. */
  persistentRefused = 0;

  snapshot(): Record<string, number> {
    return {
      publish_rate_limited: this.publishRateLimited,
      publish_dropped: this.publishDropped,
      call_rate_limited: this.callRateLimited,
      subscribe_rate_limited: this.subscribeRateLimited,
      register_rate_limited: this.registerRateLimited,
      pending_calls_refused: this.pendingCallsRefused,
      sessions_refused: this.sessionsRefused,
      hello_timeouts: this.helloTimeouts,
      slow_consumers_dropped: this.slowConsumersDropped,
      subscriptions_refused: this.subscriptionsRefused,
      registrations_refused: this.registrationsRefused,
      testaments_refused: this.testamentsRefused,
      retain_refused: this.retainRefused,
      publications_too_large: this.publicationsTooLarge,
      uris_too_long: this.urisTooLong,
      invalid_uris: this.invalidUris,
      not_authorized: this.notAuthorized,
      decode_limited: this.decodeLimited,
      handshake_too_large: this.handshakeTooLarge,
      overload_refused: this.overloadRefused,
      connections_refused: this.connectionsRefused,
      http_connections_refused: this.httpConnectionsRefused,
      http_timeouts: this.httpTimeouts,
      logs_suppressed: this.logsSuppressed,
      ping_timeouts: this.pingTimeouts,
      invalid_filters: this.invalidFilters,
      filter_errors: this.filterErrors,
      persistent_refused: this.persistentRefused,
    };
  }
}
