// @clawgate/runtime: what the Node programs share. The WAMP link to the
// router and its parts (autobahn typed, the bounded transport, HELLO auth),
// the backoff (also `@clawgate/runtime/backoff`, browser-safe) and bounded
// log text. The bin launcher is `@clawgate/runtime/launcher` (plain JS).
export { backoffDelay, type Backoff } from './backoff.js';
export { PREVIEW_CHARS, preview } from './preview.js';
export {
  autobahn, routeAutobahnWarnings,
  type AutobahnConnection, type AutobahnModule, type AutobahnSession, type CloseDetails, type EventDetails, type Handler, type InvocationDetails,
} from './wamp/autobahn.js';
export { provideGlobalWebSocket } from './wamp/global-websocket.js';
export { craAnswer, helloOptions, type CryptosignKey, type HelloAuth } from './wamp/hello-auth.js';
export { DEFAULT_MAX_MESSAGE_BYTES, WampLink, type LinkOptions, type LogLevel } from './wamp/link.js';
export { TRANSPORT_TYPE, registerBoundedTransport } from './wamp/transport.js';
