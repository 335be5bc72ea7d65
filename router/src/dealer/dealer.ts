// The dealer: registrations, calls, invocations, results, errors, timeouts,
// cancellation and progressive results. Calls are forwarded as they arrive;
// a callee may have any number of invocations in flight at once.
//
// The registrations themselves (index, ids, who holds what, meta events)
// are an ObservationMap (routing/observation-map.ts), shared in form with
// the broker's subscriptions; what is here is the dealer's own rules.
import {
  MessageType, type Call, type Cancel, type Dict, type ErrorMessage, type Register,
  type Unregister, type Yield,
} from '../messages/types.js';
import type { CancelMode, InvokePolicy, MatchPolicy } from '../messages/options.js';
import type { Peer } from '../routing/peer.js';
import type { RealmContext } from '../routing/realm-context.js';
import { disclose } from '../routing/disclosure.js';
import { ObservationMap, OrderedObservers, type ObservationKind, type ObservationOwner, type Observation } from '../routing/observation-map.js';
import { WampError, WampErrors } from '../errors.js';
import { sharedId } from '../ids.js';
import { isRouterProcedure, shortUri } from '../uri.js';
import { pickCallee, pickOther } from './invoke-policy.js';
import { copyPassthrough } from '../messages/validate.js';
import type { Decision } from '../auth/permissions.js';
import type { DealerClusterLink } from './cluster-link.js';

/** The longest delay setTimeout honours; longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * Progressive calls that ended (answered, canceled, timed out) while their
 * caller was still sending chunks, remembered per caller so the chunks
 * already on their way are dropped rather than read as new calls.
 */
const ENDED_PROGRESSIVE_REMEMBERED = 64;

export class Registration implements Observation {
  readonly observers = new OrderedObservers();
  /** Where the `roundrobin` policy goes next. */
  roundRobin = 0;
  /** On a cluster node: each callee's cluster-wide registration time, which orders `callees` (first/last/roundrobin). */
  since: Map<Peer, number> | undefined;

  constructor(
    readonly id: number,
    readonly uri: string,
    readonly match: MatchPolicy,
    readonly invoke: InvokePolicy,
    readonly created: string,
  ) {}

  /** The callees in registration order (the `first`/`last`/`roundrobin` policies depend on it). */
  get callees(): readonly Peer[] {
    return this.observers.list;
  }
}

export const REGISTRATIONS: ObservationKind<Registration> = {
  noun: 'registration', observer: 'callee', uriName: 'procedure', verb: 'register', matching: 'best',
  describe: (reg) => ({ id: reg.id, created: reg.created, uri: reg.uri, match: reg.match, invoke: reg.invoke }),
};

/** A call the router itself makes (dynamic authenticators and authorizers). */
interface InternalCaller {
  /** Tells it from a Peer without a prototype walk (`in`) on every finished call. */
  readonly internal: true;
  resolve(r: { args: unknown[]; kwargs: Dict }): void;
  reject(e: WampError): void;
}

interface PendingCall {
  /** The calling session, or the router's own call. */
  readonly caller: Peer | InternalCaller;
  readonly callRequest: number;
  /** Changes only when an undelivered invocation goes to another callee (undelivered()). */
  callee: Peer;
  invocationRequest: number;
  readonly receiveProgress: boolean;
  timer: NodeJS.Timeout | undefined;
  /** A `kill` cancel was sent; the callee's answer is still forwarded. */
  killing: boolean;
  /** Progressive call invocations: the caller may send more chunks (CALLs with this request id). */
  progressive: boolean;
  /** The registration and the first INVOCATION's Details, which every chunk carries (the spec freezes them). */
  registration: number;
  chunkDetails: Dict | undefined;
  /** The caller's and the callee's maps this call is in (byCaller/byCallee entries), so finishing it needs no lookup of them. */
  callerCalls: Map<number, PendingCall> | undefined;
  calleeCalls: Map<number, PendingCall> | undefined;
  /**
   * While the callee is on another cluster node (a whole call, not progressive): the invocation as
   * sent (its Details without receive_progress), for another callee if NATS says it was not
   * delivered; and the callees tried so far. Held only as long as the call is.
   */
  resend?: { details: Dict; args: unknown[] | undefined; kwargs: Dict | undefined; payload: Call['payload']; deadline: number };
  tried?: Peer[];
}

