// What routing needs of a session. Broker, dealer, meta API, testaments and
// roles depend on these interfaces, never on the Session class: a session
// on this node implements them (session/session.ts), a test's fake peer
// does (router/test/fake-peer.ts), and so can a session on another
// router node later. Nothing here is about sockets, bytes or serializers.
import type { Dict, RouterMessage } from '../messages/types.js';
import type { ClientFeatures } from '../messages/client-features.js';
import type { Outgoing } from '../transport/outgoing.js';
import type { SessionLimits } from '../limits/limits-config.js';
import type { RefusalKind } from '../limits/refusals.js';

/** What a role needs to know about the session acting (permissions, URI templates, authorizers). */
export interface Actor {
  readonly id: number;
  readonly authid: string;
  readonly authrole: string;
  /** Session details as the meta API and dynamic authorizers see them (`wamp.session.get`). */
  details(): Dict;
}

/** The per-session bounds the broker, dealer and meta API enforce themselves (the rest apply before them). */
export type PeerLimits = Pick<SessionLimits, 'maxSubscriptions' | 'maxRegistrations' | 'maxTestaments'>;

/** A session as routing sees it: who it is, what it announced, and how to answer it. */
export interface Peer extends Actor {
  /** What it announced in HELLO (whether a callee understands INTERRUPT, and so on). */
  readonly features: ClientFeatures;
  /** An in-process session of the embedding application: trusted, under no per-session or realm-wide holding bounds. */
  readonly isLocal: boolean;
  readonly limits: PeerLimits;
  /** The next id of a request the router sends it (INVOCATION), in its session scope. */
  nextRequestId(): number;
  /** Has the router ever sent it a request with this id? A YIELD or ERROR for one it never sent is a protocol violation. */
  requestIdIssued(id: number): boolean;
  send(message: RouterMessage): void;
  /** Sends a message shared with other peers (one encoding per serializer for all of them). */
  sendShared(out: Outgoing): void;
  /** Answers a request with ERROR. */
  sendError(requestType: number, request: number, error: string, args?: unknown[], kwargs?: Dict): void;
  /**
   * Runs `then` with the value once `pending` settles (a dynamic authorizer's
   * decision), holding back the peer's later messages until then so that
   * they are handled in the order they came.
   */
  holdUntil<T>(pending: Promise<T>, then: (value: T) => void): void;
  /** A request it made was refused: counted, and logged once per session and kind (limits/refusals.ts). */
  refused(kind: RefusalKind, message: string, fields: Record<string, unknown>, variant?: string): void;
  /** It broke the protocol: ABORT wamp.error.protocol_violation, and its session ends. */
  protocolViolation(message: string): void;
  /** The router ends its session (wamp.session.kill*): GOODBYE with `reason`. */
  goodbye(reason: string, message?: string): void;
}
