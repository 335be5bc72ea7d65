// The backend's link to the router: autobahn with its own retry loop
// (exponential backoff with jitter), authentication from config, and a fresh
// onOpen for every session so everything is registered again after a
// reconnect. A rejected onOpen drops the session and retries.
import { craSignature, deriveCraKey } from '@clawgate/router';
import type { BackendConfig, RouterAuth } from '../config.js';
import type { Logger } from '../logger.js';
import { autobahn, routeAutobahnWarnings, type AutobahnConnection, type AutobahnSession } from './autobahn.js';

export interface LinkHooks {
  onOpen(session: AutobahnSession): Promise<void>;
  onClose(): void;
}

/** HELLO options for the configured auth method. */
export function authOptions(auth: RouterAuth): Record<string, unknown> {
  if (auth.method === 'anonymous') return {};
  if (auth.method === 'ticket') {
    return { authmethods: ['ticket'], ...(auth.authid ? { authid: auth.authid } : {}), onchallenge: () => auth.ticket };
  }
  return {
    authmethods: ['wampcra'],
    authid: auth.authid,
    onchallenge: (_s: unknown, method: string, extra: { challenge: string; salt?: string; iterations?: number; keylen?: number }) => {
      if (method !== 'wampcra') throw new Error(`unexpected challenge ${method}`);
      const key = extra.salt ? deriveCraKey(auth.secret, extra.salt, extra.iterations, extra.keylen) : auth.secret;
      return craSignature(key, extra.challenge);
    },
  };
}

export class RouterLink {
  private connection: AutobahnConnection | undefined;
  private current: AutobahnSession | undefined;
  private stopping = false;
  private closed: (() => void) | undefined;
  /** Restarts after a router GOODBYE or ABORT, since the last open session (autobahn retries only lost transports). */
  private restarts = 0;

  constructor(private readonly config: BackendConfig, private readonly log: Logger, private readonly hooks: LinkHooks) {}

  get session(): AutobahnSession | undefined { return this.current?.isOpen ? this.current : undefined; }

  start(): void {
    const { router } = this.config;
    routeAutobahnWarnings((text) => this.log.debug({ autobahn: text }, 'autobahn'));
    const c = new autobahn.Connection({
      url: router.url,
      realm: router.realm,
      ...authOptions(router.auth),
      max_retries: -1,
      retry_if_unreachable: true,
      initial_retry_delay: router.reconnect.initialDelaySeconds,
      max_retry_delay: router.reconnect.maxDelaySeconds,
      retry_delay_growth: router.reconnect.growth,
      // Errors our procedures raise on purpose (claw.error.*) are answers, not incidents.
      on_user_error: (err: unknown, text: string) => {
        if (String((err as { error?: string })?.error ?? '').startsWith('claw.error.')) return;
        this.log.warn({ err: String((err as Error)?.message ?? err), text }, 'autobahn user error');
      },
    });
    c.onopen = (session) => {
      this.current = session;
      this.restarts = 0;
      this.log.info({ session: session.id, url: router.url, realm: router.realm }, 'connected to the router');
      this.hooks.onOpen(session).catch((err: unknown) => {
        this.log.error({ err: String((err as { error?: string }).error ?? (err as Error).message ?? err) }, 'setting up the session failed; reconnecting');
        // Closing the transport (not GOODBYE) keeps autobahn's retry loop going.
        (session as unknown as { _socket?: { close(): void } })._socket?.close();
      });
    };
    c.onclose = (reason, details) => {
      const wasOpen = this.current !== undefined;
      this.current = undefined;
      if (wasOpen) this.hooks.onClose();
      if (this.stopping) { this.closed?.(); return true; }
      this.log.warn({ reason, detail: details?.reason, message: details?.message }, 'router connection lost; retrying');
      // autobahn does not retry after a GOODBYE from the router (a router restart): start over.
      if (details?.will_retry === false) {
        const delay = Math.min(router.reconnect.maxDelaySeconds, router.reconnect.initialDelaySeconds * router.reconnect.growth ** this.restarts++);
        setTimeout(() => { if (!this.stopping) this.start(); }, delay * 1000 * (0.9 + Math.random() * 0.2));
      }
      return false;
    };
    this.connection = c;
    c.open();
  }

  /** GOODBYE and no more retries. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopping = true;
    const c = this.connection;
    if (!c) return;
    const done = new Promise<void>((r) => { this.closed = r; });
    try { c.close('wamp.close.normal', 'backend stopping'); } catch { this.closed?.(); }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); })]);
    clearTimeout(timer);
  }
}
