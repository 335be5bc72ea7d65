// One WAMP session: the state machine between a transport and a realm.
//
//   establishing --HELLO--> authenticating --CHALLENGE/AUTHENTICATE--> established --GOODBYE--> closed
//
// `authenticating` covers a dynamic authenticator being asked and a CHALLENGE
// waiting for its AUTHENTICATE; it is bounded by the transport's auth timeout.
// Anonymous HELLOs pass through it in the same turn.
//
// Inbound bytes are decoded and validated once here; anything malformed or
// out of order ends the session with ABORT wamp.error.protocol_violation and
// a readable reason. Established sessions hand their messages to the realm's
// broker and dealer.
import {
  MessageType, ProtocolViolation, messageTypeName,
  type Dict, type RouterMessage, type WampMessage, type Hello,
} from '../messages/types.js';
import { decodeMessage } from '../messages/decode.js';
import { Outgoing } from '../transport/outgoing.js';
import type { Transport, TransportSink } from '../transport/transport.js';
import type { Realm } from '../realm/realm.js';
import { IdSequence, randomId } from '../ids.js';
import { WampErrors, WampError } from '../errors.js';
import { isValidUri, shortText, shortUri } from '../uri.js';
import type { Logger } from '../logger.js';
import { DEFAULT_AUTH_TIMEOUT_MS, type AuthPolicy, type Identity } from '../auth/auth-policy.js';
import { startAuthentication } from '../auth/negotiate.js';
import type { AuthContext, MaybePromise, Refusal, Step, Verify } from '../auth/authentication.js';
import { clientFeatures, type ClientFeatures } from './client-features.js';
import {
  DEFAULT_MAX_HANDSHAKE_SIZE, DEFAULT_MAX_URI_LENGTH, NO_SESSION_LIMITS, type EndpointLimits, type SessionLimits,
} from '../limits/limits-config.js';
import { newBucket, takeToken, type BucketState, type RateLimit } from '../limits/token-bucket.js';
import type { LimitCounters } from '../limits/limit-counters.js';
import { REFUSAL_COUNTERS, type RefusalKind } from '../limits/refusals.js';
import { DEFAULT_DECODE_LIMITS, DecodeLimitExceeded, type DecodeLimits } from '../serializers/serializer.js';
import type { MeteredSession, RouterMetrics } from '../metrics/router-metrics.js';
import { failedAuthMethod } from '../metrics/auth-method.js';

export type SessionState = 'establishing' | 'authenticating' | 'established' | 'closing' | 'closed';

/** Messages held back while an authorizer decides; beyond this the peer is flooding. */
const MAX_BACKLOG = 10_000;
/** Bytes of the messages held back while an authorizer decides (each is at most max_message_size). */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

/** What a session needs from the router that owns it. */
export interface SessionHost {
  findRealm(name: string): Realm | undefined;
  readonly log: Logger;
  /** Called once when the session is gone (for bookkeeping of live sessions). */
  sessionClosed(session: Session): void;
  /** Where refusals and drops by the limits are counted. */
  readonly limitCounters?: LimitCounters;
  /** Message, error and latency counters (metrics/router-metrics.ts). */
  readonly metrics?: RouterMetrics;
  /** True while the heap is over its high watermark: new work is refused (limits/memory-pressure.ts). */
  readonly overloaded?: boolean;
}