/** The calls of `peer` in `index` (by caller or by callee), the map made on first use. */
function callsOf(index: Map<Peer, Map<number, PendingCall>>, peer: Peer): Map<number, PendingCall> {
  let calls = index.get(peer);
  if (calls === undefined) { calls = new Map(); index.set(peer, calls); }
  return calls;
}

export class Dealer implements ObservationOwner<Registration> {
  readonly observations: ObservationMap<Registration>;
  /** Calls in flight, keyed per caller by CALL.Request and per callee by INVOCATION.Request. */
  private readonly byCaller = new Map<Peer, Map<number, PendingCall>>();
  private readonly byCallee = new Map<Peer, Map<number, PendingCall>>();
  /** Per caller: progressive calls that ended before their last chunk came (bounded). */
  private readonly endedProgressive = new Map<Peer, Set<number>>();
  /**
   * Set when the router is a cluster node (docs/cluster.md, "RPC"):
   * registrations get the id every node gives them and are known to every
   * node, callees on other nodes are observers here (cluster/remote-peers.ts).
   */
  cluster: DealerClusterLink | null = null;

  constructor(private readonly realm: RealmContext) {
    this.observations = new ObservationMap(REGISTRATIONS, (topic, args) => realm.metaEvent(topic, args));
  }

  // ---- REGISTER / UNREGISTER -----------------------------------------------

  register(session: Peer, m: Register): void {
    const match = (m.options.match as MatchPolicy | undefined) ?? 'exact';
    const invoke = (m.options.invoke as InvokePolicy | undefined) ?? 'single';
    const fail = (error: string, message: string): void => session.sendError(MessageType.REGISTER, m.request, error, [message]);
    const bad = this.realm.uriRefusal(session, m.procedure, 'procedure', match);
    if (bad !== undefined) { fail(WampErrors.invalidUri, bad); return; }
    if (isRouterProcedure(m.procedure)) { fail(WampErrors.invalidUri, `procedure "${shortUri(m.procedure)}" is reserved for the router`); return; }
    this.realm.authorize(session, m.procedure, 'register', m.options, (decision) => {
      if (!decision.allow) {
        this.realm.denied(session, m.procedure, 'register', match === 'exact' ? undefined : `${match} pattern`);
        fail(WampErrors.notAuthorized, match === 'exact'
          ? `session is not authorized to register procedure "${shortUri(m.procedure)}"`
          : `session is not authorized to register ${match} pattern "${shortUri(m.procedure)}": no permission covers every procedure it matches`);
        return;
      }
      this.registerAuthorized(session, m, match, invoke);
    }, match);
  }

  private registerAuthorized(session: Peer, m: Register, match: MatchPolicy, invoke: InvokePolicy, stamp?: number): void {
    const fail = (error: string, message: string): void => session.sendError(MessageType.REGISTER, m.request, error, [message]);
    if (!session.isLocal) {
      const full = this.observations.holdingRefusal(session, session.limits.maxRegistrations, this.realm.limits.maxTotalRegistrations);
      if (full !== undefined) {
        session.refused('too_many_registrations', 'too many registrations', { uri: shortUri(m.procedure), why: full });
        fail(WampErrors.tooManyRegistrations, full);
        return;
      }
    }
    let reg = this.observations.lookup(m.procedure, match);
    if (reg !== undefined && m.options.force_reregister === true && this.replaceable(session, reg)) {
      for (const old of [...reg.callees]) this.revoke(old, reg, 'replaced by a force_reregister of the same authid');
      reg = this.observations.lookup(m.procedure, match);
    }
    if (reg !== undefined) {
      if (reg.observers.has(session)) { fail(WampErrors.procedureAlreadyExists, `this session already registered "${shortUri(m.procedure)}"`); return; }
      if (invoke !== reg.invoke) {
        fail(WampErrors.differentInvocationPolicy, `procedure "${shortUri(m.procedure)}" is already registered with invoke policy "${reg.invoke}", not "${invoke}"`);
        return;
      }
      if (reg.invoke === 'single') {
        fail(WampErrors.procedureAlreadyExists, `procedure "${shortUri(m.procedure)}" is already registered`);
        return;
      }
    }
    const cluster = this.cluster;
    if (cluster === null) {
      const a = this.observations.attach(session, m.procedure, match, (id, created) => new Registration(id, m.procedure, match, invoke, created));
      session.send({ type: MessageType.REGISTERED, request: m.request, registration: a.observation.id });
      this.observations.announce(session, a);
      return;
    }
    // On a cluster node the registration has the id every node gives it (ids.ts sharedId), and every node knows of it before REGISTERED.
    const id = sharedId('registration', this.realm.name, m.procedure, match, '');
    if (stamp === undefined) {
      session.holdUntil(cluster.register(session, id, m.procedure, match, invoke, m.options.force_reregister === true), (r) => {
        if ('refused' in r) { fail(r.refused[0], r.refused[1]); return; }
        // Checked again: this node's registrations may have changed meanwhile (a refusal releases what was claimed).
        this.registerAuthorized(session, m, match, invoke, r.stamp);
        if (!this.observations.lookup(m.procedure, match)?.observers.has(session)) cluster.unregistered(session, id);
      });
      return;
    }
    const a = this.observations.attach(session, m.procedure, match, (_id, created) => new Registration(id, m.procedure, match, invoke, created));
    placeBySince(a.observation, session, stamp);
    session.send({ type: MessageType.REGISTERED, request: m.request, registration: a.observation.id });
    this.observations.announce(session, a);
  }

