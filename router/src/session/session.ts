// One WAMP session: the state machine between a transport and a realm.
//
//   establishing --HELLO--> authenticating --CHALLENGE/AUTHENTICATE--> established --GOODBYE--> closed
//
// `authenticating` covers a dynamic authenticator being asked and a CHALLENGE
// waiting for its AUTHENTICATE; it is bounded by the transport's auth timeout.
// Anonymous HELLOs pass through it in the same turn. The opening itself
// (HELLO to WELCOME) is handshake.ts; the per-session limits applied to an
// established session's requests are limits-gate.ts.
//
// Inbound bytes are decoded and validated once here; anything malformed or
// out of order ends the session with ABORT wamp.error.protocol_violation and
// a readable reason. Established sessions hand their messages to the realm's
// broker and dealer, as the Peer they know (routing/peer.ts).
import {
  MessageType, ProtocolViolation, messageTypeName,
  type Dict, type RouterMessage, type WampMessage,
} from '../messages/types.js';
import { decodeMessage } from '../messages/decode.js';
import { clientFeatures, type ClientFeatures } from '../messages/client-features.js';
import { Outgoing } from '../transport/outgoing.js';
import type { Transport, TransportSink } from '../transport/transport.js';
import type { Member, Realm } from '../realm/realm.js';
import { IdSequence } from '../ids.js';
import { MAX_ID } from '../messages/validate.js';
import { WampErrors } from '../errors.js';
import { shortText } from '../uri.js';
import type { AuthPolicy, Identity } from '../auth/auth-policy.js';
import type { Logger } from '../logger.js';
import { NO_SESSION_LIMITS, type EndpointLimits, type SessionLimits } from '../limits/limits-config.js';
import { REFUSAL_COUNTERS, type RefusalKind } from '../limits/refusals.js';
import { DEFAULT_DECODE_LIMITS, DecodeLimitExceeded, type DecodeLimits } from '../serializers/serializer.js';
import type { MeteredSession, RouterMetrics } from '../metrics/router-metrics.js';
import { Handshake, type HandshakeHost, type Opening } from './handshake.js';
import { LimitsGate, type GatedSession } from './limits-gate.js';

export type SessionState = 'establishing' | 'authenticating' | 'established' | 'closing' | 'closed';

/** Messages held back while an authorizer decides; beyond this the peer is flooding. */
const MAX_BACKLOG = 10_000;
/** Bytes of the messages held back while an authorizer decides (each is at most max_message_size). */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

/** What a session needs from the router that owns it. */
export interface SessionHost extends HandshakeHost {
  /** Called once when the session is gone (for bookkeeping of live sessions). */
  sessionClosed(session: Session): void;
}

export class Session implements TransportSink, MeteredSession, Member, Opening, GatedSession {
  /** Global-scope id, assigned at HELLO (a WAMP-CRA challenge carries it). 0 until then. */
  id = 0;
  state: SessionState = 'establishing';
  realm: Realm | null = null;
  authid = '';
  authrole = '';
  authmethod = '';
  authprovider = '';
  authextra: Dict = {};
  features: ClientFeatures = clientFeatures({});
  /** In-process (the embedding application's LocalSession): trusted, not limited. */
  readonly isLocal: boolean;
  /** Session-scope ids for the requests the router sends (INVOCATION). */
  private readonly requestIds = new IdSequence();
  /** The client's last request id (PUBLISH, SUBSCRIBE, CALL, ...): the next must be one more (spec, "IDs"). */
  private lastRequest = 0;
  /** Set at WELCOME: remote sessions on realms without legacy_request_ids. */
  private sequentialRequests = false;
  private readonly log: Logger;
  /** Until WELCOME: the opening's clocks and checks. */
  private handshake: Handshake | null;
  /** From WELCOME, remote sessions only: the rate, in-flight and overload checks. */
  private gate: LimitsGate | null = null;
  /** Set while a dynamic authorizer decides; later messages wait in `backlog`. */
  private held = false;
  private backlog: WampMessage[] = [];
  private backlogBytes = 0;
  /** Limits on this session's traffic, set at WELCOME (none for in-process sessions). */
  limits: SessionLimits = NO_SESSION_LIMITS;
  /** Refusal kinds (and variants) this session has been logged for: each is logged once, then only counted. */
  private refusalsLogged: Set<string> | undefined;
  private readonly decodeLimits: DecodeLimits;
  /** Bytes of the message being handled (what a backlogged PUBLISH measured is kept on the PUBLISH itself). */
  private inboundSize = 0;
  /** This session's CALLs in flight, for the call latency metric (RouterMetrics). */
  callStarts: Map<number, number> | undefined = undefined;
  /** Counts messages in and out; in-process sessions count theirs in LocalSession. */
  readonly metrics: RouterMetrics | undefined;