export class Session implements TransportSink, MeteredSession {
  /** Global-scope id, assigned at WELCOME. 0 until then. */
  id = 0;
  state: SessionState = 'establishing';
  realm: Realm | null = null;
  authid = '';
  authrole = '';
  authmethod = '';
  authprovider = '';
  authextra: Dict = {};
  features: ClientFeatures = clientFeatures({});
  helloDetails: Dict = {};
  /** Session-scope ids for the requests the router sends (INVOCATION). */
  readonly requestIds = new IdSequence();
  readonly createdAt = Date.now();
  private readonly log: Logger;
  /** While authenticating: the check for the AUTHENTICATE we wait for (null: none expected now). */
  private verify: Verify | null = null;
  private authTimer: NodeJS.Timeout | undefined;
  private authmethodTried = '';
  /** The realm HELLO asked for, until WELCOME. */
  private joining: Realm | null = null;
  private claimedAuthid: string | undefined;
  /** Set while a dynamic authorizer decides; later messages wait in `backlog`. */
  private held = false;
  private backlog: WampMessage[] = [];
  private backlogBytes = 0;
  /** Limits on this session's traffic, set at WELCOME (none for in-process sessions). */
  limits: SessionLimits = NO_SESSION_LIMITS;
  private publishBucket: BucketState | undefined;
  private callBucket: BucketState | undefined;
  private subscribeBucket: BucketState | undefined;
  private registerBucket: BucketState | undefined;
  /** Refusal kinds (and variants) this session has been logged for: each is logged once, then only counted. */
  private refusalsLogged: Set<string> | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  /** Bytes one message may have until WELCOME. */
  private readonly maxHandshakeSize: number;
  private readonly decodeLimits: DecodeLimits;
  /** Bytes of the message being handled (what a backlogged PUBLISH measured is kept on the PUBLISH itself). */
  private inboundSize = 0;
  /** This session's CALLs in flight, for the call latency metric (RouterMetrics). */
  callStarts: Map<number, number> | undefined = undefined;

  constructor(
    readonly transport: Transport,
    private readonly host: SessionHost,
    private readonly auth: AuthPolicy,
    endpoint?: EndpointLimits,
  ) {
    this.log = host.log;
    this.metrics = host.metrics;
    this.maxHandshakeSize = endpoint?.maxHandshakeSize ?? DEFAULT_MAX_HANDSHAKE_SIZE;
    this.decodeLimits = endpoint?.decode ?? DEFAULT_DECODE_LIMITS;
    if (endpoint !== undefined && transport.info.kind !== 'local') this.armHelloTimer(endpoint.helloTimeoutMs);
  }

  /** A connection that never says HELLO must not hold a socket (and a session object) forever. */
  private armHelloTimer(ms: number): void {
    this.helloTimer = setTimeout(() => {
      this.helloTimer = undefined;
      if (this.state !== 'establishing') return;
      if (this.host.limitCounters) this.host.limitCounters.helloTimeouts++;
      this.abort(WampErrors.handshakeTimeout, `no HELLO within ${ms} ms of connecting`);
    }, ms);
    this.helloTimer.unref();
  }

  // ---- inbound -------------------------------------------------------------

  receive(data: Uint8Array | string, byteLength?: number): void {
    if (this.state === 'closed') return;
    const serializer = this.transport.serializer;
    if (serializer === null) throw new Error('receive() on a local transport; use handle()');
    const size = byteLength ?? (typeof data === 'string' ? data.length : data.byteLength);
    // Before WELCOME nobody is known: only a handshake's worth of bytes is decoded.
    if ((this.state === 'establishing' || this.state === 'authenticating') && size > this.maxHandshakeSize) {
      if (this.host.limitCounters) this.host.limitCounters.handshakeTooLarge++;
      this.protocolViolation(`message of ${size} bytes before the session is established; the limit is ${this.maxHandshakeSize} bytes (max_handshake_size)`);
      return;
    }
    let raw: unknown;
    try {
      raw = serializer.decode(data, this.decodeLimits);
    } catch (e) {
      if (e instanceof DecodeLimitExceeded && this.host.limitCounters) this.host.limitCounters.decodeLimited++;
      this.protocolViolation(`cannot decode ${serializer.id} message: ${(e as Error).message}`);
      return;
    }
    this.inboundSize = size;
    let message: WampMessage;
    try {
      message = decodeMessage(raw, size);
    } catch (e) {
      if (e instanceof ProtocolViolation) { this.protocolViolation(e.message); return; }
      throw e;
    }
    this.metrics?.messageIn(this, message);
    this.handle(message);
  }