  // ---- callees on other cluster nodes (cluster/call-link.ts) ------------------

  /** A callee on another node registered: it is an observer here too (on_create/on_register as for one of this node). */
  attachRemote(callee: Peer, uri: string, match: MatchPolicy, invoke: InvokePolicy, stamp: number): void {
    const id = sharedId('registration', this.realm.name, uri, match, '');
    const held = this.observations.lookup(uri, match);
    // Two nodes registered at once with different policies: the registration first made wins here.
    if (held !== undefined && held.invoke !== invoke) return;
    const a = this.observations.attach(callee, uri, match, (_id, created) => new Registration(id, uri, match, invoke, created));
    if (!a.added) return;
    placeBySince(a.observation, callee, stamp);
    this.observations.announce(callee, a);
  }

  /** A callee on another node no longer holds registration `id` (invocations in flight to it stay open). */
  detachRemote(callee: Peer, id: number): void {
    const reg = this.observations.get(id);
    if (reg !== undefined && this.observations.detach(callee, reg)) reg.since?.delete(callee);
  }

  /** Invocations in flight to `callee`. */
  serving(callee: Peer): number {
    return this.byCallee.get(callee)?.size ?? 0;
  }

  /**
   * An INVOCATION from another node, for `callee` of this node: `caller`
   * stands for that node's callers (its request ids are that node's
   * invocation ids). A later chunk of a progressive call continues it.
   */
  invokeRemote(caller: Peer, request: number, callee: Peer, registration: number, details: Dict, progress: boolean, data: { args?: unknown[]; kwargs?: Dict; payload?: Uint8Array | string }): void {
    const open = this.byCaller.get(caller)?.get(request);
    if (open !== undefined) {
      if (open.progressive) this.callChunk(open, { type: MessageType.CALL, request, options: progress ? { progress } : {}, procedure: '', ...data });
      return;
    }
    // A chunk of a progressive call that ended here (canceled, answered): dropped, as for a caller of this node.
    if (this.endedProgressive.get(caller)?.has(request)) return;
    const reg = this.observations.get(registration);
    if (reg === undefined || !reg.observers.has(callee)) {
      caller.sendError(MessageType.CALL, request, WampErrors.noSuchProcedure, ['the callee no longer holds the registration']);
      return;
    }
    const mine = callsOf(this.byCaller, caller);
    const theirs = callsOf(this.byCallee, callee);
    const pending: PendingCall = {
      caller, callRequest: request, callee, invocationRequest: callee.nextRequestId(),
      receiveProgress: details.receive_progress === true, timer: undefined, killing: false, callerCalls: mine, calleeCalls: theirs,
      progressive: progress, registration, chunkDetails: progress ? details : undefined,
    };
    mine.set(request, pending);
    theirs.set(pending.invocationRequest, pending);
    callee.send({ type: MessageType.INVOCATION, request: pending.invocationRequest, registration, details: progress ? { ...details, progress: true } : details, ...data });
  }

  /**
   * An INTERRUPT from another node (its caller canceled, its timeout fired,
   * its caller left): passed on; `kill` waits for the callee's answer. The
   * other node sends one for every call it ends early, also to a callee
   * that takes no INTERRUPT, so that the call ends here too (cluster/remote-peers.ts).
   */
  interruptRemote(caller: Peer, request: number, options: Dict): void {
    const p = this.byCaller.get(caller)?.get(request);
    if (p === undefined || p.killing) return;
    if (!p.callee.features.calleeCallCanceling) {
      // As `skip` on one node: the call ends now; a `kill` is answered here since the callee won't be.
      this.finish(p);
      if (options.mode === 'kill') this.errorTo(p, WampErrors.canceled, ['call canceled by the caller (mode skip)']);
      return;
    }
    if (options.mode === 'kill') p.killing = true;
    else this.finish(p);
    p.callee.send({ type: MessageType.INTERRUPT, request: p.invocationRequest, options });
  }

