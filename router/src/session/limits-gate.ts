// A session's own traffic against its limits, before the broker or dealer
// sees a message: the rate buckets (PUBLISH; CALL; SUBSCRIBE/UNSUBSCRIBE;
// REGISTER/UNREGISTER), the calls it may have in flight, and the heap
// watermark (no new subscriptions, registrations or retained events while
// the router is short of memory). Made at WELCOME for remote sessions only:
// in-process sessions are not limited. The decisions are limits/' pure
// functions; this is where their answers become ERRORs, counts and logs.
import { MessageType, messageTypeName, type Dict, type Publish, type RouterMessage } from '../messages/types.js';
import { WampErrors } from '../errors.js';
import type { SessionLimits } from '../limits/limits-config.js';
import { newBucket, takeToken, type BucketState, type RateLimit } from '../limits/token-bucket.js';
import type { LimitCounters } from '../limits/limit-counters.js';
import type { RefusalKind } from '../limits/refusals.js';
import type { Peer } from '../routing/peer.js';

/** What the gate needs of its session. */
export interface GatedSession extends Peer {
  noteRefusal(kind: RefusalKind, message: string, fields: Record<string, unknown>, variant?: string): void;
}

/** What the gate reads from the router on each message. */
export interface GateHost {
  readonly limitCounters?: LimitCounters;
  readonly overloaded?: boolean;
}

/** How many calls a session has in flight (the dealer's count). */
export interface CallsInFlight {
  pendingCalls(caller: Peer): number;
}

export class LimitsGate {
  private readonly publishBucket: BucketState | undefined;
  private readonly callBucket: BucketState | undefined;
  private readonly subscribeBucket: BucketState | undefined;
  private readonly registerBucket: BucketState | undefined;

  constructor(private readonly limits: SessionLimits, private readonly session: GatedSession, private readonly host: GateHost, now = Date.now()) {
    if (limits.publishRate !== null) this.publishBucket = newBucket(limits.publishRate, now);
    if (limits.callRate !== null) this.callBucket = newBucket(limits.callRate, now);
    if (limits.subscribeRate !== null) this.subscribeBucket = newBucket(limits.subscribeRate, now);
    if (limits.registerRate !== null) this.registerBucket = newBucket(limits.registerRate, now);
  }

  /** Over the publish rate: an acknowledged PUBLISH gets ERROR, an unacknowledged one is dropped. A retained one waits for the heap. */
  publish(m: Publish): boolean {
    const ack = m.options.acknowledge === true;
    if (this.publishBucket !== undefined && !this.admitPublish(this.publishBucket, m.request, ack)) return false;
    if (m.options.retain === true && this.host.overloaded === true) return this.refuseWhileOverloaded(MessageType.PUBLISH, m.request, ack);
    return true;
  }

  subscribe(request: number): boolean {
    return this.hold(this.subscribeBucket, this.limits.subscribeRate, MessageType.SUBSCRIBE, request, 'subscriptions');
  }

  unsubscribe(request: number): boolean {
    return this.release(this.subscribeBucket, this.limits.subscribeRate, MessageType.UNSUBSCRIBE, request, 'subscriptions');
  }

  register(request: number): boolean {
    return this.hold(this.registerBucket, this.limits.registerRate, MessageType.REGISTER, request, 'registrations');
  }

  unregister(request: number): boolean {
    return this.release(this.registerBucket, this.limits.registerRate, MessageType.UNREGISTER, request, 'registrations');
  }

  /** SUBSCRIBE, REGISTER: the rate, then the heap (something new would be held). */
  private hold(bucket: BucketState | undefined, limit: RateLimit | null, requestType: number, request: number, what: string): boolean {
    if (bucket !== undefined && !this.admitRate(bucket, limit!, requestType, request, what)) return false;
    if (this.host.overloaded === true) return this.refuseWhileOverloaded(requestType, request, true);
    return true;
  }

  /** UNSUBSCRIBE, UNREGISTER share their counterpart's bucket (a flood of either is work). */
  private release(bucket: BucketState | undefined, limit: RateLimit | null, requestType: number, request: number, what: string): boolean {
    return bucket === undefined || this.admitRate(bucket, limit!, requestType, request, what);
  }

  /** `continuing`: a later chunk of a progressive call, already counted in flight (its rate still counts). */
  call(request: number, calls: CallsInFlight, continuing = false): boolean {
    if (this.callBucket !== undefined && !this.admitRate(this.callBucket, this.limits.callRate!, MessageType.CALL, request, 'calls')) return false;
    const max = this.limits.maxPendingCalls;
    if (!continuing && max !== null && calls.pendingCalls(this.session) >= max) {
      if (this.host.limitCounters) this.host.limitCounters.pendingCallsRefused++;
      this.session.noteRefusal('too_many_pending_calls', 'too many calls in flight', { max_pending_calls: max });
      this.session.sendError(MessageType.CALL, request, WampErrors.tooManyPendingCalls, [`this session already has ${max} calls in flight (the limit); wait for results before calling again`], { max_pending_calls: max });
      return false;
    }
    return true;
  }

  private admitPublish(bucket: BucketState, request: number, ack: boolean): boolean {
    const limit = this.limits.publishRate!;
    const wait = takeToken(bucket, limit, Date.now());
    if (wait === 0) return true;
    const counters = this.host.limitCounters;
    if (ack) {
      if (counters) counters.publishRateLimited++;
      this.session.send(rateLimited(MessageType.PUBLISH, request, wait, limit, 'publications'));
    } else if (counters) {
      counters.publishDropped++;
    }
    this.session.noteRefusal('rate_limited', 'rate limited', { action: 'publish', retry_after_ms: wait });
    return false;
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
    this.session.send(rateLimited(requestType, request, wait, limit, what));
    this.session.noteRefusal('rate_limited', 'rate limited', { action, retry_after_ms: wait });
    return false;
  }

  /** While the heap is over its watermark: SUBSCRIBE, REGISTER and retained PUBLISH get ERROR clawgate.error.overloaded. */
  private refuseWhileOverloaded(requestType: number, request: number, answer: boolean): false {
    if (this.host.limitCounters) this.host.limitCounters.overloadRefused++;
    this.session.noteRefusal('overloaded', 'refused while overloaded', { action: messageTypeName[requestType]!.toLowerCase() });
    if (answer) this.session.sendError(requestType, request, WampErrors.overloaded, ['the router is short of memory and takes on nothing new now; try again later']);
    return false;
  }
}

/** ERROR clawgate.error.rate_limited; the delay is in Details and, for clients that drop Details (autobahn-js), in ArgumentsKw. */
function rateLimited(requestType: number, request: number, retryAfterMs: number, rate: RateLimit, what: string): RouterMessage {
  const details: Dict = { retry_after_ms: retryAfterMs };
  return {
    type: MessageType.ERROR, requestType, request, details, error: WampErrors.rateLimited,
    args: [`rate limit of ${rate.rate} ${what} per second (burst ${rate.burst}) exceeded; retry after ${retryAfterMs} ms`],
    kwargs: { retry_after_ms: retryAfterMs },
  };
}
