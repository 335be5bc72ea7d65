// One WAMP session to the router that keeps coming back: every loss (a
// dropped socket, a router restart's GOODBYE, a refused login after a ticket
// expired) schedules another attempt with backoff, and `onOpen` runs again
// on each new session so the page re-subscribes and reclaims its place.
// autobahn's own auto-reconnect stops after a GOODBYE and after a refused
// login, so each attempt is a fresh Connection with its retries off.
import autobahn, { type Connection, type Session } from 'autobahn';
import { DEFAULT_BACKOFF, carryReason, closeReason, retryDelay, type Backoff, type ConnectionState, type LostReason } from '../src/logic/connection.js';

export type Credentials =
  | { method: 'anonymous' }
  | { method: 'ticket'; authid: string; ticket: string }
  | { method: 'wampcra'; authid: string; secret: string };

export interface LinkOptions {
  url: string;
  realm: string;
  /** Asked before every attempt (a ticket may need refreshing). */
  credentials: () => Promise<Credentials>;
  onOpen: (session: Session) => void | Promise<void>;
  onState: (state: ConnectionState) => void;
  /** A refused login; return false to stop trying (e.g. a wrong operator password). */
  onAuthFailed?: (reason: string, message: string) => boolean;
  backoff?: Backoff;
  /** Makes each attempt's connection; autobahn's by default (tests put in their own to order events). */
  newConnection?: (options: Record<string, unknown>) => Connection;
}

const AUTH_ERRORS = new Set(['wamp.error.authentication_failed', 'wamp.error.not_authorized', 'wamp.error.no_auth_method', 'wamp.error.no_such_role', 'wamp.error.cannot_authenticate']);

export class WampLink {
  private connection: Connection | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private stopped = true;
  private generation = 0;
  /** Why the last session was lost, until the next one is online (a restart stays a restart while the router is down). */
  private lost: LostReason | undefined;
  session: Session | undefined;

  constructor(private readonly opts: LinkOptions) {
    // The browser knows before our socket does: try at once when the network returns.
    globalThis.addEventListener?.('online', () => { if (!this.stopped && !this.session) this.retryNow(); });
  }

  start(): void {
    this.stopped = false;
    this.attempt = 0;
    this.lost = undefined;
    void this.connect();
  }

  /** Closes the current session (if any) and connects again, e.g. with new credentials. */
  restart(): void {
    this.stop();
    this.start();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.timer);
    const c = this.connection;
    this.connection = undefined;
    this.session = undefined;
    try { c?.close('wamp.close.normal'); } catch { /* already closed */ }
  }

  retryNow(): void {
    clearTimeout(this.timer);
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.connection) return;
    const gen = ++this.generation;
    this.attempt++;
    this.opts.onState({ kind: 'connecting', attempt: this.attempt, ...(this.lost ? { reason: this.lost.reason } : {}) });
    let creds: Credentials;
    try {
      creds = await this.opts.credentials();
    } catch (e) {
      this.scheduleRetry(gen, `login unavailable (${(e as Error).message})`);
      return;
    }
    if (gen !== this.generation || this.stopped) return;

    const options: Record<string, unknown> = {
      transports: [{ type: 'websocket', url: this.opts.url, serializers: [new autobahn.serializer.JSONSerializer()] }],
      realm: this.opts.realm,
      max_retries: 0,
      retry_if_unreachable: false,
    };
    if (creds.method === 'ticket') {
      Object.assign(options, { authmethods: ['ticket'], authid: creds.authid, onchallenge: () => creds.ticket });
    } else if (creds.method === 'wampcra') {
      Object.assign(options, {
        authmethods: ['wampcra'], authid: creds.authid,
        // autobahn calls onchallenge(session, method, extra).
        onchallenge: (_session: unknown, _method: string, extra: { challenge: string; salt?: string; iterations?: number; keylen?: number }) => {
          const key = extra.salt ? autobahn.auth_cra.derive_key(creds.secret, extra.salt, extra.iterations, extra.keylen) : creds.secret;
          return autobahn.auth_cra.sign(key, extra.challenge);
        },
      });
    } else {
      options.authmethods = ['anonymous'];
    }

    const connection = this.opts.newConnection?.(options) ?? new autobahn.Connection(options);
    this.connection = connection;
    connection.onopen = (session) => {
      // Opened after stop() or restart() gave up on it: a session nobody uses must not stay on the router.
      if (gen !== this.generation) { try { connection.close('wamp.close.normal'); } catch { /* closing already */ } return; }
      this.attempt = 0;
      this.session = session;
      // "Online" only once the page's subscriptions are in place: a player who
      // joins earlier could miss the get_ready sent to their own topic.
      Promise.resolve(this.opts.onOpen(session))
        .catch((e: unknown) => console.error('session setup failed', e))
        .finally(() => {
          if (gen !== this.generation || this.session !== session) return;
          this.lost = undefined;
          this.opts.onState({ kind: 'online', since: Date.now() });
        });
    };
    connection.onclose = (reason, details) => {
      // A connection restart() replaced finishes closing (GOODBYE, then the WebSocket
      // close) when it will, often after its successor opened: it must not touch
      // the successor's state. (It did: the new session was cleared before its
      // setup finished, and the page never went online.)
      if (this.connection !== connection) return true;
      this.connection = undefined;
      this.session = undefined;
      if (gen !== this.generation || this.stopped) return true;
      if (details.reason && AUTH_ERRORS.has(details.reason)) {
        const keepTrying = this.opts.onAuthFailed?.(details.reason, details.message ?? '') ?? true;
        if (!keepTrying) {
          this.stopped = true;
          this.opts.onState({ kind: 'offline', reason: closeReason(reason, details) });
          return true;
        }
      }
      this.scheduleRetry(gen, closeReason(reason, details));
      return true; // our own retry, never autobahn's
    };
    connection.open();
  }

  private scheduleRetry(gen: number, reason: string): void {
    if (gen !== this.generation || this.stopped) return;
    const delay = retryDelay(this.attempt, this.opts.backoff ?? DEFAULT_BACKOFF, Math.random());
    this.lost = carryReason(this.lost, reason, Date.now());
    this.opts.onState({ kind: 'waiting', attempt: this.attempt, retryAt: Date.now() + delay, reason: this.lost.reason });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { void this.connect(); }, delay);
  }
}

// Machines whose topics each session watches. Per session: a closing
// session's setup may still be running when the next one starts, and a set
// shared by both let it mark a machine as watched for the new session too.
const watched = new WeakMap<Session, Set<string>>();
export function watchedBy(session: Session): Set<string> {
  let set = watched.get(session);
  if (set === undefined) { set = new Set(); watched.set(session, set); }
  return set;
}
