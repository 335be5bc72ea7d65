// autobahn-js for the Node programs, and the parts of it they use, typed
// (autobahn ships no typings). Loading it needs no global WebSocket: the link
// connects through its own `ws` transport (transport.ts). Code that uses
// autobahn's default `websocket` transport on Node 20 (test clients) calls
// provideGlobalWebSocket() first (global-websocket.ts).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type Handler<D> = (args: unknown[] | undefined, kwargs: Record<string, unknown> | undefined, details: D) => unknown;

export interface InvocationDetails { caller?: number; caller_authid?: string; caller_authrole?: string; procedure?: string }
export interface EventDetails { topic?: string; publisher?: number; publisher_authid?: string; publisher_authrole?: string; retained?: boolean }

/** The parts of autobahn's Session our programs use. */
export interface AutobahnSession {
  readonly id: number;
  readonly isOpen: boolean;
  call(procedure: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
  publish(topic: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown> | undefined;
  subscribe(topic: string, handler: Handler<EventDetails>, options?: Record<string, unknown>): Promise<unknown>;
  register(procedure: string, endpoint: Handler<InvocationDetails>, options?: Record<string, unknown>): Promise<unknown>;
}

export interface CloseDetails { reason?: string | null; message?: string | null; will_retry?: boolean }

export interface AutobahnConnection {
  onopen: (session: AutobahnSession, details: Record<string, unknown>) => void;
  onclose: (reason: string, details: CloseDetails) => boolean | void;
  open(): void;
  close(reason?: string, message?: string): void;
  readonly isOpen: boolean;
}

export interface AutobahnModule {
  Connection: new (opts: Record<string, unknown>) => AutobahnConnection;
  Error: new (error: string, args?: unknown[], kwargs?: Record<string, unknown>) => Error;
  transports: { register(name: string, factory: unknown): void };
}

export const autobahn = require('autobahn') as AutobahnModule;

/**
 * autobahn writes connection notices with console.warn (plain text on
 * stderr); route them to our structured log instead (process-wide:
 * autobahn's logger is a module singleton).
 */
export function routeAutobahnWarnings(fn: (text: string) => void): void {
  try {
    const log = require('autobahn/lib/log.js') as { warn: (...a: unknown[]) => void };
    log.warn = (...a: unknown[]) => fn(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '));
  } catch { /* a future autobahn without lib/log.js: its warnings stay on stderr */ }
}
