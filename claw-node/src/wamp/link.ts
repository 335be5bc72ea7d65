// The node's connection to the router: one autobahn Connection per attempt
// (autobahn's own retry stops after a router GOODBYE, which is exactly when
// a restarted router needs us back), with our own backoff between attempts.
import { autobahn, routeAutobahnWarnings, type AutobahnConnection, type AutobahnSession } from './autobahn.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { MachineKey } from './cryptosign.js';
import { TRANSPORT_TYPE, registerBoundedTransport } from './transport.js';
import { preview } from '../logger.js';

export type LinkAuth = { method: 'anonymous' } | { method: 'cryptosign'; authid: string; key: MachineKey };

export interface LinkOptions {
  url: string;
  realm: string;
  auth: LinkAuth;
  backoff: BackoffOptions;
  /** Largest inbound message (bytes); a larger one closes the connection (wamp/transport.ts). */
  maxMessageBytes: number;
  /** Runs on every new session; a rejection closes the session and retries. */
  onOpen(session: AutobahnSession, details: Record<string, unknown>): Promise<void>;
  /** The session that was open is gone (not called for failed attempts). */
  onClose(reason: string, message: string): void;
  log(level: 'info' | 'warn' | 'error' | 'debug', msg: string, extra?: Record<string, unknown>): void;
}

export class WampLink {
  private connection: AutobahnConnection | undefined;
  private sessionNow: AutobahnSession | undefined;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private closedWaiters: (() => void)[] = [];

  constructor(private readonly opts: LinkOptions) {}

  get session(): AutobahnSession | undefined { return this.sessionNow?.isOpen ? this.sessionNow : undefined; }

  start(): void {
    routeAutobahnWarnings((text) => this.opts.log('debug', 'autobahn', { autobahn: preview(text) }));
    registerBoundedTransport(autobahn as unknown as { transports: { register(name: string, factory: unknown): void } });
    this.stopped = false;
    this.connect();
  }

  /** Leaves the realm (GOODBYE) and stops reconnecting. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const c = this.connection;
    if (c === undefined) return;
    const closed = new Promise<void>((r) => this.closedWaiters.push(r));
    try { c.close('wamp.close.normal', 'claw node stopping'); } catch { /* already closing */ }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); })]);
    clearTimeout(timer);
  }

  private connect(): void {
    const { auth } = this.opts;
    const authOptions = auth.method === 'cryptosign'
      ? {
          authmethods: ['cryptosign'],
          authid: auth.authid,
          authextra: { pubkey: auth.key.publicKey },
          onchallenge: (_s: unknown, method: string, extra: { challenge?: string }) => {
            if (method !== 'cryptosign' || typeof extra?.challenge !== 'string') throw new Error(`unexpected challenge method ${method}`);
            return auth.key.sign(extra.challenge);
          },
        }
      : { authmethods: ['anonymous'] };
    const connection = new autobahn.Connection({
      transports: [{
        type: TRANSPORT_TYPE, url: this.opts.url, maxPayload: this.opts.maxMessageBytes,
        onOversized: () => this.opts.log('warn', 'a message from the router was larger than router.maxMessageBytes: connection closed', { maxMessageBytes: this.opts.maxMessageBytes }),
      }],
      realm: this.opts.realm,
      max_retries: 0,
      retry_if_unreachable: false,
      use_es6_promises: true,
      ...authOptions,
    });
    this.connection = connection;
    let opened = false;
    connection.onopen = (session, details) => {
      opened = true;
      this.attempt = 0;
      this.sessionNow = session;
      this.opts.log('info', 'joined the router', { url: this.opts.url, realm: this.opts.realm, session: session.id });
      this.opts.onOpen(session, details).catch((e: unknown) => {
        this.opts.log('error', 'session setup failed; reconnecting', { err: describe(e) });
        try { connection.close('wamp.close.normal', 'setup failed'); } catch { /* closing already */ }
      });
    };
    connection.onclose = (reason, details) => {
      if (this.connection === connection) this.connection = undefined;
      this.sessionNow = undefined;
      if (opened) this.opts.onClose(reason, `${details?.reason ?? ''} ${details?.message ?? ''}`.trim());
      else this.opts.log('warn', 'could not join the router', { url: this.opts.url, reason: preview(reason), detail: preview(details?.reason ?? ''), message: preview(details?.message ?? '') });
      for (const w of this.closedWaiters.splice(0)) w();
      if (!this.stopped) {
        const delay = backoffDelay(this.attempt++, this.opts.backoff);
        this.opts.log('info', 'reconnecting', { inMs: delay });
        this.retryTimer = setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
      }
      return true; // we schedule reconnects ourselves
    };
    connection.open();
  }
}

/** A setup failure as bounded log text (router errors carry the router's args). */
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