  /** Registrations held across the realm (one per callee and registration). */
  get registrationsHeld(): number {
    return this.observations.held;
  }

  /**
   * force_reregister (Crossbar's REGISTER option, used by a callee that
   * reconnects while the router still holds its old, half-dead session):
   * the existing registration is taken over only if every callee on it has
   * the registering session's authid. Unlike Crossbar, which evicts any
   * callee, another principal's registration is never taken: being allowed
   * to register a URI must not mean being allowed to cut off its owner.
   */
  private replaceable(session: Peer, reg: Registration): boolean {
    if (reg.callees.includes(session)) return false;
    return reg.callees.every((c) => c.authid === session.authid);
  }

  /** Takes `reg` from `callee`; tells it (UNREGISTERED with request 0) if it announced registration revocation. */
  private revoke(callee: Peer, reg: Registration, reason: string): void {
    if (this.cluster?.isRemote(callee) === true) { this.cluster.revokeRemote(callee, reg.id, reason); this.detachRemote(callee, reg.id); return; }
    if (!this.observations.detach(callee, reg)) return;
    reg.since?.delete(callee);
    this.cluster?.unregistered(callee, reg.id);
    if (callee.features.calleeRegistrationRevocation) {
      callee.send({ type: MessageType.UNREGISTERED, request: 0, details: { registration: reg.id, reason } });
    }
  }

  /**
   * `wamp.registration.remove_callee`: takes `reg` from `callee` as if it had
   * unregistered, and tells it if it announced registration revocation.
   * Invocations already sent to it stay open: its answers are still forwarded.
   */
  removeObserver(reg: Registration, callee: Peer, reason: string): void {
    this.revoke(callee, reg, reason);
  }

  /** Calls this session has made that are still waiting for their result. */
  pendingCalls(session: Peer): number {
    return this.byCaller.get(session)?.size ?? 0;
  }

  unregister(session: Peer, m: Unregister): void {
    const reg = this.observations.release(session, m.registration);
    if (reg === undefined) {
      session.sendError(MessageType.UNREGISTER, m.request, WampErrors.noSuchRegistration, [`session has no registration ${m.registration}`]);
      return;
    }
    if (this.cluster !== null) { reg.since?.delete(session); this.cluster.unregistered(session, reg.id); }
    session.send({ type: MessageType.UNREGISTERED, request: m.request });
  }

  // ---- CALL ----------------------------------------------------------------

  /** Answers a CALL with ERROR; a refused first chunk of a progressive call is remembered as ended. */
  private refuse(caller: Peer, m: Call, error: string, message: string): void {
    if (m.options.progress === true) this.progressiveEnded(caller, m.request);
    callFailed(caller, m, error, message);
  }

  /** Does a CALL with this request id continue one of `caller`'s progressive calls (or a chunk of one that ended)? */
  continuesCall(caller: Peer, request: number): boolean {
    const open = this.byCaller.get(caller)?.get(request);
    if (open !== undefined) return open.progressive;
    // Every CALL asks: the second lookup only while some progressive call ended early.
    return this.endedProgressive.size !== 0 && this.endedProgressive.get(caller)?.has(request) === true;
  }

  call(caller: Peer, m: Call): void {
    const open = this.byCaller.get(caller)?.get(m.request);
    if (open !== undefined) {
      if (open.progressive) { this.callChunk(open, m); return; }
      caller.protocolViolation(`CALL request id ${m.request} is already in flight`);
      return;
    }
    // A chunk of a progressive call that has already ended: the caller could not know yet.
    if (this.endedProgressive.get(caller)?.has(m.request)) return;
    if (m.options.progress === true && !caller.features.callerProgressiveInvocations) {
      caller.protocolViolation('CALL with progress: true from a caller that did not announce progressive_call_invocations');
      return;
    }
    const bad = this.realm.uriRefusal(caller, m.procedure, 'procedure');
    if (bad !== undefined) { this.refuse(caller, m, WampErrors.invalidUri, bad); return; }
    // Written out rather than realm.authorize(): no closure on the hot path when the decision is known.
    const decision = this.realm.decide(caller, m.procedure, 'call', m.options);
    if (decision instanceof Promise) caller.holdUntil(decision, (d) => this.callAuthorized(caller, m, d));
    else this.callAuthorized(caller, m, decision);
  }

