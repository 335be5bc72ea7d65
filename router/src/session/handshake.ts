// The opening of a session, until WELCOME or ABORT:
//
//   (connect) --HELLO--> realm, roles, auth negotiated --(CHALLENGE/AUTHENTICATE)*--> admitted --> WELCOME
//
// One Handshake per session, dropped at WELCOME: what only the opening needs
// (its clocks, the outstanding CHALLENGE's check, the handshake size bound)
// is not held by an established session. The session (session.ts) hands it
// HELLO and AUTHENTICATE and is told when to welcome.
import { MessageType, ProtocolViolation, type Authenticate, type Dict, type Hello, type RouterMessage } from '../messages/types.js';
import { clientFeatures, type ClientFeatures } from '../messages/client-features.js';
import type { Transport } from '../transport/transport.js';
import type { Member, Realm } from '../realm/realm.js';
import { randomId } from '../ids.js';
import { WampErrors, WampError } from '../errors.js';
import { isValidUri, shortText, shortUri } from '../uri.js';
import { DEFAULT_AUTH_TIMEOUT_MS, type AuthPolicy, type Identity } from '../auth/auth-policy.js';
import { startAuthentication } from '../auth/negotiate.js';
import type { AuthContext, MaybePromise, Refusal, Step, Verify } from '../auth/authentication.js';
import { DEFAULT_MAX_HANDSHAKE_SIZE, DEFAULT_MAX_URI_LENGTH, type EndpointLimits } from '../limits/limits-config.js';
import { failedAuthMethod } from '../metrics/auth-method.js';
import type { Logger } from '../logger.js';
import type { LimitCounters } from '../limits/limit-counters.js';
import type { RouterMetrics } from '../metrics/router-metrics.js';

/** What the handshake needs of the router (a part of session.ts's SessionHost). */
export interface HandshakeHost {
  findRealm(name: string): Realm | undefined;
  readonly log: Logger;
  readonly limitCounters?: LimitCounters;
  readonly metrics?: RouterMetrics;
  /** True while the heap is over its high watermark: no new sessions (limits/memory-pressure.ts). */
  readonly overloaded?: boolean;
  /** A new session's id (a cluster node's carry its slot: ids.ts nodeRandomId); randomId() without it. */
  sessionId?(): number;
}

/** What the handshake needs of the session it opens. */
export interface Opening extends Member {
  readonly transport: Transport;
  send(message: RouterMessage): void;
  abort(reason: string, message: string): void;
  /** Runs `fn`; a ProtocolViolation or a bug in it ends the session, never the router. */
  guarded(what: string, fn: () => void): void;
  /** HELLO was accepted: the session has its id and announced features, and is authenticating. */
  opened(id: number, features: ClientFeatures): void;
  /** Authenticated and admitted: WELCOME, and the session joins `realm`. */
  welcome(realm: Realm, identity: Identity): void;
}

export class Handshake {
  /** Bytes one message may have until WELCOME (max_handshake_size): nobody is known yet. */
  readonly maxMessageSize: number;
  /** False once the handshake ended (welcomed, refused, or the session closed): late answers are dropped. */
  private active = true;
  private helloTimer: NodeJS.Timeout | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  /** The check for the AUTHENTICATE we wait for (null: none expected now). */
  private verify: Verify | null = null;
  /** The realm HELLO asked for. */
  private joining: Realm | null = null;
  private id = 0;
  private authmethodsTried = '';
  private claimedAuthid: string | undefined;

  constructor(
    private readonly session: Opening,
    private readonly host: HandshakeHost,
    private readonly auth: AuthPolicy,
    endpoint: EndpointLimits | undefined,
  ) {
    this.maxMessageSize = endpoint?.maxHandshakeSize ?? DEFAULT_MAX_HANDSHAKE_SIZE;
    if (endpoint !== undefined && session.transport.info.kind !== 'local') this.armHelloTimer(endpoint.helloTimeoutMs);
  }

  /** What the session may send now, for a protocol violation's message. */
  get expecting(): string {
    return this.verify !== null ? 'AUTHENTICATE' : 'nothing until the router answers';
  }

  /** Ends the handshake's clocks; anything still pending for it is dropped. */
  stop(): void {
    this.active = false;
    if (this.authTimer !== undefined) { clearTimeout(this.authTimer); this.authTimer = undefined; }
    if (this.helloTimer !== undefined) { clearTimeout(this.helloTimer); this.helloTimer = undefined; }
    this.verify = null;
  }

  /** A connection that never says HELLO must not hold a socket (and a session object) forever. */
  private armHelloTimer(ms: number): void {
    this.helloTimer = setTimeout(() => {
      this.helloTimer = undefined;
      if (!this.active || this.joining !== null) return;
      if (this.host.limitCounters) this.host.limitCounters.helloTimeouts++;
      this.session.abort(WampErrors.handshakeTimeout, `no HELLO within ${ms} ms of connecting`);
    }, ms);
    this.helloTimer.unref();
  }

