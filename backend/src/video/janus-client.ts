// The video service's one connection to Janus's API (WebSocket transport,
// subprotocol `janus-protocol`): one Janus session holding every viewer's
// handle, kept alive, reconnected with backoff when Janus goes away. Only the
// backend talks to this API; browsers never do (docs/architecture.md "Live
// video").
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

export interface JanusClientOptions {
  url: string;
  /** Janus's `api_secret`, when it has one. */
  apiSecret?: string | undefined;
  /** Answers slower than this fail the request. */
  requestTimeoutMs: number;
  /** Keepalive period (Janus drops a session silent for its session_timeout, 60 s by default). */
  keepaliveMs: number;
  /** Reconnect delays: from `initialMs`, doubling up to `maxMs`. */
  backoff: { initialMs: number; maxMs: number };
  log: (level: 'info' | 'warn' | 'debug', msg: string, extra?: Record<string, unknown>) => void;
}

export interface JanusHandleEvent {
  /** `event` (plugin events), `hangup`, `detached`, `webrtcup`, `media`, `slowlink`. */
  janus: string;
  plugindata?: { data?: Record<string, unknown> };
  jsep?: { type: string; sdp: string };
  reason?: string;
}

/** What the client does with the media server; narrow, so the service can be tested without Janus. */
export interface MediaServer {
  readonly connected: boolean;
  /** A synchronous plugin request on the service's own admin handle (create/destroy/info mountpoints). */
  adminRequest(body: Record<string, unknown>): Promise<Record<string, unknown>>;
  attach(onEvent: (e: JanusHandleEvent) => void): Promise<number>;
  /** An asynchronous plugin request: resolves with the event that answers it (with its jsep, if any). */
  message(handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<JanusHandleEvent>;
  detach(handle: number): Promise<void>;
  /** Called after each (re)connect, with a fresh Janus session (every earlier handle is gone). */
  onConnect(fn: () => void): void;
  onDisconnect(fn: () => void): void;
}

export class JanusError extends Error {
  constructor(message: string, readonly code?: number) { super(message); this.name = 'JanusError'; }
}

interface Pending {
  resolve: (m: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** Janus's `ack` is the whole answer (keepalive); for a plugin message it only says an event follows. */
  ackAnswers: boolean;
}

const PLUGIN = 'janus.plugin.streaming';

export class JanusClient implements MediaServer {
  private ws: WebSocket | undefined;
  private session: number | undefined;
  private adminHandle: number | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly handles = new Map<number, (e: JanusHandleEvent) => void>();
  private readonly connectListeners: (() => void)[] = [];
  private readonly disconnectListeners: (() => void)[] = [];
  private keepalive: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private delay: number;
  private stopped = false;
  private ready = false;

  constructor(private readonly o: JanusClientOptions) {
    this.delay = o.backoff.initialMs;
  }

  get connected(): boolean { return this.ready; }

  start(): void { this.connect(); }

