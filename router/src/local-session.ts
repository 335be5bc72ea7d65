// An in-process WAMP client for the application that embeds the router (as
// wamp.rt's regrpc/publish did): register, call, publish, subscribe with no
// socket. It goes through the same session, realm, broker and dealer code as
// a remote client, so it obeys the same rules and shows up in the meta API.
import { MessageType, type Dict, type RouterMessage, type WampMessage } from './messages/types.js';
import { IdSequence } from './ids.js';
import { WampError } from './errors.js';
import type { Session } from './session/session.js';

export interface CallResult {
  args: unknown[];
  kwargs: Dict;
}

export interface InvocationDetails extends Dict {
  procedure?: string;
  caller?: number;
  caller_authid?: string;
  caller_authrole?: string;
  /** Sends a progressive result (only if the caller asked for them). */
  progress?: (args?: unknown[], kwargs?: Dict) => void;
}

/** Return a value (sent as args[0]), a CallResult-shaped `{args, kwargs}` via `new Result(...)`, or throw WampError. */
export type Procedure = (args: unknown[], kwargs: Dict, details: InvocationDetails) => unknown;
export type EventHandler = (args: unknown[], kwargs: Dict, details: Dict) => void;

/** Wrap a procedure's return value in this to send several args and kwargs. */
export class Result {
  constructor(readonly args: unknown[] = [], readonly kwargs: Dict = {}) {}
}

interface Waiter {
  resolve: (m: RouterMessage) => void;
  reject: (e: Error) => void;
  onProgress?: (r: CallResult) => void;
}

export class LocalSession {
  private readonly requests = new IdSequence();
  private readonly waiting = new Map<number, Waiter>();
  private readonly procedures = new Map<number, Procedure>();
  private readonly handlers = new Map<number, Set<EventHandler>>();
  private session!: Session;
  private welcomed!: Promise<void>;
  private closed = false;
  private onWelcome!: () => void;
  private onAbort!: (e: Error) => void;

  /** @internal use Router.localSession() */
  static open(attach: (deliver: (m: RouterMessage) => void, closed: () => void) => Session, realm: string): LocalSession {
    const ls = new LocalSession();
    ls.welcomed = new Promise((resolve, reject) => { ls.onWelcome = resolve; ls.onAbort = reject; });
    ls.session = attach((m) => ls.receive(m), () => ls.rejectAll(new Error('session closed')));
    ls.send({
      type: MessageType.HELLO, realm,
      details: { roles: { caller: {}, callee: { features: { progressive_call_results: true } }, publisher: {}, subscriber: {} } },
    });
    return ls;
  }

  /** Resolves once the router welcomed the session. */
  ready(): Promise<void> { return this.welcomed; }
  get id(): number { return this.session.id; }
  get authid(): string { return this.session.authid; }
  get authrole(): string { return this.session.authrole; }
  /** False once the session ended (closed, killed, aborted, router stopped). */
  get isOpen(): boolean { return !this.closed; }

  private send(m: WampMessage): void {
    this.session.metrics?.messageIn(this.session, m);
    this.session.handle(m);
  }

  private request(build: (request: number) => WampMessage, onProgress?: (r: CallResult) => void): Promise<RouterMessage> {
    if (this.closed) return Promise.reject(new Error('session closed'));
    const request = this.requests.next();
    return new Promise((resolve, reject) => {
      this.waiting.set(request, { resolve, reject, onProgress });
      this.send(build(request));
    });
  }

  async call(procedure: string, args: unknown[] = [], kwargs: Dict = {}, options: Dict = {}, onProgress?: (r: CallResult) => void): Promise<CallResult> {
    await this.welcomed;
    const opts = onProgress ? { ...options, receive_progress: true } : options;
    const r = await this.request((request) => ({ type: MessageType.CALL, request, options: opts, procedure, args, kwargs }), onProgress);
    if (r.type !== MessageType.RESULT) throw new Error(`unexpected ${r.type}`);
    return { args: r.args ?? [], kwargs: r.kwargs ?? {} };
  }

  async register(procedure: string, fn: Procedure, options: Dict = {}): Promise<number> {
    await this.welcomed;
    const r = await this.request((request) => ({ type: MessageType.REGISTER, request, options, procedure }));
    if (r.type !== MessageType.REGISTERED) throw new Error(`unexpected ${r.type}`);
    this.procedures.set(r.registration, fn);
    return r.registration;
  }

