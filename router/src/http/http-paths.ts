// The HTTP path services on the router's express app: HTTP Publisher and
// HTTP Caller (Crossbar's bridge), `/info` (subscriber counts) and
// `/metrics` (Prometheus). One express app serves every web listener, so a
// request is matched to its listener by the local port it arrived on, then
// to the path configured on that listener.
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logger.js';
import type { LocalSession } from '../local-session.js';
import { WampError, WampErrors } from '../errors.js';
import type { Dict } from '../messages/types.js';
import type { RouterMetrics } from '../metrics/router-metrics.js';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/exposition.js';
import {
  DEFAULT_METRICS_PATH, DEFAULT_POST_BODY_LIMIT, DEFAULT_TIMESTAMP_DELTA_LIMIT_S,
  type BridgePathConfig, type HttpPathConfig, type InfoPathConfig,
} from './http-config.js';
import { HttpError, HttpErrors, statusForWampError } from './http-error.js';
import { RequestGuard, parseJsonObject, readBody, requestFacts } from './request-guard.js';
import { callRequest, publishRequest } from './bridge-request.js';
import { SessionSlot } from './session-slot.js';
import { LOOPBACK_NETWORKS } from '../net/ip-allow.js';
import { socketTag } from '../net/socket-tags.js';

/** What the path services need from the router. */
export interface HttpPathHost {
  readonly log: Logger;
  readonly metrics: RouterMetrics;
  /** False before start() and once stop() began: bridge and info requests get 503. */
  readonly ready: boolean;
  /** Bound port per listener id. */
  ports(): Record<string, number>;
  localSession(realm: string, opts: { authid?: string; authrole?: string }): Promise<LocalSession>;
  /** The Prometheus exposition text. */
  metricsText(): Promise<string>;
}

/**
 * The listener a request came in on: the one that accepted its socket, or
 * (a socket no listener tagged: an embedder's own server) any listener bound
 * to the request's local port.
 */
export function listenersOf(req: Request, host: { ports(): Record<string, number> }): string[] {
  const tag = socketTag(req.socket);
  if (tag !== undefined) return [tag.listener];
  const port = req.socket.localPort;
  return Object.entries(host.ports()).filter(([, p]) => p === port && p !== 0).map(([id]) => id);
}

/** Most channels one `/info` request may ask about. */
export const MAX_INFO_CHANNELS = 100;

type Handler = (req: IncomingMessage, body: Buffer, query: URLSearchParams) => Promise<{ status: number; body: unknown; contentType?: string }>;

interface Service {
  type: HttpPathConfig['type'];
  /** Needs the router's sessions (refused with 503 while the router is not ready). */
  usesSessions: boolean;
  methods: readonly string[];
  guard: RequestGuard;
  handle: Handler;
  close(): void;
}

function json(status: number, body: unknown): { status: number; body: unknown } {
  return { status, body };
}

/** The answer for a publish or call that failed: its WAMP error, or 503 if the session ended under it. */
function wampFailure(e: unknown): { status: number; body: unknown } {
  if (e instanceof WampError) return json(statusForWampError(e.uri), { error: e.uri, args: e.args, kwargs: e.kwargs ?? {} });
  // LocalSession rejects with a plain Error when the session ended (killed, router stopping).
  throw new HttpError(503, HttpErrors.unavailable, `the bridge's session ended during the request: ${(e as Error)?.message ?? String(e)}`, { 'retry-after': '1' });
}

/** The path's session; a failure to open it (say, its role was removed) is the router's problem, not the client's. */
async function sessionOf(slot: SessionSlot): Promise<LocalSession> {
  try {
    return await slot.get();
  } catch (e) {
    throw new HttpError(503, HttpErrors.unavailable, `the HTTP bridge's session could not join its realm: ${(e as Error).message}`);
  }
}

