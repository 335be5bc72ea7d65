// A Peer with no session and no socket behind it (routing/peer.ts), for
// the broker and dealer tests that run a real Realm on its own: it keeps
// what the router sends it, in order, as typed messages. Nexus's router
// tests do the same with their testPeer. Everything the routing code asks
// of a peer is here; nothing of a Session is.
import type { Dict, RouterMessage, WampMessage } from '../src/messages/types.js';
import { MessageType } from '../src/messages/types.js';
import { decodeMessage } from '../src/messages/decode.js';
import { clientFeatures, type ClientFeatures } from '../src/messages/client-features.js';
import type { Outgoing } from '../src/transport/outgoing.js';
import { NO_SESSION_LIMITS, type SessionLimits } from '../src/limits/limits-config.js';
import type { RefusalKind } from '../src/limits/refusals.js';
import { IdSequence, randomId } from '../src/ids.js';
import { Realm, type Member, type RealmConfig } from '../src/realm/realm.js';
import type { Permission } from '../src/auth/permissions.js';
import { silentLogger } from '../src/logger.js';

/** Every feature the router acts on, announced. */
export const ALL_FEATURES = {
  caller: { features: { call_canceling: true, progressive_call_results: true } },
  callee: { features: { call_canceling: true, progressive_call_results: true, registration_revocation: true } },
  publisher: {},
  subscriber: { features: { subscription_revocation: true } },
};

export interface FakePeerOptions {
  authid?: string;
  authrole?: string;
  /** HELLO.Details.roles (default ALL_FEATURES). */
  roles?: Dict;
  isLocal?: boolean;
  limits?: Partial<SessionLimits>;
  address?: string;
}

export class FakePeer implements Member {
  readonly id = randomId();
  readonly authid: string;
  readonly authrole: string;
  readonly features: ClientFeatures;
  readonly isLocal: boolean;
  readonly limits: SessionLimits;
  readonly address: string | undefined;
  /** Everything sent to this peer, oldest first (shared messages too). */
  readonly received: RouterMessage[] = [];
  readonly refusals: { kind: RefusalKind; fields: Record<string, unknown> }[] = [];
  violation: string | undefined;
  goodbyeReason: string | undefined;
  private readonly requests = new IdSequence();

  constructor(o: FakePeerOptions = {}) {
    this.authid = o.authid ?? `peer-${this.id}`;
    this.authrole = o.authrole ?? 'anonymous';
    this.features = clientFeatures(o.roles ?? ALL_FEATURES);
    this.isLocal = o.isLocal ?? false;
    this.limits = { ...NO_SESSION_LIMITS, ...o.limits };
    this.address = o.address;
  }

  details(): Dict {
    return { session: this.id, authid: this.authid, authrole: this.authrole, authmethod: 'anonymous', authprovider: 'static', authextra: {}, transport: { type: 'fake' } };
  }

  nextRequestId(): number { return this.requests.next(); }
  requestIdIssued(id: number): boolean { return this.requests.issued(id); }
  send(message: RouterMessage): void { this.received.push(message); }
  sendShared(out: Outgoing): void { this.received.push(out.message); }
  sendError(requestType: number, request: number, error: string, args?: unknown[], kwargs?: Dict): void {
    this.send({ type: MessageType.ERROR, requestType, request, details: {}, error, args, kwargs });
  }
  holdUntil<T>(pending: Promise<T>, then: (value: T) => void): void { void pending.then(then); }
  refused(kind: RefusalKind, _message: string, fields: Record<string, unknown>): void { this.refusals.push({ kind, fields }); }
  protocolViolation(message: string): void { this.violation = message; }
  goodbye(reason: string): void { this.goodbyeReason = reason; }

  /** Removes and returns the messages of `type` received so far. */
  take<T extends RouterMessage['type']>(type: T): Extract<RouterMessage, { type: T }>[] {
    const out: Extract<RouterMessage, { type: T }>[] = [];
    for (let i = 0; i < this.received.length;) {
      const m = this.received[i]!;
      if (m.type === type) { out.push(m as Extract<RouterMessage, { type: T }>); this.received.splice(i, 1); } else i++;
    }
    return out;
  }

  /** The one message of `type` received so far (removed); fails if there is not exactly one. */
  one<T extends RouterMessage['type']>(type: T): Extract<RouterMessage, { type: T }> {
    const got = this.take(type);
    if (got.length !== 1) throw new Error(`expected one message of type ${type}, got ${got.length}: ${JSON.stringify(this.received)}`);
    return got[0]!;
  }
}

/** A client message as the session would hand it on: decoded and validated from its wire form. */
export function wamp<T extends WampMessage = WampMessage>(wire: unknown[]): T {
  return decodeMessage(wire, JSON.stringify(wire).length) as T;
}

export const ALLOW_ALL: Permission = {
  uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false },
};

/** A realm of its own (no router, no listener): `anonymous` may do everything and discloses nothing, plus `roles`. */
export function testRealm(config: Partial<RealmConfig> = {}): Realm {
  const { roles = [], ...rest } = config;
  return new Realm({ name: 'realm1', ...rest, roles: [{ name: 'anonymous', permissions: [ALLOW_ALL] }, ...roles] }, silentLogger());
}

/** A peer joined to `realm`. */
export function joined(realm: Realm, o: FakePeerOptions = {}): FakePeer {
  const p = new FakePeer(o);
  realm.join(p);
  return p;
}
