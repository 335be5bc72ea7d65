// autobahn-js, loaded the way Node 20 needs it: it expects a global
// WebSocket (browsers, Node 22+), so `ws` provides one before it loads.
import { createRequire } from 'node:module';
import WebSocket from 'ws';

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
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
