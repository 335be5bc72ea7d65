// For code that uses autobahn's default `websocket` transport in Node (our
// tests' player and spectator clients): that transport takes the global
// WebSocket, which Node 20 does not have. The link never needs this (it
// brings its own bounded `ws` transport), and nothing calls it implicitly: a
// library must not replace an embedding process's globals behind its back.
import WebSocket from 'ws';

/**
 * `ws` emits 'error' as an EventEmitter event, and autobahn only sets `onclose`:
 * with no 'error' listener a refused connection (router not up yet, or
 * restarting) would throw out of the event loop and kill the process instead
 * of being retried. The 'close' that follows every error is what autobahn acts on.
 */
class WebSocketForAutobahn extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on('error', () => {});
  }
}

/** Makes `ws` the global WebSocket where there is none (Node 20); a native one (Node 22+) stays. */
export function provideGlobalWebSocket(): void {
  const g = globalThis as { WebSocket?: unknown };
  if (g.WebSocket === undefined || g.WebSocket === WebSocket) g.WebSocket = WebSocketForAutobahn;
}