  private callAuthorized(caller: Peer, m: Call, decision: Decision, current = false): void {
    if (!decision.allow) {
      this.realm.denied(caller, m.procedure, 'call');
      this.refuse(caller, m, WampErrors.notAuthorized, `session is not authorized to call procedure "${shortUri(m.procedure)}"`);
      return;
    }
    if (m.options.disclose_me === true && !decision.disclose) {
      this.realm.denied(caller, m.procedure, 'call', 'disclose_me not allowed');
      this.refuse(caller, m, WampErrors.optionDisallowedDiscloseMe, `role "${caller.authrole}" may not disclose itself when calling "${shortUri(m.procedure)}"`);
      return;
    }
    if (isRouterProcedure(m.procedure)) {
      if (m.options.progress === true) { this.refuse(caller, m, WampErrors.featureNotSupported, 'meta procedures take no progressive call invocations'); return; }
      this.callMeta(caller, m);
      return;
    }

    const reg = this.observations.best(m.procedure);
    if (reg === undefined || reg.callees.length === 0) {
      // A registration made on another node just before (REGISTERED came, the caller heard of it) may not be here yet: asked once.
      if (this.cluster !== null && !current) { caller.holdUntil(this.cluster.tableCurrent(), () => this.callAuthorized(caller, m, decision, true)); return; }
      this.refuse(caller, m, WampErrors.noSuchProcedure, `no callee registered for procedure "${shortUri(m.procedure)}"`);
      return;
    }
    const progressive = m.options.progress === true;
    const callee = pickCallee(reg);
    if (progressive && !(callee.features.calleeProgressiveInvocations && callee.features.calleeCallCanceling)) {
      this.refuse(caller, m, WampErrors.featureNotSupported, `the callee of "${shortUri(m.procedure)}" does not take progressive call invocations (it must announce progressive_call_invocations and call_canceling)`);
      return;
    }
    const details: Dict = {};
    if (reg.match !== 'exact') details.procedure = m.procedure;
    const timeout = typeof m.options.timeout === 'number' ? m.options.timeout : 0;
    if (timeout > 0) details.timeout = timeout;
    copyPassthrough(m.options, details);
    if (decision.disclose) disclose(details, 'caller', caller);
    const receiveProgress = m.options.receive_progress === true;
    // Kept only where another callee could take it: a whole call to a shared registration's callee on another node.
    const resend = !progressive && reg.invoke !== 'single' && this.cluster?.isRemote(callee) === true ? { details: { ...details }, args: m.args, kwargs: m.kwargs, payload: m.payload, deadline: timeout > 0 ? Date.now() + timeout : 0 } : undefined;
    if (receiveProgress && callee.features.calleeProgressiveResults) details.receive_progress = true;
    const mine = callsOf(this.byCaller, caller);
    const theirs = callsOf(this.byCallee, callee);
    const pending: PendingCall = {
      caller, callRequest: m.request, callee, invocationRequest: callee.nextRequestId(),
      receiveProgress, timer: undefined, killing: false, callerCalls: mine, calleeCalls: theirs,
      progressive, registration: reg.id, chunkDetails: progressive ? details : undefined,
    };
    if (resend !== undefined) pending.resend = resend;
    mine.set(m.request, pending);
    theirs.set(pending.invocationRequest, pending);
    if (timeout > 0) this.armTimeout(pending, timeout, Date.now() + timeout);
    callee.send({
      type: MessageType.INVOCATION, request: pending.invocationRequest, registration: reg.id,
      details: progressive ? { ...details, progress: true } : details,
      args: m.args, kwargs: m.kwargs, payload: m.payload,
    });
  }

  /**
   * A later chunk of a progressive call: to the first chunk's callee, under
   * the same INVOCATION id, with the first chunk's Details (only `progress`
   * may change: the spec freezes the rest, and authorization was decided
   * for the call as a whole). The chunk without progress: true is the last.
   */
  private callChunk(p: PendingCall, m: Call): void {
    const more = m.options.progress === true;
    p.progressive = more;
    const details = p.chunkDetails!;
    if (!more) p.chunkDetails = undefined;
    p.callee.send({
      type: MessageType.INVOCATION, request: p.invocationRequest, registration: p.registration,
      details: more ? { ...details, progress: true } : details,
      args: m.args, kwargs: m.kwargs, payload: m.payload,
    });
  }

