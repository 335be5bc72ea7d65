// Public API of @clawgate/web-client (Node side): an express router that
// serves the built player page at `/` and the operator dashboard at
// `/operator`, for mounting on the router's express app (same origin as
// `/ws` and `POST /api/session`).
export { webClient, publicDir, type WebClientOptions } from './serve.js';
