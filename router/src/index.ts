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
