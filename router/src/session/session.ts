// One WAMP session: the state machine between a transport and a realm.
//
//   establishing --HELLO--> (authenticating) --> established --GOODBYE--> closed
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
import { isValidUri } from '../uri.js';
import type { Logger } from '../logger.js';
import type { AuthPolicy, Identity } from '../auth/auth-policy.js';
import { negotiateAuth } from '../auth/auth-policy.js';
import { clientFeatures, type ClientFeatures } from './client-features.js';

export type SessionState = 'establishing' | 'established' | 'closing' | 'closed';

/** What a session needs from the router that owns it. */
export interface SessionHost {
  findRealm(name: string): Realm | undefined;
  readonly log: Logger;
  /** Called once when the session is gone (for bookkeeping of live sessions). */
  sessionClosed(session: Session): void;
}

export class Session implements TransportSink {
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

  constructor(
    readonly transport: Transport,
    private readonly host: SessionHost,
    private readonly auth: AuthPolicy,
  ) {
    this.log = host.log;
  }

  // ---- inbound -------------------------------------------------------------

  receive(data: Uint8Array | string): void {
    if (this.state === 'closed') return;
    const serializer = this.transport.serializer;
    if (serializer === null) throw new Error('receive() on a local transport; use handle()');
    let raw: unknown;
    try {
      raw = serializer.decode(data);
    } catch (e) {
      this.protocolViolation(`cannot decode ${serializer.id} message: ${(e as Error).message}`);
      return;
    }
    let message: WampMessage;
    try {
      message = decodeMessage(raw);
    } catch (e) {
      if (e instanceof ProtocolViolation) { this.protocolViolation(e.message); return; }
      throw e;
    }
    this.handle(message);
  }

  /** Entry point for a decoded, validated message. */
  handle(message: WampMessage): void {
    try {
      switch (this.state) {
        case 'establishing': this.handleEstablishing(message); break;
        case 'established': this.handleEstablished(message); break;
        case 'closing': this.handleClosing(message); break;
        case 'closed': break;
      }
    } catch (e) {
      if (e instanceof ProtocolViolation) { this.protocolViolation(e.message); return; }
      // A bug must not take the router down, nor leave the peer hanging.
      this.log.error({ err: e, session: this.id }, 'internal error while handling a message');
      this.abort(WampErrors.protocolViolation, `internal error handling ${messageTypeName[message.type]}`);
    }
  }

  transportClosed(): void {
    if (this.state === 'closed') return;
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
    if (!isValidUri(hello.realm, 'loose')) {
      this.abort(WampErrors.invalidUri, `invalid realm URI "${hello.realm}"`);
      return;
    }
    const roles = hello.details.roles;
    if (roles === undefined || typeof roles !== 'object' || roles === null || Array.isArray(roles) || Object.keys(roles).length === 0) {
      throw new ProtocolViolation('HELLO.Details.roles must be a dict announcing at least one client role');
    }
    const realm = this.host.findRealm(hello.realm);
    if (realm === undefined) {
      this.abort(WampErrors.noSuchRealm, `no realm "${hello.realm}" exists on this router`);
      return;
    }
    this.helloDetails = hello.details;
    this.features = clientFeatures(roles as Dict);
    const outcome = negotiateAuth(this.auth, hello, realm);
    if ('error' in outcome) {
      this.abort(outcome.error, outcome.message);
      return;
    }
    this.establish(realm, outcome.identity);
  }

  private establish(realm: Realm, identity: Identity): void {
    if (!realm.hasRole(this, identity.authrole)) {
      this.abort(WampErrors.noSuchRole, `role "${identity.authrole}" does not exist on realm "${realm.name}"`);
      return;
    }
    this.id = randomId();
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
    realm.join(this);
  }

  private handleEstablished(m: WampMessage): void {
    const realm = this.realm!;
    switch (m.type) {
      case MessageType.PUBLISH: realm.broker.publish(this, m); return;
      case MessageType.SUBSCRIBE: realm.broker.subscribe(this, m); return;
      case MessageType.UNSUBSCRIBE: realm.broker.unsubscribe(this, m); return;
      case MessageType.CALL: realm.dealer.call(this, m); return;
      case MessageType.CANCEL: realm.dealer.cancel(this, m); return;
      case MessageType.REGISTER: realm.dealer.register(this, m); return;
      case MessageType.UNREGISTER: realm.dealer.unregister(this, m); return;
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
      default:
        throw new ProtocolViolation(`${messageTypeName[m.type]} is not a message a client may send to a router`);
    }
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
    if (message.type === MessageType.GOODBYE || message.type === MessageType.ABORT) this.silenced = true;
    if (this.transport.deliverLocal) this.transport.deliverLocal(message);
    else this.transport.send(new Outgoing(message));
  }

  /** Sends a message shared with other sessions (its encodings are cached). */
  sendShared(out: Outgoing): void {
    if (this.silenced) return;
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
      if (this.state === 'establishing') this.closeTransport();
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
      transport: { type: t.kind, peer: t.peer, serializer: t.serializer, path: t.path ?? null },
    };
  }
}
