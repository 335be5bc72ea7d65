// Public API of @clawgate/router.
export { Router, type RouterConfig, type RouterOptions } from './router.js';
export { LocalSession, Result, type CallResult, type Procedure, type EventHandler, type InvocationDetails } from './local-session.js';
export { WampError, WampErrors } from './errors.js';
export { fromCrossbar, loadConfigFile, ConfigError, type LoadedConfig } from './config/crossbar-config.js';
export { devConfig } from './config/dev-config.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export * from './messages/types.js';
export { decodeMessage } from './messages/decode.js';
export { toWire } from './messages/encode.js';
export { serializers, jsonSerializer, msgpackSerializer, cborSerializer, type Serializer } from './serializers/index.js';
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
