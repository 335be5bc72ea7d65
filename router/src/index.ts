// Public API of @clawgate/router.
export { Router, type RouterConfig, type RouterOptions } from './router.js';
export { LocalSession, Result, type CallResult, type Procedure, type EventHandler, type InvocationDetails } from './local-session.js';
export { WampError, WampErrors } from './errors.js';
export { fromCrossbar, loadConfigFile, ConfigError, type LoadedConfig } from './config/crossbar-config.js';
export { devConfig } from './config/dev-config.js';
export { GuestWorker, GuestWorkers } from './guest/guest-worker.js';
export type { GuestConfig } from './guest/guest-config.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export * from './messages/types.js';
export { decodeMessage } from './messages/decode.js';
export { toWire } from './messages/encode.js';
export {
  serializers, jsonSerializer, msgpackSerializer, cborSerializer, type Serializer, type DecodeLimits,
  DEFAULT_DECODE_LIMITS, DEFAULT_MAX_MESSAGE_ELEMENTS, DEFAULT_MAX_MESSAGE_DEPTH, DecodeLimitExceeded,
} from './serializers/index.js';
export { signTicket, verifyTicket, type TicketClaims, type TicketCheck } from './auth/signed-ticket.js';
export {
  DEFAULT_AUTH_POLICY, DEFAULT_AUTH_TIMEOUT_MS, AUTH_METHODS,
  type AuthPolicy, type AuthMethod, type Identity, type AnonymousAuth, type DynamicAuth, type PrincipalBase,
  type TicketAuth, type TicketPrincipal, type SignedTickets, type WampCraAuth, type WampCraUser,
  type CryptosignAuth, type CryptosignPrincipal,
} from './auth/auth-policy.js';
export { deriveCraKey, craSignature } from './auth/wampcra-auth.js';
export { expandTemplate, isSafeComponent, PLACEHOLDERS, type TemplateValues } from './auth/uri-template.js';
export { authorize, type Action, type Decision, type Permission } from './auth/permissions.js';
export { parseAuthorizerAnswer, type AuthorizerAnswer } from './auth/authorizer.js';
export { DEFAULT_AUTHORIZER_TIMEOUT_MS, TRUSTED_ROLE, type RealmConfig, type RoleConfig } from './realm/realm.js';
export type { SecretSources } from './config/auth-config.js';
export {
  DEFAULT_SESSION_LIMITS, DEFAULT_REALM_LIMITS, DEFAULT_MAX_SESSIONS, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_SEND_BUFFER, NO_SESSION_LIMITS,
  DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_HANDSHAKE_SIZE, DEFAULT_MAX_URI_LENGTH, DEFAULT_LISTENER_LIMITS, DEFAULT_MEMORY_LIMITS,
  type SessionLimits, type RealmLimits, type EndpointLimits, type ListenerLimits, type MemoryLimits,
} from './limits/limits-config.js';
export { LimitCounters } from './limits/limit-counters.js';
export type { RateLimit } from './limits/token-bucket.js';
export { RouterMetrics, CALL_LATENCY_BUCKETS, type MetricsSnapshot, type SessionCount, type CallOutcome } from './metrics/router-metrics.js';
export { PROMETHEUS_CONTENT_TYPE } from './metrics/exposition.js';
export { signRequest, computeSignature, type SignedParams } from './http/signature.js';
export {
  DEFAULT_POST_BODY_LIMIT, DEFAULT_TIMESTAMP_DELTA_LIMIT_S, DEFAULT_BRIDGE_CALL_TIMEOUT_MS, DEFAULT_METRICS_PATH,
  type HttpPathConfig, type BridgePathConfig, type InfoPathConfig, type MetricsPathConfig, type HttpGuard,
} from './http/http-config.js';
export { HttpErrors } from './http/http-error.js';
export { clientAddress, clientOfRequest, TrustedProxies, type ClientAddress } from './net/forwarded.js';
export { addressKey, clientKey, UNKNOWN_CLIENT } from './net/client-key.js';
export { shortUri, shortText } from './uri.js';