function bridge(host: HttpPathHost, c: BridgePathConfig): Service {
  const slot = new SessionSlot(() => host.localSession(c.realm, { authid: c.authid, authrole: c.role }));
  const handle: Handler = async (_req, raw) => {
    const body = parseJsonObject(raw);
    if (c.type === 'publisher') {
      const p = publishRequest(body);
      const session = await sessionOf(slot);
      try {
        return json(200, { id: await session.publish(p.topic, p.args, p.kwargs, p.options) });
      } catch (e) { return wampFailure(e); }
    }
    const r = callRequest(body, c.callTimeoutMs);
    const session = await sessionOf(slot);
    try {
      const result = await session.call(r.procedure, r.args, r.kwargs, r.options);
      return json(200, { args: result.args, kwargs: result.kwargs });
    } catch (e) { return wampFailure(e); }
  };
  return { type: c.type, usesSessions: true, methods: ['POST', 'PUT'], guard: new RequestGuard(c.guard), handle, close: () => slot.close() };
}

/** Channel names from `?channels=a,b` (repeatable) or a JSON body `{"channels": [...]}` (channelstream's POST /info). */
export function infoChannels(method: string, query: URLSearchParams, raw: Buffer): string[] {
  let channels: string[];
  if (method === 'GET') {
    channels = query.getAll('channels').flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  } else {
    const body = parseJsonObject(raw);
    if (!Array.isArray(body.channels) || !body.channels.every((c) => typeof c === 'string' && c !== '')) {
      throw new HttpError(400, HttpErrors.invalidBody, '"channels" must be a list of topic URIs');
    }
    channels = body.channels as string[];
  }
  if (channels.length === 0) throw new HttpError(400, HttpErrors.missingParameter, 'name the topics: ?channels=a,b');
  if (channels.length > MAX_INFO_CHANNELS) throw new HttpError(400, HttpErrors.invalidParameter, `at most ${MAX_INFO_CHANNELS} channels per request`);
  return [...new Set(channels)];
}

function info(host: HttpPathHost, c: InfoPathConfig): Service {
  const slot = new SessionSlot(() => host.localSession(c.realm, { authid: 'http-info', ...(c.role !== undefined ? { authrole: c.role } : {}) }));
  const handle: Handler = async (req, raw, query) => {
    const channels = infoChannels(req.method ?? 'GET', query, raw);
    const session = await sessionOf(slot);
    const out: Dict = {};
    try {
      for (const topic of channels) {
        // Through the meta API, so the path's role needs `call` on wamp.subscription.* (implicit for `trusted`).
        const id = (await session.call('wamp.subscription.lookup', [topic])).args[0];
        let subscribers = 0;
        if (typeof id === 'number') {
          try {
            subscribers = (await session.call('wamp.subscription.count_subscribers', [id])).args[0] as number;
          } catch (e) {
            // Gone between the two calls: nobody is subscribed any more.
            if (!(e instanceof WampError && e.uri === WampErrors.noSuchSubscription)) throw e;
          }
        }
        out[topic] = { name: topic, subscribers };
      }
    } catch (e) { return wampFailure(e); }
    return json(200, { realm: c.realm, channels: out });
  };
  return { type: 'info', usesSessions: true, methods: ['GET', 'POST'], guard: new RequestGuard(c.guard), handle, close: () => slot.close() };
}

function metrics(host: HttpPathHost, guard: RequestGuard): Service {
  const handle: Handler = async () => ({ status: 200, body: await host.metricsText(), contentType: PROMETHEUS_CONTENT_TYPE });
  return { type: 'metrics', usesSessions: false, methods: ['GET'], guard, handle, close: () => {} };
}

function service(host: HttpPathHost, c: HttpPathConfig): Service {
  switch (c.type) {
    case 'publisher':
    case 'caller': return bridge(host, c);
    case 'info': return info(host, c);
    case 'metrics': return metrics(host, new RequestGuard(c.guard));
  }
}