  async unregister(registration: number): Promise<void> {
    await this.request((request) => ({ type: MessageType.UNREGISTER, request, registration }));
    this.procedures.delete(registration);
  }

  /** Resolves with the publication id once the router acknowledged it. */
  async publish(topic: string, args: unknown[] = [], kwargs: Dict = {}, options: Dict = {}): Promise<number> {
    await this.welcomed;
    const r = await this.request((request) => ({ type: MessageType.PUBLISH, request, options: { ...options, acknowledge: true }, topic, args, kwargs }));
    if (r.type !== MessageType.PUBLISHED) throw new Error(`unexpected ${r.type}`);
    return r.publication;
  }

  async subscribe(topic: string, handler: EventHandler, options: Dict = {}): Promise<number> {
    await this.welcomed;
    const r = await this.request((request) => ({ type: MessageType.SUBSCRIBE, request, options, topic }));
    if (r.type !== MessageType.SUBSCRIBED) throw new Error(`unexpected ${r.type}`);
    let set = this.handlers.get(r.subscription);
    if (set === undefined) { set = new Set(); this.handlers.set(r.subscription, set); }
    set.add(handler);
    return r.subscription;
  }

  async unsubscribe(subscription: number): Promise<void> {
    await this.request((request) => ({ type: MessageType.UNSUBSCRIBE, request, subscription }));
    this.handlers.delete(subscription);
  }

  close(): void {
    if (this.closed) return;
    this.send({ type: MessageType.GOODBYE, details: {}, reason: 'wamp.close.normal' });
    this.closed = true;
  }

  private rejectAll(e: Error): void {
    this.closed = true;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  private receive(m: RouterMessage): void {
    switch (m.type) {
      case MessageType.WELCOME: this.onWelcome(); return;
      case MessageType.ABORT: this.onAbort(new WampError(m.reason, [m.details.message])); this.rejectAll(new Error(m.reason)); return;
      case MessageType.GOODBYE:
        if (!this.closed) this.send({ type: MessageType.GOODBYE, details: {}, reason: 'wamp.close.goodbye_and_out' });
        this.rejectAll(new Error(m.reason));
        return;
      case MessageType.EVENT: {
        for (const h of this.handlers.get(m.subscription) ?? []) {
          try { h(m.args ?? [], m.kwargs ?? {}, m.details); } catch { /* a handler's bug is the handler's */ }
        }
        return;
      }
      case MessageType.INVOCATION: void this.invoke(m); return;
      case MessageType.INTERRUPT: return;
      case MessageType.RESULT: {
        const w = this.waiting.get(m.request);
        if (w === undefined) return;
        if (m.details.progress === true) { w.onProgress?.({ args: m.args ?? [], kwargs: m.kwargs ?? {} }); return; }
        this.waiting.delete(m.request);
        w.resolve(m);
        return;
      }
      case MessageType.ERROR: {
        const w = this.waiting.get(m.request);
        if (w === undefined) return;
        this.waiting.delete(m.request);
        w.reject(new WampError(m.error, m.args ?? [], m.kwargs));
        return;
      }
      case MessageType.CHALLENGE: return;
      default: {
        const w = this.waiting.get(m.request);
        if (w === undefined) return;
        this.waiting.delete(m.request);
        w.resolve(m);
      }
    }
  }

  private async invoke(m: Extract<RouterMessage, { type: 68 }>): Promise<void> {
    const fn = this.procedures.get(m.registration);
    const details: InvocationDetails = { ...m.details };
    if (m.details.receive_progress === true) {
      details.progress = (args = [], kwargs = {}) =>
        this.send({ type: MessageType.YIELD, request: m.request, options: { progress: true }, args, kwargs });
    }
    try {
      if (fn === undefined) throw new WampError('wamp.error.no_such_registration');
      const value = await fn(m.args ?? [], m.kwargs ?? {}, details);
      const out = value instanceof Result ? value : new Result(value === undefined ? [] : [value]);
      this.send({ type: MessageType.YIELD, request: m.request, options: {}, args: out.args, kwargs: out.kwargs });
    } catch (e) {
      const err = e instanceof WampError ? e : new WampError('wamp.error.runtime_error', [String((e as Error)?.message ?? e)]);
      this.send({ type: MessageType.ERROR, requestType: MessageType.INVOCATION, request: m.request, details: {}, error: err.uri, args: err.args, kwargs: err.kwargs });
    }
  }
}
