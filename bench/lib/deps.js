// Shared runtime dependencies, resolved the way the router resolves them, so
// the relay and the load generator use the very same `ws` (and MessagePack
// codec) as the router under test. They come from the root install
// (`npm install` at the repository root); bench/ itself only adds the peers.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BENCH = fileURLToPath(new URL('../', import.meta.url));
export const routerRequire = createRequire(new URL('../../router/package.json', import.meta.url));
export const benchRequire = createRequire(new URL('../package.json', import.meta.url));

/** @type {typeof import('ws')} */
export const ws = routerRequire('ws');
export const WebSocket = ws.WebSocket;
export const WebSocketServer = ws.WebSocketServer;
export const msgpack = routerRequire('@msgpack/msgpack');