  hello(hello: Hello): void {
    if (this.helloTimer !== undefined) { clearTimeout(this.helloTimer); this.helloTimer = undefined; }
    const session = this.session;
    if (this.host.overloaded === true && session.transport.info.kind !== 'local') {
      if (this.host.limitCounters) this.host.limitCounters.overloadRefused++;
      session.abort(WampErrors.overloaded, 'the router is short of memory and accepts no new sessions now; try again later');
      return;
    }
    // The realm is not known yet, so its max_uri_length isn't either: realm names are held to the default.
    if (hello.realm.length > DEFAULT_MAX_URI_LENGTH) {
      if (this.host.limitCounters) this.host.limitCounters.urisTooLong++;
      session.abort(WampErrors.invalidUri, `realm URI of ${hello.realm.length} characters is longer than ${DEFAULT_MAX_URI_LENGTH}: "${shortUri(hello.realm)}"`);
      return;
    }
    if (!isValidUri(hello.realm, 'loose')) {
      session.abort(WampErrors.invalidUri, `invalid realm URI "${shortUri(hello.realm)}"`);
      return;
    }
    const roles = hello.details.roles;
    if (roles === undefined || typeof roles !== 'object' || roles === null || Array.isArray(roles) || Object.keys(roles).length === 0) {
      throw new ProtocolViolation('HELLO.Details.roles must be a dict announcing at least one client role');
    }
    const realm = this.host.findRealm(hello.realm);
    if (realm === undefined) {
      session.abort(WampErrors.noSuchRealm, `no realm "${shortUri(hello.realm)}" exists on this router`);
      return;
    }
    // The id is fixed now: a WAMP-CRA challenge and authenticators see the one WELCOME will carry.
    this.id = this.host.sessionId?.() ?? randomId();
    this.joining = realm;
    session.opened(this.id, clientFeatures(roles as Dict));
    const requested = hello.details.authmethods;
    this.authmethodsTried = Array.isArray(requested) ? requested.filter((m) => typeof m === 'string').join(',') : 'anonymous';
    this.claimedAuthid = typeof hello.details.authid === 'string' ? hello.details.authid : undefined;
    this.step(realm, startAuthentication(this.auth, hello, this.authContext(realm)));
  }

  authenticate(m: Authenticate): void {
    const verify = this.verify;
    if (verify === null) throw new ProtocolViolation('AUTHENTICATE received but no CHALLENGE is outstanding');
    this.verify = null;
    this.step(this.joining!, verify(m.signature, m.extra));
  }

  /** Bounds the time from HELLO to WELCOME once authentication has to wait for something. */
  private armAuthTimer(): void {
    if (this.authTimer !== undefined) return;
    this.authTimer = setTimeout(() => {
      this.authTimer = undefined;
      if (!this.active) return;
      this.authFailed({ error: WampErrors.authenticationFailed, message: 'authentication timed out', detail: `not authenticated within ${this.authTimeout} ms of HELLO` });
    }, this.authTimeout);
    this.authTimer.unref();
  }

  private get authTimeout(): number {
    return this.auth.timeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
  }

  private authContext(realm: Realm): AuthContext {
    const t = this.session.transport.info;
    return {
      realm: realm.name,
      sessionId: this.id,
      transport: { type: t.kind, peer: t.peer, ...(t.proxy !== undefined ? { proxy: t.proxy } : {}), serializer: t.serializer, path: t.path ?? null, http_headers_received: t.httpHeaders ?? {} },
      // TLS channel binding (cryptosign's tls-unique) is not wired up: the TLS transports do not hand
      // the session their channel id, so a client that asks for it is refused (docs/router.md, TLS).
      channelId: undefined,
      call: (realmName, procedure, args) => {
        const r = this.host.findRealm(realmName);
        if (r === undefined) return Promise.reject(new WampError(WampErrors.noSuchProcedure, [`no realm "${realmName}" for the authenticator`]));
        return r.dealer.callInternal(procedure, args, this.authTimeout).then((res) => res.args[0]);
      },
      now: Date.now,
    };
  }

  /** Follows one authentication step: welcome, refuse, or send CHALLENGE and wait. */
  private step(realm: Realm, s: MaybePromise<Step>): void {
    if (s instanceof Promise) {
      this.armAuthTimer();
      s.then(
        (v) => { if (this.active) this.session.guarded('authentication', () => this.step(realm, v)); },
        (e: unknown) => this.authBug(e),
      );
      return;
    }
    if ('welcome' in s) { this.establish(realm, s.welcome); return; }
    if ('refuse' in s) { this.authFailed(s.refuse); return; }
    this.verify = s.verify;
    this.armAuthTimer();
    this.session.send({ type: MessageType.CHALLENGE, authmethod: s.challenge.authmethod, extra: s.challenge.extra });
  }

  private authBug(e: unknown): void {
    this.host.log.error({ err: e, session: this.id }, 'internal error while authenticating');
    this.session.abort(WampErrors.authenticationFailed, 'internal error while authenticating');
  }

  private authFailed(r: Refusal): void {
    this.host.log.warn({
      session: this.id, peer: this.session.transport.info.peer, realm: this.joining?.name, authmethods: shortText(this.authmethodsTried, 100),
      authid: this.claimedAuthid === undefined ? undefined : shortText(this.claimedAuthid, 100), reason: r.error, detail: shortText(r.detail),
    }, 'authentication failed');
    if (r.error !== WampErrors.tooManySessions) this.host.metrics?.authFailure(failedAuthMethod(this.authmethodsTried.split(','), this.auth));
    this.session.abort(r.error, r.message);
  }

  /** Authenticated: the role must exist and the realm must have room; then WELCOME. */
  private establish(realm: Realm, identity: Identity): void {
    this.stop();
    if (!realm.hasRole(this.session, identity.authrole)) {
      this.authFailed({ error: WampErrors.noSuchRole, message: `role "${identity.authrole}" does not exist on realm "${realm.name}"`, detail: `authenticated as "${identity.authid}" but role "${identity.authrole}" is not defined` });
      return;
    }
    const crowded = realm.admissionRefusal(this.session, identity);
    if (crowded !== undefined) {
      if (this.host.limitCounters) this.host.limitCounters.sessionsRefused++;
      this.authFailed({ error: WampErrors.tooManySessions, message: crowded, detail: crowded });
      return;
    }
    this.session.welcome(realm, identity);
  }
}