  /** A chunk of a progressive call was refused (rate limit, the caller got ERROR): the call ends, the callee is told. */
  abandonCall(caller: Peer, request: number): void {
    const p = this.byCaller.get(caller)?.get(request);
    if (p === undefined) return;
    this.finish(p);
    p.callee.send({ type: MessageType.INTERRUPT, request: p.invocationRequest, options: { mode: 'killnowait', reason: WampErrors.canceled } });
  }

  private callMeta(caller: Peer, m: Call): void {
    const reply = (result: unknown): void =>
      caller.send({ type: MessageType.RESULT, request: m.request, details: {}, args: result === undefined ? [] : [result] });
    try {
      const result = this.realm.callMeta(caller, m.procedure, m.args ?? [], m.kwargs ?? {});
      // A meta procedure that needs a dynamic authorizer answers later.
      if (result instanceof Promise) {
        result.then(reply, (e: unknown) => {
          if (e instanceof WampError) caller.sendError(MessageType.CALL, m.request, e.uri, e.args, e.kwargs);
          else caller.protocolViolation('internal error in a meta procedure');
        });
        return;
      }
      reply(result);
    } catch (e) {
      if (e instanceof WampError) { caller.sendError(MessageType.CALL, m.request, e.uri, e.args, e.kwargs); return; }
      throw e;
    }
  }

  // ---- answers from the callee ---------------------------------------------

  yield(callee: Peer, m: Yield): void {
    const pending = this.byCallee.get(callee)?.get(m.request);
    if (pending === undefined) { this.unmatchedAnswer(callee, 'YIELD', m.request); return; }
    const details: Dict = copyPassthrough(m.options, {});
    if (m.options.progress === true) {
      if (pending.receiveProgress && isPeer(pending.caller)) {
        details.progress = true;
        pending.caller.send({ type: MessageType.RESULT, request: pending.callRequest, details, args: m.args, kwargs: m.kwargs, payload: m.payload });
      }
      return;
    }
    this.finish(pending);
    this.resultTo(pending, details, m);
  }

  /**
   * An INVOCATION to a callee of another node was not delivered (NATS found
   * nobody on its node's subject: the node is gone or reconnecting). A call
   * to a shared registration goes to another callee, in the policy's order,
   * each callee tried once at most; otherwise it ends with `why`.
   */
  undelivered(callee: Peer, request: number, why: ErrorMessage): void {
    const p = this.byCallee.get(callee)?.get(request);
    if (p === undefined) return; // ended meanwhile
    if (p.killing) {
      // Canceled (`kill`) while on its way: not sent on; no answer will come, so the cancel is answered here.
      this.finish(p);
      this.errorTo(p, WampErrors.canceled, ['call canceled by the caller (its invocation was not delivered)']);
      return;
    }
    const reg = this.observations.get(p.registration);
    const tried = [...(p.tried ?? []), callee];
    const next = p.resend !== undefined && reg !== undefined ? pickOther(reg, tried) : undefined;
    if (next === undefined) {
      // A later chunk of a progressive call lost: the callee may hold the earlier ones (its node was reconnecting). Best effort.
      if (callee.features.calleeCallCanceling) callee.send({ type: MessageType.INTERRUPT, request: p.invocationRequest, options: { mode: 'killnowait', reason: WampErrors.canceled } });
      this.invocationError(callee, why);
      return;
    }
    const resend = p.resend!;
    p.calleeCalls?.delete(p.invocationRequest);
    const theirs = callsOf(this.byCallee, next);
    p.tried = tried;
    p.callee = next;
    p.invocationRequest = next.nextRequestId();
    p.calleeCalls = theirs;
    theirs.set(p.invocationRequest, p);
    // A callee of this node gets it for sure: nothing to keep for another try.
    if (this.cluster?.isRemote(next) !== true) p.resend = undefined;
    const details: Dict = { ...resend.details };
    if (p.receiveProgress && next.features.calleeProgressiveResults) details.receive_progress = true;
    // The callee is told the time the call has left (the dealer's timer still ends it at the caller's deadline).
    if (resend.deadline > 0) details.timeout = Math.max(1, resend.deadline - Date.now());
    next.send({ type: MessageType.INVOCATION, request: p.invocationRequest, registration: p.registration, details, args: resend.args, kwargs: resend.kwargs, payload: resend.payload });
  }

