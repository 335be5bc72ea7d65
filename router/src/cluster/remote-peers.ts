// Sessions of other router nodes as the dealer sees them (routing/peer.ts's
// Peer): a callee there is an observer of its registrations here, and the
// callers of another node are one peer on the callee's node. What the dealer
// sends them goes over NATS (cluster/call-link.ts); everything else a Peer
// does (limits, refusals, goodbye) belongs to the node the session is on.
import type { Dict, RouterMessage } from '../messages/types.js';
import type { ClientFeatures } from '../messages/client-features.js';
import type { Outgoing } from '../transport/outgoing.js';
import type { Peer, PeerLimits } from '../routing/peer.js';
import { MessageType } from '../messages/types.js';
import { IdSequence } from '../ids.js';

const NO_LIMITS: PeerLimits = { maxSubscriptions: null, maxRegistrations: null, maxTestaments: null };

/** Where a remote peer's messages go. */
export interface RemoteSink {
  toCallee(callee: RemoteCallee, message: RouterMessage): void;
  toCallers(node: string, message: RouterMessage): void;
  readonly log: { warn(fields: object, message: string): void };
}

abstract class RemotePeer implements Peer {
  readonly isLocal = false;
  readonly limits = NO_LIMITS;
  abstract readonly id: number;
  abstract readonly authid: string;
  abstract readonly authrole: string;
  abstract readonly features: ClientFeatures;
  abstract details(): Dict;
  abstract nextRequestId(): number;
  abstract requestIdIssued(id: number): boolean;
  abstract send(message: RouterMessage): void;
  sendShared(_out: Outgoing): void { /* events never go to a remote peer: its node delivers them */ }
  sendError(requestType: number, request: number, error: string, args?: unknown[], kwargs?: Dict): void {
    this.send({ type: MessageType.ERROR, requestType, request, details: {}, error, args, kwargs });
  }
  holdUntil<T>(pending: Promise<T>, then: (value: T) => void): void { void pending.then(then); }
  refused(): void { /* counted on the node the session is on */ }
  protocolViolation(message: string): void { this.log.warn({ message }, 'cluster: a message from another node was refused'); }
  goodbye(): void { /* wamp.session.kill is per node for now */ }
  protected abstract readonly log: RemoteSink['log'];
}

/** A callee on another node. Invocation ids to one node come from one sequence, so its answers name them unambiguously. */
export class RemoteCallee extends RemotePeer {
  readonly features: ClientFeatures;
  constructor(
    private readonly sink: RemoteSink,
    readonly node: string,
    readonly id: number,
    readonly authid: string,
    readonly authrole: string,
    features: ClientFeatures,
    private readonly requests: IdSequence,
  ) {
    super();
    // Every call that ends early here must end on the callee's node too (or it holds it for ever): so
    // INTERRUPTs always go there, and the callee's node passes them on only to a callee that takes them.
    this.features = {
      ...features,
      calleeCallCanceling: true,
      calleeProgressiveInvocations: features.calleeProgressiveInvocations && features.calleeCallCanceling,
    };
  }
  protected get log(): RemoteSink['log'] { return this.sink.log; }
  details(): Dict { return { session: this.id, authid: this.authid, authrole: this.authrole, x_node: this.node }; }
  nextRequestId(): number { return this.requests.next(); }
  requestIdIssued(id: number): boolean { return this.requests.issued(id); }
  send(message: RouterMessage): void { this.sink.toCallee(this, message); }
}

/** Another node's callers, on the node of the callees they call. Its request ids are that node's invocation ids. */
export class RemoteCallers extends RemotePeer {
  readonly id = 0;
  readonly authid = '';
  readonly authrole = '';
  readonly features: ClientFeatures;
  constructor(private readonly sink: RemoteSink, readonly node: string) {
    super();
    this.features = {
      callee: false, caller: true, publisher: false, subscriber: false, calleeCallCanceling: false, calleeProgressiveResults: false,
      calleeRegistrationRevocation: false, subscriberSubscriptionRevocation: false, callerProgressiveResults: true,
      callerProgressiveInvocations: true, calleeProgressiveInvocations: false,
    } as ClientFeatures;
  }
  protected get log(): RemoteSink['log'] { return this.sink.log; }
  details(): Dict { return { x_node: this.node }; }
  nextRequestId(): number { return 0; }
  requestIdIssued(): boolean { return true; }
  send(message: RouterMessage): void { this.sink.toCallers(this.node, message); }
}
