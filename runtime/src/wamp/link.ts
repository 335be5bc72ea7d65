// A Node program's connection to the router (the backend's and each claw
// node's): one autobahn Connection per attempt on our own bounded transport,
// with autobahn's retries off and our own backoff between attempts. autobahn's
// retry loop stops after a router GOODBYE (a router restart, exactly when we
// must come back) and after a refused login; here every loss of any kind, and
// every failed attempt, schedules the next one, until stop().
import { backoffDelay, type Backoff } from '../backoff.js';
import { preview } from '../preview.js';
import { autobahn, routeAutobahnWarnings, type AutobahnConnection, type AutobahnSession } from './autobahn.js';
import { helloOptions, type HelloAuth } from './hello-auth.js';
import { TRANSPORT_TYPE, registerBoundedTransport } from './transport.js';

export type LogLevel = 'info' | 'warn' | 'error' | 'debug';

/** Default bound on one inbound message (bytes, after any decompression). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface LinkOptions {
  url: string;
  realm: string;
  auth: HelloAuth;
  backoff: Backoff;
  /** Largest inbound message (bytes); a larger one closes the connection (transport.ts). Default 1 MiB. */
  maxMessageBytes?: number;
  /** The config key that sets maxMessageBytes, named in the log line when a message is over it. */
  maxMessageBytesKey?: string;
  /** Who is leaving, for the GOODBYE message on stop() ("claw node" → "claw node stopping"). */
  name?: string;
  /** Runs on every new session; a rejection closes the session and retries. */
  onOpen(session: AutobahnSession, details: Record<string, unknown>): Promise<void>;
  /** The session that was open is gone (not called for failed attempts). */
  onClose(reason: string, message: string): void;
  /**
   * An error thrown by our own handlers (an invocation answered with an ERROR,
   * an event handler that threw): autobahn's `on_user_error`. By default logged at warn.
   */
  onUserError?(err: unknown, text: string): void;
  log(level: LogLevel, msg: string, extra?: Record<string, unknown>): void;
}

export class WampLink {
  private connection: AutobahnConnection | undefined;
  private sessionNow: AutobahnSession | undefined;
  private retry = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private closedWaiters: (() => void)[] = [];

  constructor(private readonly opts: LinkOptions) {}

  /** The open session, if any. */
  get session(): AutobahnSession | undefined { return this.sessionNow?.isOpen ? this.sessionNow : undefined; }

  start(): void {
    routeAutobahnWarnings((text) => this.opts.log('debug', 'autobahn', { autobahn: preview(text) }));
    registerBoundedTransport();
    this.stopped = false;
    this.connect();
  }

  /** Leaves the realm (GOODBYE) and stops reconnecting; waits at most `timeoutMs` for the close. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const c = this.connection;
    if (c === undefined) return;
    const closed = new Promise<void>((r) => this.closedWaiters.push(r));
    try { c.close('wamp.close.normal', `${this.opts.name ?? 'client'} stopping`); } catch { /* already closing */ }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); })]);
    clearTimeout(timer);
  }

  private connect(): void {
    const { opts } = this;
    const maxPayload = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const connection = new autobahn.Connection({
      transports: [{
        type: TRANSPORT_TYPE, url: opts.url, maxPayload,
        onOversized: () => opts.log('warn', `a message from the router was larger than ${opts.maxMessageBytesKey ?? 'maxMessageBytes'}: connection closed`, { maxMessageBytes: maxPayload }),
      }],
      realm: opts.realm,
      max_retries: 0,
      retry_if_unreachable: false,
      use_es6_promises: true,
      on_user_error: (err: unknown, text: string) => {
        if (opts.onUserError) opts.onUserError(err, text);
        else opts.log('warn', 'error raised in a handler', { err: describe(err), text: preview(text) });
      },
      ...helloOptions(opts.auth),
    });
    this.connection = connection;
    let opened = false;
    connection.onopen = (session, details) => {
      opened = true;
      this.retry = 0;
      this.sessionNow = session;
      opts.log('info', 'joined the router', { url: opts.url, realm: opts.realm, session: session.id });
      opts.onOpen(session, details).catch((e: unknown) => {
        opts.log('error', 'session setup failed; reconnecting', { err: describe(e) });
        try { connection.close('wamp.close.normal', 'setup failed'); } catch { /* closing already */ }
      });
    };
    connection.onclose = (reason, details) => {
      if (this.connection === connection) this.connection = undefined;
      this.sessionNow = undefined;
      if (opened) opts.onClose(reason, `${details?.reason ?? ''} ${details?.message ?? ''}`.trim());
      else opts.log('warn', 'could not join the router', { url: opts.url, reason: preview(reason), detail: preview(details?.reason ?? ''), message: preview(details?.message ?? '') });
      for (const w of this.closedWaiters.splice(0)) w();
      if (!this.stopped) {
        const delay = backoffDelay(this.retry++, opts.backoff);
        opts.log('info', 'reconnecting', { inMs: delay });
        this.retryTimer = setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
      }
      return true; // we schedule reconnects ourselves
    };
    connection.open();
  }
}

/** An error as bounded log text (router errors carry the router's args). */
function describe(e: unknown): string {
  if (e instanceof Error) return preview(e.message);
  const err = e as { error?: string; args?: unknown[] };
  if (err && typeof err.error === 'string') {
    let args: string;
    try { args = JSON.stringify(err.args ?? []); } catch { args = '[…]'; }
    return preview(`${err.error} ${args}`);
  }
  return preview(e);
}