/** The default `/metrics`: every web listener, loopback clients only. */
export const DEFAULT_METRICS_GUARD = {
  postBodyLimit: DEFAULT_POST_BODY_LIMIT,
  timestampDeltaLimitS: DEFAULT_TIMESTAMP_DELTA_LIMIT_S,
  requireIp: LOOPBACK_NETWORKS,
  requireTls: false,
};

export class HttpPaths {
  /** listener id → path → service */
  private readonly byListener = new Map<string, Map<string, Service>>();
  private readonly defaultMetrics: Service | undefined;

  constructor(private readonly host: HttpPathHost, paths: readonly HttpPathConfig[], defaultMetrics: boolean) {
    for (const c of paths) {
      let m = this.byListener.get(c.listener);
      if (m === undefined) { m = new Map(); this.byListener.set(c.listener, m); }
      if (m.has(c.path)) throw new Error(`listener "${c.listener}" has two HTTP services at ${c.path}`);
      m.set(c.path, service(host, c));
    }
    this.defaultMetrics = defaultMetrics ? metrics(host, new RequestGuard(DEFAULT_METRICS_GUARD)) : undefined;
  }

  /** Express middleware: serves configured paths, passes everything else on. */
  readonly middleware: RequestHandler = (req: Request, res: Response, next: NextFunction): void => {
    const s = this.find(req);
    if (s === undefined) { next(); return; }
    void this.serve(s, req, res);
  };

  private find(req: Request): Service | undefined {
    for (const id of listenersOf(req, this.host)) {
      const s = this.byListener.get(id)?.get(req.path);
      if (s !== undefined) return s;
    }
    return req.path === DEFAULT_METRICS_PATH ? this.defaultMetrics : undefined;
  }

  private async serve(s: Service, req: Request, res: Response): Promise<void> {
    const facts = requestFacts(req);
    let status = 500;
    try {
      if (req.method === 'OPTIONS') {
        status = 204;
        res.status(204).set('allow', [...s.methods, 'OPTIONS'].join(', ')).end();
        return;
      }
      if (!s.methods.includes(req.method)) {
        throw new HttpError(405, HttpErrors.methodNotAllowed, `method ${req.method} not allowed here (allowed: ${s.methods.join(', ')})`, { allow: s.methods.join(', ') });
      }
      s.guard.admit(facts);
      if (s.usesSessions && !this.host.ready) throw new HttpError(503, HttpErrors.unavailable, 'the router is not ready (starting or stopping)', { 'retry-after': '1' });
      const body = req.method === 'GET' ? Buffer.alloc(0) : await readBody(req, s.guard.config.postBodyLimit);
      s.guard.verify(facts.query, body);
      const out = await s.handle(req, body, facts.query);
      status = out.status;
      res.status(out.status).set('cache-control', 'no-store');
      if (out.contentType !== undefined) res.type(out.contentType).send(out.body);
      else res.json(out.body);
      this.host.log.debug({ http: s.type, path: req.path, status, peer: facts.remoteAddress }, 'http request served');
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, HttpErrors.internal, 'internal error');
      if (!(e instanceof HttpError)) this.host.log.error({ err: e, http: s.type, path: req.path }, 'internal error in an HTTP path service');
      status = err.status;
      // 401/403 are someone trying what they may not: worth a warning, as refused WAMP logins are.
      const level = status === 401 || status === 403 ? 'warn' : 'info';
      this.host.log[level]({ http: s.type, path: req.path, status, error: err.uri, reason: err.message, peer: facts.remoteAddress }, 'http request refused');
      if (!res.headersSent) res.status(err.status).set({ ...err.headers, 'cache-control': 'no-store' }).json(err.body());
    } finally {
      this.host.metrics.httpRequest(s.type, status);
    }
  }

  /** Ends the in-process sessions the services opened. */
  close(): void {
    for (const m of this.byListener.values()) for (const s of m.values()) s.close();
  }
}