  /** Counts messages in and out; in-process sessions count theirs in LocalSession. */
  readonly metrics: RouterMetrics | undefined;

  /** Entry point for a decoded, validated message. */
  handle(message: WampMessage): void {
    if (this.held) {
      this.backlogBytes += this.inboundSize;
      if (this.backlog.length >= MAX_BACKLOG || this.backlogBytes > MAX_BACKLOG_BYTES) {
        this.protocolViolation(`more than ${MAX_BACKLOG} messages or ${MAX_BACKLOG_BYTES} bytes sent while an authorization was pending`);
        return;
      }
      this.backlog.push(message);
      return;
    }
    this.guarded(messageTypeName[message.type] ?? 'message', () => {
      switch (this.state) {
        case 'establishing': this.handleEstablishing(message); break;
        case 'authenticating': this.handleAuthenticating(message); break;
        case 'established': this.handleEstablished(message); break;
        case 'closing': this.handleClosing(message); break;
        case 'closed': break;
      }
    });
  }

  /** Runs `fn`; a ProtocolViolation or a bug in it ends this session, never the router. */
  private guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof ProtocolViolation) { this.protocolViolation(e.message); return; }
      // A bug must not take the router down, nor leave the peer hanging.
      this.log.error({ err: e, session: this.id }, 'internal error while handling a message');
      this.abort(WampErrors.protocolViolation, `internal error handling ${what}`);
    }
  }

  /**
   * Runs `then` with the value once `pending` settles (if the session is
   * still established), holding back this session's later messages until
   * then so they are handled in the order they came.
   */
  holdUntil<T>(pending: Promise<T>, then: (value: T) => void): void {
    this.held = true;
    pending.then(
      (v) => { if (this.state === 'established') this.guarded('a deferred decision', () => then(v)); },
      (e: unknown) => { this.log.error({ err: e, session: this.id }, 'deferred decision failed'); this.abort(WampErrors.protocolViolation, 'internal error'); },
    ).finally(() => {
      this.held = false;
      this.backlogBytes = 0;
      while (!this.held && this.backlog.length > 0 && this.state !== 'closed') this.handle(this.backlog.shift()!);
      if (this.state === 'closed') this.backlog = [];
    });
  }

  transportClosed(): void {
    if (this.state === 'closed') return;
    this.stopAuthTimer();
    this.state = 'closed';
    this.silenced = true;
    this.leaveRealm();
    this.host.sessionClosed(this);
  }

  private handleEstablishing(m: WampMessage): void {
    if (m.type === MessageType.HELLO) { this.onHello(m); return; }
    if (m.type === MessageType.ABORT) { this.closeTransport(); return; }
    throw new ProtocolViolation(`${messageTypeName[m.type]} received before the session was established (expected HELLO)`);
  }

  private onHello(hello: Hello): void {
    if (this.helloTimer !== undefined) { clearTimeout(this.helloTimer); this.helloTimer = undefined; }
    if (this.host.overloaded === true && this.transport.info.kind !== 'local') {
      if (this.host.limitCounters) this.host.limitCounters.overloadRefused++;
      this.abort(WampErrors.overloaded, 'the router is short of memory and accepts no new sessions now; try again later');
      return;
    }
    // The realm is not known yet, so its max_uri_length isn't either: realm names are held to the default.
    if (hello.realm.length > DEFAULT_MAX_URI_LENGTH) {
      if (this.host.limitCounters) this.host.limitCounters.urisTooLong++;
      this.abort(WampErrors.invalidUri, `realm URI of ${hello.realm.length} characters is longer than ${DEFAULT_MAX_URI_LENGTH}: "${shortUri(hello.realm)}"`);
      return;
    }
    if (!isValidUri(hello.realm, 'loose')) {
      this.abort(WampErrors.invalidUri, `invalid realm URI "${shortUri(hello.realm)}"`);
      return;
    }
    const roles = hello.details.roles;
    if (roles === undefined || typeof roles !== 'object' || roles === null || Array.isArray(roles) || Object.keys(roles).length === 0) {
      throw new ProtocolViolation('HELLO.Details.roles must be a dict announcing at least one client role');
    }
    const realm = this.host.findRealm(hello.realm);
    if (realm === undefined) {
      this.abort(WampErrors.noSuchRealm, `no realm "${shortUri(hello.realm)}" exists on this router`);
      return;
    }
    this.helloDetails = hello.details;
    this.features = clientFeatures(roles as Dict);
    // The id is fixed now: a WAMP-CRA challenge and authenticators see the one WELCOME will carry.
    this.id = randomId();
    this.state = 'authenticating';
    this.joining = realm;
    const requested = hello.details.authmethods;
    this.authmethodTried = Array.isArray(requested) ? requested.filter((m) => typeof m === 'string').join(',') : 'anonymous';
    this.claimedAuthid = typeof hello.details.authid === 'string' ? hello.details.authid : undefined;
    this.step(realm, startAuthentication(this.auth, hello, this.authContext(realm)));
  }

  /** Bounds the time from HELLO to WELCOME once authentication has to wait for something. */
  private armAuthTimer(): void {
    if (this.authTimer !== undefined) return;
    this.authTimer = setTimeout(() => {
      this.authTimer = undefined;
      if (this.state !== 'authenticating') return;
      this.authFailed({ error: WampErrors.authenticationFailed, message: 'authentication timed out', detail: `not authenticated within ${this.authTimeout} ms of HELLO` });
    }, this.authTimeout);
    this.authTimer.unref();
  }

  private get authTimeout(): number {
    return this.auth.timeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
  }

  private authContext(realm: Realm): AuthContext {
    const t = this.transport.info;
    return {
      realm: realm.name,
      sessionId: this.id,
      transport: { type: t.kind, peer: t.peer, ...(t.proxy !== undefined ? { proxy: t.proxy } : {}), serializer: t.serializer, path: t.path ?? null, http_headers_received: t.httpHeaders ?? {} },
      // TLS channel binding: no transport terminates TLS yet, so there is no channel id to bind to.
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
        (v) => { if (this.state === 'authenticating') this.guarded('authentication', () => this.step(realm, v)); },
        (e: unknown) => this.authBug(e),
      );
      return;
    }
    if ('welcome' in s) { this.establish(realm, s.welcome); return; }
    if ('refuse' in s) { this.authFailed(s.refuse); return; }
    this.verify = s.verify;
    this.armAuthTimer();
    this.send({ type: MessageType.CHALLENGE, authmethod: s.challenge.authmethod, extra: s.challenge.extra });
  }

  private handleAuthenticating(m: WampMessage): void {
    if (m.type === MessageType.ABORT) { this.closeTransport(); return; }
    if (m.type !== MessageType.AUTHENTICATE) {
      throw new ProtocolViolation(`${messageTypeName[m.type]} received while authenticating (expected ${this.verify ? 'AUTHENTICATE' : 'nothing until the router answers'})`);
    }
    const verify = this.verify;
    if (verify === null) throw new ProtocolViolation('AUTHENTICATE received but no CHALLENGE is outstanding');
    this.verify = null;
    this.step(this.joining!, verify(m.signature, m.extra));
  }

  private authBug(e: unknown): void {
    this.log.error({ err: e, session: this.id }, 'internal error while authenticating');
    this.abort(WampErrors.authenticationFailed, 'internal error while authenticating');
  }

  private authFailed(r: Refusal): void {
    this.log.warn({
      session: this.id, peer: this.transport.info.peer, realm: this.joining?.name, authmethods: shortText(this.authmethodTried, 100),
      authid: this.claimedAuthid === undefined ? undefined : shortText(this.claimedAuthid, 100), reason: r.error, detail: shortText(r.detail),
    }, 'authentication failed');
    if (r.error !== WampErrors.tooManySessions) this.metrics?.authFailure(failedAuthMethod(this.authmethodTried.split(','), this.auth));
    this.abort(r.error, r.message);
  }

  private stopAuthTimer(): void {
    if (this.authTimer !== undefined) { clearTimeout(this.authTimer); this.authTimer = undefined; }
    if (this.helloTimer !== undefined) { clearTimeout(this.helloTimer); this.helloTimer = undefined; }
    this.verify = null;
  }

  private establish(realm: Realm, identity: Identity): void {
    this.stopAuthTimer();
    if (!realm.hasRole(this, identity.authrole)) {
      this.authFailed({ error: WampErrors.noSuchRole, message: `role "${identity.authrole}" does not exist on realm "${realm.name}"`, detail: `authenticated as "${identity.authid}" but role "${identity.authrole}" is not defined` });
      return;
    }
    const crowded = realm.admissionRefusal(this, identity);
    if (crowded !== undefined) {
      if (this.host.limitCounters) this.host.limitCounters.sessionsRefused++;
      this.authFailed({ error: WampErrors.tooManySessions, message: crowded, detail: crowded });
      return;
    }
    this.limits = realm.sessionLimits(this, identity.authrole);
    const now = Date.now();
    if (this.limits.publishRate !== null) this.publishBucket = newBucket(this.limits.publishRate, now);
    if (this.limits.callRate !== null) this.callBucket = newBucket(this.limits.callRate, now);
    if (this.limits.subscribeRate !== null) this.subscribeBucket = newBucket(this.limits.subscribeRate, now);
    if (this.limits.registerRate !== null) this.registerBucket = newBucket(this.limits.registerRate, now);
    this.authid = identity.authid;
    this.authrole = identity.authrole;
    this.authmethod = identity.authmethod;
    this.authprovider = identity.authprovider;
    this.authextra = identity.authextra ?? {};
    this.realm = realm;
    this.state = 'established';
    this.send({
      type: MessageType.WELCOME,
      session: this.id,
      details: {
        realm: realm.name,
        authid: this.authid,
        authrole: this.authrole,
        authmethod: this.authmethod,
        authprovider: this.authprovider,
        authextra: this.authextra,
        roles: realm.routerRoles(),
      },
    });
    this.transport.established?.();
    realm.join(this);
    this.log.info({ session: this.id, realm: realm.name, authid: this.authid, authrole: this.authrole, authmethod: this.authmethod, peer: this.transport.info.peer }, 'session joined');
  }

  private handleEstablished(m: WampMessage): void {
    const realm = this.realm!;
    switch (m.type) {
      case MessageType.PUBLISH:
        if (this.publishBucket !== undefined && !this.admitPublish(m.request, m.options.acknowledge === true)) return;
        if (m.options.retain === true && this.host.overloaded === true && !this.admitWhileOverloaded(MessageType.PUBLISH, m.request, m.options.acknowledge === true)) return;
        realm.broker.publish(this, m);
        return;
      case MessageType.SUBSCRIBE:
        if (this.subscribeBucket !== undefined && !this.admitRate(this.subscribeBucket, this.limits.subscribeRate!, MessageType.SUBSCRIBE, m.request, 'subscriptions')) return;
        if (this.host.overloaded === true && !this.admitWhileOverloaded(MessageType.SUBSCRIBE, m.request, true)) return;
        realm.broker.subscribe(this, m);
        return;
      case MessageType.UNSUBSCRIBE:
        if (this.subscribeBucket !== undefined && !this.admitRate(this.subscribeBucket, this.limits.subscribeRate!, MessageType.UNSUBSCRIBE, m.request, 'subscriptions')) return;
        realm.broker.unsubscribe(this, m);
        return;
      case MessageType.CALL:
        if (!this.admitCall(m.request)) return;
        realm.dealer.call(this, m);
        return;
      case MessageType.CANCEL: realm.dealer.cancel(this, m); return;
      case MessageType.REGISTER:
        if (this.registerBucket !== undefined && !this.admitRate(this.registerBucket, this.limits.registerRate!, MessageType.REGISTER, m.request, 'registrations')) return;
        if (this.host.overloaded === true && !this.admitWhileOverloaded(MessageType.REGISTER, m.request, true)) return;
        realm.dealer.register(this, m);
        return;
      case MessageType.UNREGISTER:
        if (this.registerBucket !== undefined && !this.admitRate(this.registerBucket, this.limits.registerRate!, MessageType.UNREGISTER, m.request, 'registrations')) return;
        realm.dealer.unregister(this, m);
        return;
      case MessageType.YIELD: realm.dealer.yield(this, m); return;
      case MessageType.ERROR:
        if (m.requestType !== MessageType.INVOCATION) {
          throw new ProtocolViolation(`ERROR from a client may only answer an INVOCATION (68), got request type ${m.requestType}`);
        }
        realm.dealer.invocationError(this, m);
        return;
      case MessageType.GOODBYE:
        this.send({ type: MessageType.GOODBYE, details: {}, reason: WampErrors.goodbyeAndOut });
        this.closeTransport();
        return;
      case MessageType.ABORT:
        this.closeTransport();
        return;
      case MessageType.HELLO:
        throw new ProtocolViolation('HELLO received on an established session');
      case MessageType.AUTHENTICATE:
        throw new ProtocolViolation('AUTHENTICATE received on an established session');
      default:
        throw new ProtocolViolation(`${messageTypeName[m.type]} is not a message a client may send to a router`);
    }
  }

  // ---- limits --------------------------------------------------------------

  /** In-process sessions (the embedding application) are trusted: no per-session limits. */
  get isLocal(): boolean {
    return this.transport.info.kind === 'local';
  }

  /** Over the publish rate: an acknowledged PUBLISH gets ERROR, an unacknowledged one is dropped. */
  private admitPublish(request: number, ack: boolean): boolean {
    const limit = this.limits.publishRate!;
    const wait = takeToken(this.publishBucket!, limit, Date.now());
    if (wait === 0) return true;
    const counters = this.host.limitCounters;
    if (ack) {
      if (counters) counters.publishRateLimited++;
      this.sendRateLimited(MessageType.PUBLISH, request, wait, limit, 'publications');
    } else if (counters) {
      counters.publishDropped++;
    }
    this.noteRefusal('rate_limited', 'rate limited', { action: 'publish', retry_after_ms: wait });
    return false;
  }

  private admitCall(request: number): boolean {
    if (this.callBucket !== undefined && !this.admitRate(this.callBucket, this.limits.callRate!, MessageType.CALL, request, 'calls')) return false;
    const max = this.limits.maxPendingCalls;
    if (max !== null && this.realm!.dealer.pendingCalls(this) >= max) {
      if (this.host.limitCounters) this.host.limitCounters.pendingCallsRefused++;
      this.noteRefusal('too_many_pending_calls', 'too many calls in flight', { max_pending_calls: max });
      this.sendError(MessageType.CALL, request, WampErrors.tooManyPendingCalls, [`this session already has ${max} calls in flight (the limit); wait for results before calling again`], { max_pending_calls: max });
      return false;
    }
    return true;
  }

  /** A CALL, SUBSCRIBE/UNSUBSCRIBE or REGISTER/UNREGISTER against its bucket; over it: ERROR rate_limited. */
  private admitRate(bucket: BucketState, limit: RateLimit, requestType: number, request: number, what: string): boolean {
    const wait = takeToken(bucket, limit, Date.now());
    if (wait === 0) return true;
    const counters = this.host.limitCounters;
    const action = messageTypeName[requestType]!.toLowerCase();
    if (counters) {
      if (requestType === MessageType.CALL) counters.callRateLimited++;
      else if (requestType === MessageType.SUBSCRIBE || requestType === MessageType.UNSUBSCRIBE) counters.subscribeRateLimited++;
      else counters.registerRateLimited++;
    }
    this.sendRateLimited(requestType, request, wait, limit, what);
    this.noteRefusal('rate_limited', 'rate limited', { action, retry_after_ms: wait });
    return false;
  }

  /** While the heap is over its watermark: SUBSCRIBE, REGISTER and retained PUBLISH get ERROR clawgate.error.overloaded. */
  private admitWhileOverloaded(requestType: number, request: number, answer: boolean): boolean {
    if (this.isLocal) return true;
    if (this.host.limitCounters) this.host.limitCounters.overloadRefused++;
    this.noteRefusal('overloaded', 'refused while overloaded', { action: messageTypeName[requestType]!.toLowerCase() });
    if (answer) this.sendError(requestType, request, WampErrors.overloaded, ['the router is short of memory and takes on nothing new now; try again later']);
    return false;
  }

  /** ERROR clawgate.error.rate_limited; the delay is in Details and, for clients that drop Details (autobahn-js), in ArgumentsKw. */
  private sendRateLimited(requestType: number, request: number, retryAfterMs: number, rate: RateLimit, what: string): void {
    this.send({
      type: MessageType.ERROR, requestType, request, details: { retry_after_ms: retryAfterMs }, error: WampErrors.rateLimited,
      args: [`rate limit of ${rate.rate} ${what} per second (burst ${rate.burst}) exceeded; retry after ${retryAfterMs} ms`],
      kwargs: { retry_after_ms: retryAfterMs },
    });
  }

  /**
   * A request this session made was refused (not authorized, invalid URI, a
   * limit): counted, and logged at warn the first time this session gets a
   * refusal of this kind (and `variant`: the action for not_authorized), so
   * a client repeating it can't turn each attempt into a log line. Fields
   * name URIs by shortUri(), never whole.
   */
  refused(kind: RefusalKind, message: string, fields: Record<string, unknown>, variant?: string): void {
    const counters = this.host.limitCounters;
    if (counters) { const c = REFUSAL_COUNTERS[kind]; if (c !== undefined) counters[c]++; }
    this.noteRefusal(kind, message, fields, variant);
  }

  /** The log half of refused() (for refusals counted where they are decided). */
  noteRefusal(kind: RefusalKind, message: string, fields: Record<string, unknown>, variant?: string): void {
    const key = variant === undefined ? kind : `${kind} ${variant}`;
    const seen = (this.refusalsLogged ??= new Set());
    if (seen.has(key)) {
      if (this.host.limitCounters) this.host.limitCounters.logsSuppressed++;
      return;
    }
    seen.add(key);
    this.log.warn({
      session: this.id, authid: this.authid, authrole: this.authrole, peer: this.transport.info.peer, refusal: kind, ...fields,
      note: 'logged once per session and kind; later ones are counted in clawgate_limit_events_total',
    }, message);
  }

  /** The transport's unsent data passed its bound: the peer is not reading. Drop it. */
  sendBufferExceeded(buffered: number, limit: number): void {
    if (this.state === 'closed') return;
    if (this.host.limitCounters) this.host.limitCounters.slowConsumersDropped++;
    this.log.warn({ session: this.id || undefined, authid: this.authid, peer: this.transport.info.peer, buffered, limit, reason: WampErrors.slowConsumer }, 'slow consumer disconnected');
    // Nothing more can usefully be queued for a peer that does not read: the transport closes
    // with the reason where the protocol has a place for one (WebSocket close frame).
    this.stopAuthTimer();
    this.state = 'closed';
    this.silenced = true;
    this.leaveRealm();
    this.transport.close(1008, `${WampErrors.slowConsumer}: more than ${limit} bytes unsent`);
    this.host.sessionClosed(this);
  }

  private handleClosing(m: WampMessage): void {
    // We sent GOODBYE; the peer's GOODBYE (or ABORT) ends it. Anything else
    // still in flight from before our GOODBYE is dropped.
    if (m.type === MessageType.GOODBYE || m.type === MessageType.ABORT) this.closeTransport();
  }

  // ---- outbound ------------------------------------------------------------

  /** Set once GOODBYE or ABORT went out: nothing may follow them on the wire. */
  private silenced = false;

  send(message: RouterMessage): void {
    if (this.silenced) return;
    this.metrics?.messageOut(this, message);
    if (message.type === MessageType.GOODBYE || message.type === MessageType.ABORT) this.silenced = true;
    if (this.transport.deliverLocal) this.transport.deliverLocal(message);
    else this.transport.send(new Outgoing(message));
  }

  /** Sends a message shared with other sessions (its encodings are cached). */
  sendShared(out: Outgoing): void {
    if (this.silenced) return;
    this.metrics?.messageOut(this, out.message);
    if (this.transport.deliverLocal) this.transport.deliverLocal(out.message);
    else this.transport.send(out);
  }

  /** Answers a request with ERROR. */
  sendError(requestType: number, request: number, error: string, args?: unknown[], kwargs?: Dict): void {
    this.send({ type: MessageType.ERROR, requestType, request, details: {}, error, args, kwargs });
  }

  /** Answers a request with the WampError a handler threw. */
  replyError(requestType: number, request: number, e: WampError): void {
    this.sendError(requestType, request, e.uri, e.args, e.kwargs);
  }

  /** ABORT and close. Used for handshake failures and protocol violations. */
  abort(reason: string, message: string): void {
    if (this.state === 'closed') return;
    this.stopAuthTimer();
    // Protocol violations quote what the client sent (an option's value, say): never at length.
    message = shortText(message);
    this.log.info({ session: this.id || undefined, peer: this.transport.info.peer, reason, message }, 'session aborted');
    this.send({ type: MessageType.ABORT, details: { message }, reason });
    this.closeTransport();
  }

  protocolViolation(message: string): void {
    this.abort(WampErrors.protocolViolation, message);
  }

  /** Router-initiated close (shutdown, kill): GOODBYE, then wait for the peer's GOODBYE. */
  goodbye(reason: string, message?: string, graceMs = 2000): void {
    if (this.state !== 'established') {
      if (this.state === 'establishing' || this.state === 'authenticating') this.closeTransport();
      return;
    }
    this.send({ type: MessageType.GOODBYE, details: message ? { message } : {}, reason });
    this.state = 'closing';
    // The session is gone from the realm's point of view at once.
    this.leaveRealm();
    const timer = setTimeout(() => this.closeTransport(), graceMs);
    timer.unref();
  }

  private closeTransport(): void {
    if (this.state === 'closed') return;
    this.stopAuthTimer();
    this.state = 'closed';
    this.silenced = true;
    this.leaveRealm();
    this.transport.close(1000);
    this.host.sessionClosed(this);
  }

  private leaveRealm(): void {
    const realm = this.realm;
    if (realm === null) return;
    this.realm = null;
    realm.leave(this);
    this.log.info({ session: this.id, realm: realm.name, authid: this.authid, authrole: this.authrole }, 'session left');
  }

  /** Session details as the meta API reports them (`wamp.session.get`, `on_join`). */
  details(): Dict {
    const t = this.transport.info;
    return {
      session: this.id,
      authid: this.authid,
      authrole: this.authrole,
      authmethod: this.authmethod,
      authprovider: this.authprovider,
      authextra: this.authextra,
      transport: { type: t.kind, peer: t.peer, ...(t.proxy !== undefined ? { proxy: t.proxy } : {}), serializer: t.serializer, path: t.path ?? null },
    };
  }
}