  onConnect(fn: () => void): void { this.connectListeners.push(fn); }
  onDisconnect(fn: () => void): void { this.disconnectListeners.push(fn); }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const ws = this.ws;
    if (ws && this.session !== undefined && ws.readyState === WebSocket.OPEN) {
      // Every viewer's handle goes with the session.
      await this.request({ janus: 'destroy', session_id: this.session }).catch(() => undefined);
    }
    ws?.terminate();
    this.lost('stopped');
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.o.url, 'janus-protocol', { maxPayload: 1024 * 1024, handshakeTimeout: this.o.requestTimeoutMs });
    this.ws = ws;
    ws.on('message', (data) => this.receive(data.toString()));
    ws.on('error', (e) => this.o.log('debug', 'Janus connection error', { err: e.message }));
    ws.on('close', () => {
      if (this.ws !== ws) return;
      const was = this.ready;
      this.lost('closed');
      if (was) this.o.log('warn', 'Janus connection lost; reconnecting');
      this.scheduleRetry();
    });
    ws.on('open', () => {
      void this.open(ws).catch((e: unknown) => {
        this.o.log('warn', 'Janus session could not be set up', { err: (e as Error).message });
        ws.terminate();
      });
    });
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.o.backoff.maxMs, this.delay * 2);
  }

  private async open(ws: WebSocket): Promise<void> {
    const created = await this.request({ janus: 'create' });
    this.session = (created.data as { id: number }).id;
    const attached = await this.request({ janus: 'attach', session_id: this.session, plugin: PLUGIN });
    this.adminHandle = (attached.data as { id: number }).id;
    if (this.ws !== ws) return;
    // A Janus that stops answering with the socket still open (hung, or a host gone without a FIN)
    // would leave every watch failing on a timeout, for good: a keepalive unanswered in time is a
    // lost connection, and the client connects again (a fresh session, mountpoints re-created).
    this.keepalive = setInterval(() => {
      if (this.session === undefined) return;
      this.request({ janus: 'keepalive', session_id: this.session }, true).catch((e: unknown) => {
        if (this.ws !== ws || this.stopped || ws.readyState !== WebSocket.OPEN) return;
        this.o.log('warn', 'Janus did not answer a keepalive; connecting again', { err: (e as Error).message });
        ws.terminate();
      });
    }, this.o.keepaliveMs);
    this.keepalive.unref();
    this.ready = true;
    this.delay = this.o.backoff.initialMs;
    this.o.log('info', 'connected to Janus', { url: this.o.url });
    for (const fn of this.connectListeners) fn();
  }

  private lost(why: string): void {
    clearInterval(this.keepalive);
    const was = this.ready;
    this.ready = false;
    this.session = undefined;
    this.adminHandle = undefined;
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new JanusError(`Janus connection ${why}`)); }
    this.pending.clear();
    const handles = [...this.handles.values()];
    this.handles.clear();
    for (const h of handles) h({ janus: 'detached', reason: why });
    if (was) for (const fn of this.disconnectListeners) fn();
  }

  private receive(text: string): void {
    let m: Record<string, unknown>;
    try { m = JSON.parse(text) as Record<string, unknown>; } catch { return; }
    const tx = typeof m.transaction === 'string' ? m.transaction : undefined;
    if (m.janus === 'timeout' && m.session_id === this.session && this.session !== undefined) {
      // Janus dropped our session (keepalives late: this process stalled): every handle is gone with it.
      this.o.log('warn', 'Janus timed our session out; connecting again');
      this.ws?.terminate();
      return;
    }
    if (tx !== undefined && this.pending.has(tx)) {
      const p = this.pending.get(tx)!;
      if (m.janus === 'ack' && !p.ackAnswers) return; // an async request accepted; its event follows with the same transaction
      this.pending.delete(tx);
      clearTimeout(p.timer);
      if (m.janus === 'error') p.reject(new JanusError(String((m.error as { reason?: string })?.reason ?? 'Janus error'), (m.error as { code?: number })?.code));
      else p.resolve(m);
      return;
    }
    const sender = typeof m.sender === 'number' ? m.sender : undefined;
    if (sender !== undefined) this.handles.get(sender)?.(m as unknown as JanusHandleEvent);
    if (sender !== undefined && (m.janus === 'detached')) this.handles.delete(sender);
  }

  private request(body: Record<string, unknown>, ackAnswers = false): Promise<Record<string, unknown>> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new JanusError('not connected to Janus'));
    const transaction = randomBytes(9).toString('base64url');
    const msg = { ...body, transaction, ...(this.o.apiSecret ? { apisecret: this.o.apiSecret } : {}) };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(transaction); reject(new JanusError(`Janus did not answer ${String(body.janus)} within ${this.o.requestTimeoutMs} ms`)); }, this.o.requestTimeoutMs);
      this.pending.set(transaction, { resolve, reject, timer, ackAnswers });
      ws.send(JSON.stringify(msg));
    });
  }

  async adminRequest(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (!this.ready || this.adminHandle === undefined) throw new JanusError('not connected to Janus');
    const r = await this.request({ janus: 'message', session_id: this.session, handle_id: this.adminHandle, body });
    const data = ((r.plugindata as { data?: Record<string, unknown> } | undefined)?.data) ?? {};
    if (typeof data.error_code === 'number') throw new JanusError(String(data.error ?? 'streaming plugin error'), data.error_code);
    return data;
  }

  async attach(onEvent: (e: JanusHandleEvent) => void): Promise<number> {
    if (!this.ready) throw new JanusError('not connected to Janus');
    const r = await this.request({ janus: 'attach', session_id: this.session, plugin: PLUGIN });
    const id = (r.data as { id: number }).id;
    this.handles.set(id, onEvent);
    return id;
  }

  async message(handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<JanusHandleEvent> {
    if (!this.ready) throw new JanusError('not connected to Janus');
    const r = await this.request({ janus: 'message', session_id: this.session, handle_id: handle, body, ...(jsep ? { jsep } : {}) });
    const data = ((r.plugindata as { data?: Record<string, unknown> } | undefined)?.data) ?? {};
    if (typeof data.error_code === 'number') throw new JanusError(String(data.error ?? 'streaming plugin error'), data.error_code);
    return r as unknown as JanusHandleEvent;
  }

  async detach(handle: number): Promise<void> {
    const had = this.handles.delete(handle);
    if (!had || !this.ready) return;
    await this.request({ janus: 'detach', session_id: this.session, handle_id: handle }).catch(() => undefined);
  }
}