  invocationError(callee: Peer, m: ErrorMessage): void {
    const pending = this.byCallee.get(callee)?.get(m.request);
    if (pending === undefined) { this.unmatchedAnswer(callee, 'ERROR', m.request); return; }
    this.finish(pending);
    const max = this.realm.limits.maxUriLength;
    if (m.error.length > max) {
      // Not forwarded: the caller would hold it, and metrics would keep it as a label.
      callee.refused('uri_too_long', 'URI too long', { uri: shortUri(m.error), uri_length: m.error.length, max_uri_length: max, what: 'error' });
      this.errorTo(pending, WampErrors.invalidUri, [`the callee answered with an error URI of ${m.error.length} characters, longer than max_uri_length (${max})`]);
      return;
    }
    // The callee's error goes to the caller unchanged: URI, args, kwargs.
    this.errorTo(pending, m.error, m.args, m.kwargs, copyPassthrough(m.details, {}), m.payload);
  }

  /**
   * A YIELD or ERROR that answers no invocation in flight. For one the
   * router sent that has since been canceled, timed out or answered, it is
   * dropped silently (spec); for one it never sent, the session ends as a
   * protocol violation. The callee's INVOCATION id sequence tells them apart.
   */
  private unmatchedAnswer(callee: Peer, what: string, request: number): void {
    if (callee.requestIdIssued(request)) return;
    callee.protocolViolation(`${what} for invocation ${request}, which the router never sent`);
  }

  // ---- cancel, timeout, sessions leaving ------------------------------------

  cancel(caller: Peer, m: Cancel): void {
    const pending = this.byCaller.get(caller)?.get(m.request);
    if (pending === undefined || pending.killing) return;
    let mode = (m.options.mode as CancelMode | undefined) ?? 'killnowait';
    if (!pending.callee.features.calleeCallCanceling) mode = 'skip';
    if (mode === 'kill') {
      pending.killing = true;
      pending.callee.send({ type: MessageType.INTERRUPT, request: pending.invocationRequest, options: { mode } });
      return;
    }
    this.finish(pending);
    if (mode === 'killnowait') {
      pending.callee.send({ type: MessageType.INTERRUPT, request: pending.invocationRequest, options: { mode } });
    }
    caller.sendError(MessageType.CALL, pending.callRequest, WampErrors.canceled, [`call canceled by the caller (mode ${mode})`]);
  }

  // Node fires timers longer than 2^31-1 ms after 1 ms, so long timeouts are
  // armed in steps against an absolute deadline.
  private armTimeout(pending: PendingCall, timeout: number, deadline: number): void {
    const left = deadline - Date.now();
    if (left <= 0) { this.timedOut(pending, timeout); return; }
    pending.timer = setTimeout(() => this.armTimeout(pending, timeout, deadline), Math.min(left, MAX_TIMER_MS));
  }

  private timedOut(pending: PendingCall, timeout: number): void {
    pending.timer = undefined;
    this.finish(pending);
    if (pending.callee.features.calleeCallCanceling) {
      pending.callee.send({ type: MessageType.INTERRUPT, request: pending.invocationRequest, options: { mode: 'killnowait', reason: WampErrors.timeout } });
    }
    this.errorTo(pending, WampErrors.timeout, [`call timed out after ${timeout} ms`]);
  }

