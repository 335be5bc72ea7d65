// Error and close reason URIs the router sends. One list, so docs and tests
// can refer to the same names.
export const WampErrors = {
  invalidUri: 'wamp.error.invalid_uri',
  noSuchProcedure: 'wamp.error.no_such_procedure',
  procedureAlreadyExists: 'wamp.error.procedure_already_exists',
  differentInvocationPolicy: 'wamp.error.procedure_exists_with_different_invocation_policy',
  noSuchRegistration: 'wamp.error.no_such_registration',
  noSuchSubscription: 'wamp.error.no_such_subscription',
  invalidArgument: 'wamp.error.invalid_argument',
  /** A SUBSCRIBE option the router understands but refuses (a bad x_filter). */
  invalidOption: 'wamp.error.invalid_option',
  systemShutdown: 'wamp.close.system_shutdown',
  closeRealm: 'wamp.close.close_realm',
  goodbyeAndOut: 'wamp.close.goodbye_and_out',
  closeNormal: 'wamp.close.normal',
  killed: 'wamp.close.killed',
  protocolViolation: 'wamp.error.protocol_violation',
  notAuthorized: 'wamp.error.not_authorized',
  authorizationFailed: 'wamp.error.authorization_failed',
  authenticationFailed: 'wamp.error.authentication_failed',
  noAuthMethod: 'wamp.error.no_auth_method',
  noSuchRealm: 'wamp.error.no_such_realm',
  noSuchRole: 'wamp.error.no_such_role',
  noSuchSession: 'wamp.error.no_such_session',
  noSuchPrincipal: 'wamp.error.no_such_principal',
  canceled: 'wamp.error.canceled',
  timeout: 'wamp.error.timeout',
  optionNotAllowed: 'wamp.error.option_not_allowed',
  optionDisallowedDiscloseMe: 'wamp.error.option_disallowed.disclose_me',
  featureNotSupported: 'wamp.error.feature_not_supported',
  /** wamp.subscription.get_events for a subscription whose (uri, match) keeps no history (Crossbar's URI). */
  historyUnavailable: 'wamp.error.history_unavailable',
  unavailable: 'wamp.error.unavailable',
  noAvailableCallee: 'wamp.error.no_available_callee',
  // ClawGate limits (docs/security.md, "Limits")
  tooManySessions: 'clawgate.error.too_many_sessions',
  rateLimited: 'clawgate.error.rate_limited',
  tooManyPendingCalls: 'clawgate.error.too_many_pending_calls',
  handshakeTimeout: 'clawgate.error.handshake_timeout',
  slowConsumer: 'clawgate.error.slow_consumer',
  tooManySubscriptions: 'clawgate.error.too_many_subscriptions',
  tooManyRegistrations: 'clawgate.error.too_many_registrations',
  tooManyTestaments: 'clawgate.error.too_many_testaments',
  retainLimit: 'clawgate.error.retain_limit',
  payloadTooLarge: 'clawgate.error.payload_too_large',
  overloaded: 'clawgate.error.overloaded',
  // Cluster (docs/cluster.md)
  /** A call to a callee on another node while NATS is unreachable, or the callee's node went away with the call in flight. */
  clusterUnavailable: 'clawgate.error.cluster_unavailable',
} as const;

/** An error a handler throws to answer a request with a WAMP ERROR. */
export class WampError extends Error {
  constructor(
    readonly uri: string,
    readonly args: unknown[] = [],
    readonly kwargs?: Record<string, unknown>,
  ) {
    super(typeof args[0] === 'string' ? `${uri}: ${args[0]}` : uri);
  }
}
