// autobahn-js, loaded the way Node 20 needs it: it expects a global
// WebSocket (browsers, Node 22+), so `ws` provides one before it loads.
import { createRequire } from 'node:module';
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

// Not over a native WebSocket (Node 22+, which reports errors as events that cannot throw).
const g = globalThis as { WebSocket?: unknown };
if (g.WebSocket === undefined || g.WebSocket === WebSocket) g.WebSocket = WebSocketForAutobahn;
const require = createRequire(import.meta.url);

/** The parts of autobahn-js the node uses (autobahn ships no typings). */
export interface AutobahnSession {
  readonly id: number;
  readonly isOpen: boolean;
  call(procedure: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
  publish(topic: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown> | undefined;
  subscribe(topic: string, handler: (args: unknown[] | undefined, kwargs: Record<string, unknown> | undefined, details: AutobahnEventDetails) => void, options?: Record<string, unknown>): Promise<unknown>;
  register(procedure: string, endpoint: (args: unknown[] | undefined, kwargs: Record<string, unknown> | undefined, details: Record<string, unknown>) => unknown, options?: Record<string, unknown>): Promise<unknown>;
}

export interface AutobahnEventDetails {
  topic?: string;
  publisher?: number;
  publisher_authid?: string;
  publisher_authrole?: string;
}

export interface AutobahnConnection {
  onopen: (session: AutobahnSession, details: Record<string, unknown>) => void;
  onclose: (reason: string, details: { reason?: string | null; message?: string | null }) => boolean | void;
  open(): void;
  close(reason?: string, message?: string): void;
  readonly isOpen: boolean;
}

export interface AutobahnModule {
  Connection: new (opts: Record<string, unknown>) => AutobahnConnection;
  Error: new (error: string, args?: unknown[], kwargs?: Record<string, unknown>) => Error;
}

export const autobahn = require('autobahn') as AutobahnModule;

/**
 * autobahn writes connection notices with console.warn (plain text on stderr);
 * route them to our structured log instead (process-wide: autobahn's logger is
 * a module singleton).
 */
export function routeAutobahnWarnings(fn: (text: string) => void): void {
  try {
    const log = require('autobahn/lib/log.js') as { warn: (...a: unknown[]) => void };
    log.warn = (...a: unknown[]) => fn(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '));
  } catch { /* a future autobahn without lib/log.js: its warnings stay on stderr */ }
}