  constructor(
    readonly transport: Transport,
    private readonly host: SessionHost,
    auth: AuthPolicy,
    endpoint?: EndpointLimits,
  ) {
    this.log = host.log;
    this.metrics = host.metrics;
    this.isLocal = transport.info.kind === 'local';
    this.decodeLimits = endpoint?.decode ?? DEFAULT_DECODE_LIMITS;
    this.handshake = new Handshake(this, host, auth, endpoint);
  }

  /** The key per-address limits count this session's client under (Member). */
  get address(): string | undefined {
    return this.transport.info.address;
  }

  nextRequestId(): number {
    return this.requestIds.next();
  }

  requestIdIssued(id: number): boolean {
    return this.requestIds.issued(id);
  }

  // ---- inbound -------------------------------------------------------------

  receive(data: Uint8Array | string, byteLength?: number): void {
    if (this.state === 'closed') return;
    const serializer = this.transport.serializer;
    if (serializer === null) throw new Error('receive() on a local transport; use handle()');
    const size = byteLength ?? (typeof data === 'string' ? data.length : data.byteLength);
    // Before WELCOME nobody is known: only a handshake's worth of bytes is decoded.
    const handshake = this.handshake;
    if (handshake !== null && size > handshake.maxMessageSize) {
      if (this.host.limitCounters) this.host.limitCounters.handshakeTooLarge++;
      this.protocolViolation(`message of ${size} bytes before the session is established; the limit is ${handshake.maxMessageSize} bytes (max_handshake_size)`);
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
  guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof ProtocolViolation) { this.protocolViolation(e.message); return; }
      // A bug must not take the router down, nor leave the peer hanging.
      this.log.error({ err: e, session: this.id }, 'internal error while handling a message');
      this.abort(WampErrors.protocolViolation, `internal error handling ${what}`);
    }
  }

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
    this.ended();
    this.host.sessionClosed(this);
  }

  private handleEstablishing(m: WampMessage): void {
    if (m.type === MessageType.HELLO) { this.handshake!.hello(m); return; }
    if (m.type === MessageType.ABORT) { this.closeTransport(); return; }
    throw new ProtocolViolation(`${messageTypeName[m.type]} received before the session was established (expected HELLO)`);
  }

  private handleAuthenticating(m: WampMessage): void {
    if (m.type === MessageType.ABORT) { this.closeTransport(); return; }
    if (m.type !== MessageType.AUTHENTICATE) {
      throw new ProtocolViolation(`${messageTypeName[m.type]} received while authenticating (expected ${this.handshake!.expecting})`);
    }
    this.handshake!.authenticate(m);
  }

  /** HELLO was accepted (Opening). */
  opened(id: number, features: ClientFeatures): void {
    this.id = id;
    this.features = features;
    this.state = 'authenticating';
  }

  /** Authenticated and admitted (Opening): WELCOME, and the session joins the realm. */
  welcome(realm: Realm, identity: Identity): void {
    this.handshake = null;
    this.limits = realm.sessionLimits(this, identity.authrole);
    if (!this.isLocal) this.gate = new LimitsGate(this.limits, this, this.host);
    this.authid = identity.authid;
    this.authrole = identity.authrole;
    this.authmethod = identity.authmethod;
    this.authprovider = identity.authprovider;
    this.authextra = identity.authextra ?? {};
    this.realm = realm;
    this.state = 'established';
    // In-process sessions number their requests themselves (LocalSession): trusted code, not a wire peer.
    this.sequentialRequests = !this.isLocal && !realm.legacyRequestIds;
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

  /**
   * A new request's id must be the one after the last (1, 2, 3, ..., wrapping
   * to 1 after 2^53): the spec's session scope. A client that skips or
   * repeats one breaks the protocol; realms for clients that number
   * otherwise set legacy_request_ids.
   */
  private nextRequest(m: { type: number; request: number }): void {
    if (!this.sequentialRequests) return;
    const expected = this.lastRequest >= MAX_ID ? 1 : this.lastRequest + 1;
    if (m.request !== expected) {
      throw new ProtocolViolation(`${messageTypeName[m.type]} request id ${m.request} is out of sequence: expected ${expected} (request ids start at 1 and go up by 1)`);
    }
    this.lastRequest = expected;
  }

  private handleEstablished(m: WampMessage): void {
    const realm = this.realm!;
    const gate = this.gate;
    switch (m.type) {
      case MessageType.PUBLISH:
        this.nextRequest(m);
        if (gate !== null && !gate.publish(m)) return;
        realm.broker.publish(this, m);
        return;
      case MessageType.SUBSCRIBE:
        this.nextRequest(m);
        if (gate !== null && !gate.subscribe(m.request)) return;
        realm.broker.subscribe(this, m);
        return;
      case MessageType.UNSUBSCRIBE:
        this.nextRequest(m);
        if (gate !== null && !gate.unsubscribe(m.request)) return;
        realm.broker.unsubscribe(this, m);
        return;
      case MessageType.CALL: {
        // A later chunk of a progressive call repeats the first one's id.
        const continuing = realm.dealer.continuesCall(this, m.request);
        if (!continuing) this.nextRequest(m);
        if (gate !== null && !gate.call(m.request, realm.dealer, continuing)) {
          if (continuing) realm.dealer.abandonCall(this, m.request);
          else if (m.options.progress === true) realm.dealer.progressiveEnded(this, m.request);
          return;
        }
        realm.dealer.call(this, m);
        return;
      }
      case MessageType.CANCEL: realm.dealer.cancel(this, m); return;
      case MessageType.REGISTER:
        this.nextRequest(m);
        if (gate !== null && !gate.register(m.request)) return;
        realm.dealer.register(this, m);
        return;
      case MessageType.UNREGISTER:
        this.nextRequest(m);
        if (gate !== null && !gate.unregister(m.request)) return;
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

  private handleClosing(m: WampMessage): void {
    // We sent GOODBYE; the peer's GOODBYE (or ABORT) ends it. Anything else
    // still in flight from before our GOODBYE is dropped.
    if (m.type === MessageType.GOODBYE || m.type === MessageType.ABORT) this.closeTransport();
  }

  // ---- refusals ------------------------------------------------------------

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
    this.ended();
    this.transport.close(1008, `${WampErrors.slowConsumer}: more than ${limit} bytes unsent`);
    this.host.sessionClosed(this);
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

  sendShared(out: Outgoing): void {
    if (this.silenced) return;
    this.metrics?.messageOut(this, out.message);
    if (this.transport.deliverLocal) this.transport.deliverLocal(out.message);
    else this.transport.send(out);
  }

  sendError(requestType: number, request: number, error: string, args?: unknown[], kwargs?: Dict): void {
    this.send({ type: MessageType.ERROR, requestType, request, details: {}, error, args, kwargs });
  }

  /** ABORT and close. Used for handshake failures and protocol violations. */
  abort(reason: string, message: string): void {
    if (this.state === 'closed') return;
    this.handshake?.stop();
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
    this.ended();
    this.transport.close(1000);
    this.host.sessionClosed(this);
  }

  /** The session is over: no more clocks, nothing more on the wire, out of its realm. */
  private ended(): void {
    this.handshake?.stop();
    this.state = 'closed';
    this.silenced = true;
    this.leaveRealm();
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