  private finish(p: PendingCall): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.callerCalls?.delete(p.callRequest);
    p.calleeCalls?.delete(p.invocationRequest);
    if (p.progressive && isPeer(p.caller)) {
      p.progressive = false;
      this.progressiveEnded(p.caller, p.callRequest);
    }
  }

  /**
   * A progressive call ended (or was refused) before its last chunk: the
   * chunks already on their way are dropped, not taken for new calls.
   */
  progressiveEnded(caller: Peer, request: number): void {
    let ended = this.endedProgressive.get(caller);
    if (ended === undefined) { ended = new Set(); this.endedProgressive.set(caller, ended); }
    if (ended.size >= ENDED_PROGRESSIVE_REMEMBERED) ended.delete(ended.values().next().value!);
    ended.add(request);
  }

  /** Sends the final RESULT to the caller (or resolves the router's own call). */
  private resultTo(p: PendingCall, details: Dict, m: Yield): void {
    if (isPeer(p.caller)) p.caller.send({ type: MessageType.RESULT, request: p.callRequest, details, args: m.args, kwargs: m.kwargs, payload: m.payload });
    else p.caller.resolve({ args: m.args ?? [], kwargs: m.kwargs ?? {} });
  }

  private errorTo(p: PendingCall, error: string, args: unknown[] | undefined, kwargs?: Dict, details: Dict = {}, payload?: Uint8Array | string): void {
    if (isPeer(p.caller)) p.caller.send({ type: MessageType.ERROR, requestType: MessageType.CALL, request: p.callRequest, details, error, args, kwargs, payload });
    else p.caller.reject(new WampError(error, args ?? [], kwargs));
  }

  /**
   * A call by the router itself, to a procedure some session registered on
   * this realm: no permission check, no disclosure, a timeout. Rejects with
   * WampError (no_such_procedure, timeout, canceled, or the callee's error).
   */
  callInternal(procedure: string, args: unknown[], timeoutMs: number, kwargs: Dict = {}): Promise<{ args: unknown[]; kwargs: Dict }> {
    return new Promise((resolve, reject) => {
      const reg = this.observations.best(procedure);
      if (reg === undefined || reg.callees.length === 0) {
        reject(new WampError(WampErrors.noSuchProcedure, [`no callee registered for procedure "${procedure}"`]));
        return;
      }
      const callee = pickCallee(reg);
      const details: Dict = {};
      if (reg.match !== 'exact') details.procedure = procedure;
      if (timeoutMs > 0) details.timeout = timeoutMs;
      const theirs = callsOf(this.byCallee, callee);
      const pending: PendingCall = {
        caller: { internal: true, resolve, reject }, callRequest: 0, callee, invocationRequest: callee.nextRequestId(),
        receiveProgress: false, timer: undefined, killing: false, callerCalls: undefined, calleeCalls: theirs,
        progressive: false, registration: reg.id, chunkDetails: undefined,
      };
      theirs.set(pending.invocationRequest, pending);
      if (timeoutMs > 0) this.armTimeout(pending, timeoutMs, Date.now() + timeoutMs);
      callee.send({ type: MessageType.INVOCATION, request: pending.invocationRequest, registration: reg.id, details, args, kwargs });
    });
  }

  sessionLeft(session: Peer, why: [string, string] = [WampErrors.canceled, 'callee left the realm with the call in flight']): void {
    // Calls this session was serving: their callers get an error now, not never.
    this.failInvocations(session, why[0], why[1]);
    // Calls this session was waiting for (progressive ones still taking chunks among them): tell callees who can stop.
    const waiting = this.byCaller.get(session);
    if (waiting !== undefined) {
      this.byCaller.delete(session);
      for (const p of waiting.values()) p.progressive = false;
      for (const p of [...waiting.values()]) {
        this.finish(p);
        if (p.callee.features.calleeCallCanceling) {
          p.callee.send({ type: MessageType.INTERRUPT, request: p.invocationRequest, options: { mode: 'killnowait', reason: 'wamp.error.canceled' } });
        }
      }
    }
    this.endedProgressive.delete(session);
    this.cluster?.sessionLeft(session);
    this.observations.sessionLeft(session);
  }

  /** The invocations in flight to `callee` end with ERROR `error` to their callers (its node is gone or unreachable). */
  failInvocations(callee: Peer, error: string, message: string): void {
    const serving = this.byCallee.get(callee);
    if (serving === undefined) return;
    this.byCallee.delete(callee);
    for (const p of [...serving.values()]) {
      this.finish(p);
      this.errorTo(p, error, [message]);
    }
  }
}

/**
 * Puts `callee` among `reg`'s callees by its cluster-wide registration time,
 * so that `first`, `last` and `roundrobin` mean the same on every node.
 */
function placeBySince(reg: Registration, callee: Peer, stamp: number): void {
  const since = reg.since ??= new Map();
  since.set(callee, stamp);
  const list = reg.observers.list;
  const i = list.indexOf(callee);
  if (i < 0) return;
  list.splice(i, 1);
  let at = list.length;
  while (at > 0 && (since.get(list[at - 1]!) ?? 0) > stamp) at--;
  list.splice(at, 0, callee);
}

/** Answers a CALL with ERROR (a function, not a closure per call: this is the hot path). */
function callFailed(caller: Peer, m: Call, error: string, message: string): void {
  caller.sendError(MessageType.CALL, m.request, error, [message]);
}

function isPeer(c: Peer | InternalCaller): c is Peer {
  return (c as Partial<InternalCaller>).internal !== true;
}
