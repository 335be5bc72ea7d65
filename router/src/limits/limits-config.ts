// Limits as configured: their types, production defaults, and the zod
// schemas for the Crossbar-format config keys (all ClawGate extensions but
// max_message_size):
//
//   realm      options.limits: session limits (below) plus the realm's own:
//                max_sessions, max_total_subscriptions, max_total_registrations,
//                max_uri_length, max_retained, max_retained_size, max_retained_bytes,
//                max_filters_per_topic, max_total_filters, max_filter_length, max_filter_nodes,
//                max_filter_scans, max_total_persistent, max_persistent_events,
//                max_persistent_bytes, max_total_persistent_bytes, max_persistent_age,
//                persistent_ttl, max_persistent_ttl
//   role       limits: the session limits (override the realm's), reserved_sessions
//   session limits: max_sessions_per_authid, max_sessions_per_address,
//                publish_rate, call_rate, subscribe_rate, register_rate ({rate, burst}),
//                max_pending_calls, max_subscriptions, max_registrations, max_testaments,
//                max_persistent_per_authid
//   endpoint   options: hello_timeout (ms), max_send_buffer, max_handshake_size,
//                max_message_elements, max_message_depth
//   transport  limits: max_connections, max_connections_per_address,
//                max_http_connections, http_request_timeout, http_keep_alive_timeout,
//                http_idle_timeout
//   router worker options.memory: heap_high_watermark, heap_low_watermark, check_interval
//
// `null` switches a limit off. Bad values are config errors naming the key
// (the schemas are parsed with the JSON path of where they sit).
import { z } from 'zod';
import type { RateLimit } from './token-bucket.js';
import { DEFAULT_MAX_MESSAGE_DEPTH, DEFAULT_MAX_MESSAGE_ELEMENTS, type DecodeLimits } from '../serializers/serializer.js';

/** Limits on one session's own traffic and holdings. `null`: no limit. */
export interface SessionLimits {
  publishRate: RateLimit | null;
  callRate: RateLimit | null;
  /** SUBSCRIBE and UNSUBSCRIBE share one bucket. */
  subscribeRate: RateLimit | null;
  /** REGISTER and UNREGISTER share one bucket. */
  registerRate: RateLimit | null;
  maxPendingCalls: number | null;
  /** Subscriptions one session holds at once. */
  maxSubscriptions: number | null;
  /** Registrations one session holds at once. */
  maxRegistrations: number | null;
  /** Testaments (wamp.session.add_testament) one session holds at once. */
  maxTestaments: number | null;
  /** Sessions with the same authid at once (authenticated sessions only). */
  maxSessionsPerAuthid: number | null;
  /** Sessions on the realm from one client address at once (the forwarded client behind trusted proxies). */
  maxSessionsPerAddress: number | null;
  /** Persistent subscriptions (x_persistent) one authid holds, decided by the role of the session creating one; 0: none. */
  maxPersistentPerAuthid: number | null;
}

export interface RealmLimits extends SessionLimits {
  maxSessions: number | null;
  /** Subscriptions held by all remote sessions of the realm together (one per session and topic pattern). */
  maxTotalSubscriptions: number | null;
  /** Registrations held by all remote sessions of the realm together. */
  maxTotalRegistrations: number | null;
  /** Characters of any URI a client sends: topics, procedures, patterns, error URIs. */
  maxUriLength: number;
  /** Topics with a retained event. */
  maxRetained: number | null;
  /** Bytes of one retained event (the PUBLISH as it arrived). */
  maxRetainedSize: number | null;
  /** Bytes of all retained events together. */
  maxRetainedBytes: number | null;
  /** Subscriptions with an event filter (x_filter) on one (topic, match): each is one evaluation per publication. */
  maxFiltersPerTopic: number | null;
  /** Subscriptions with an event filter on the realm (each holds its compiled filter, up to ~20 KB). */
  maxTotalFilters: number | null;
  /** Characters of one event filter expression. */
  maxFilterLength: number;
  /** Nodes of one event filter's syntax tree (what evaluating it can cost besides its scans). */
  maxFilterNodes: number;
  /** Operations of one event filter that may walk a whole value of the event (broker/content-filter.ts). */
  maxFilterScans: number;
  /** Persistent subscriptions on the realm (broker/persistent-subscriptions.ts). */
  maxTotalPersistent: number | null;
  /** Events one persistent subscription keeps while detached (the oldest go first). */
  maxPersistentEvents: number;
  /** Bytes of the events one persistent subscription keeps while detached (the oldest go first). */
  maxPersistentBytes: number;
  /** Bytes of the events all persistent subscriptions of the realm keep together. */
  maxTotalPersistentBytes: number | null;
  /** Seconds a kept event lives (it never outlives its subscription's ttl either). */
  maxPersistentAgeSeconds: number;
  /** Seconds a detached persistent subscription lives when its SUBSCRIBE named no ttl. */
  persistentTtlSeconds: number;
  /** The longest ttl a SUBSCRIBE may ask for, in seconds. */
  maxPersistentTtlSeconds: number;
  /** Per-role overrides of the session limits, by role name. */
  roles: Record<string, SessionLimits>;
  /** Sessions kept free for a role, by role name: other roles can't take them. */
  reserved: Record<string, number>;
}

/** Per listener endpoint (a WebSocket path or the RawSocket block). */
export interface EndpointLimits {
  /** ms from TCP accept until HELLO (includes the TLS, WebSocket or RawSocket handshake). */
  helloTimeoutMs: number;
  /** Unsent bytes queued for one peer before it is dropped as a slow consumer. */
  maxSendBuffer: number;
  /** Bytes of one message before the session is established (HELLO, AUTHENTICATE). */
  maxHandshakeSize: number;
  /** Values and nesting of one message, checked before it is decoded. */
  decode: DecodeLimits;
  /** Pings to connections the router has not heard from (transport/liveness.ts); null: none. */
  liveness: LivenessConfig | null;
}

/** auto_ping_interval / auto_ping_timeout / auto_ping_size (Crossbar's keys). */
export interface LivenessConfig {
  /** ms without hearing from the peer before it is pinged. */
  intervalMs: number;
  /** ms after a ping without hearing anything before the connection is dropped (Infinity: never). */
  timeoutMs: number;
  /** The ping payload (auto_ping_size bytes). */
  payload: Buffer;
}

/** Crossbar's default auto_ping_size. */
export const DEFAULT_AUTO_PING_SIZE = 4;

/** Per listener (one TCP port). */
export interface ListenerLimits {
  /** Open TCP connections (including ones still in the TLS, RawSocket or HTTP handshake). */
  maxConnections: number | null;
  /** Open connections from one client address (the forwarded client behind trusted proxies). */
  maxConnectionsPerAddress: number | null;
  /** Connections serving plain HTTP requests (not upgraded to WebSocket). */
  maxHttpConnections: number | null;
  /** ms from a request's headers until its body has arrived in full. */
  httpRequestTimeoutMs: number;
  /** ms after a response for the next request's headers to arrive on a kept-alive connection. */
  httpKeepAliveTimeoutMs: number;
  /** ms without a byte either way on a connection serving plain HTTP (a response the app never finishes, say). */
  httpIdleTimeoutMs: number;
}

/** When the router refuses new work because the V8 heap is nearly full (limits/memory-pressure.ts). */
export interface MemoryLimits {
  /** Fraction of V8's heap limit above which new work is refused. */
  heapHighWatermark: number;
  /** Fraction below which it is accepted again (hysteresis). */
  heapLowWatermark: number;
  /** ms between heap checks. */
  checkIntervalMs: number;
}

export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_SEND_BUFFER = 4 * 1024 * 1024;
/**
 * 256 KiB. A message of this size decodes in about 1–4 ms at worst
 * (MessagePack's short strings, JSON's base64 binary; measured on the 2-core
 * CI VM under load: docs/security.md, "Message size"); 16 MiB, the old
 * default, took 0.2–5 s.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024;
/** HELLO with a signed ticket and cryptosign's authextra is under 2 KiB; this leaves room for big roles dicts. */
export const DEFAULT_MAX_HANDSHAKE_SIZE = 16 * 1024;

/**
 * Production defaults. A player steering the claw publishes a few tens of
 * messages a second at most; the backend and claw nodes make a handful of
 * calls per turn and hold a few dozen subscriptions and registrations. These
 * leave an order of magnitude of headroom for honest clients while capping
 * what one session can make the router do and hold.
 */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  publishRate: { rate: 100, burst: 200 },
  callRate: { rate: 100, burst: 200 },
  subscribeRate: { rate: 50, burst: 500 },
  registerRate: { rate: 50, burst: 500 },
  maxPendingCalls: 128,
  maxSubscriptions: 1000,
  maxRegistrations: 1000,
  maxTestaments: 16,
  maxSessionsPerAuthid: 16,
  maxSessionsPerAddress: 100,
  maxPersistentPerAuthid: 8,
};

export const DEFAULT_MAX_SESSIONS = 10_000;
export const DEFAULT_MAX_URI_LENGTH = 512;
/** The most a config may allow in one event filter: the parser itself stops there (broker/content-filter.ts). */
export const MAX_FILTER_NODES = 1000;
export const MAX_FILTER_LENGTH = 64 * 1024;
export const MAX_FILTER_SCANS = 64;
/** The most events max_persistent_events may allow per persistent subscription (each up to max_message_size). */
export const MAX_PERSISTENT_EVENTS = 10_000;
/** The longest max_persistent_ttl and max_persistent_age: a timer of node's can wait at most ~24.8 days. */
export const MAX_PERSISTENT_SECONDS = 2_000_000;

export const DEFAULT_REALM_LIMITS: RealmLimits = {
  ...DEFAULT_SESSION_LIMITS,
  maxSessions: DEFAULT_MAX_SESSIONS,
  maxTotalSubscriptions: 100_000,
  maxTotalRegistrations: 10_000,
  maxUriLength: DEFAULT_MAX_URI_LENGTH,
  maxRetained: 10_000,
  maxRetainedSize: 64 * 1024,
  maxRetainedBytes: 64 * 1024 * 1024,
  maxFiltersPerTopic: 100,
  maxTotalFilters: 10_000,
  maxFilterLength: 1000,
  maxFilterNodes: 64,
  maxFilterScans: 2,
  maxTotalPersistent: 10_000,
  maxPersistentEvents: 100,
  maxPersistentBytes: 256 * 1024,
  maxTotalPersistentBytes: 64 * 1024 * 1024,
  maxPersistentAgeSeconds: 3600,
  persistentTtlSeconds: 300,
  maxPersistentTtlSeconds: 86_400,
  roles: {},
  reserved: {},
};

export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  maxConnections: 20_000,
  maxConnectionsPerAddress: 128,
  maxHttpConnections: 1000,
  httpRequestTimeoutMs: 10_000,
  httpKeepAliveTimeoutMs: 5000,
  httpIdleTimeoutMs: 60_000,
};

export const DEFAULT_MEMORY_LIMITS: MemoryLimits = {
  heapHighWatermark: 0.85,
  heapLowWatermark: 0.85 * 0.9,
  checkIntervalMs: 1000,
};

/** Without an explicit low watermark: 90% of the high one. */
const lowFor = (high: number): number => high * 0.9;

/** No limits at all (in-process sessions; embedders that want none). */
export const NO_SESSION_LIMITS: SessionLimits = {
  publishRate: null, callRate: null, subscribeRate: null, registerRate: null, maxPendingCalls: null,
  maxSubscriptions: null, maxRegistrations: null, maxTestaments: null, maxSessionsPerAuthid: null, maxSessionsPerAddress: null,
  maxPersistentPerAuthid: null,
};

const Count = z.number().int().positive().nullable();
const Rate = z.object({
  rate: z.number().positive().finite(),
  burst: z.number().int().positive(),
}).strict().nullable();

const sessionKeys = {
  publish_rate: Rate.optional(),
  call_rate: Rate.optional(),
  subscribe_rate: Rate.optional(),
  register_rate: Rate.optional(),
  max_pending_calls: Count.optional(),
  max_subscriptions: Count.optional(),
  max_registrations: Count.optional(),
  max_testaments: Count.optional(),
  max_sessions_per_authid: Count.optional(),
  max_sessions_per_address: Count.optional(),
  // 0 is a value here: the role may hold no persistent subscriptions at all.
  max_persistent_per_authid: z.number().int().nonnegative().nullable().optional(),
};

export const RoleLimitsSchema = z.object({
  ...sessionKeys,
  reserved_sessions: z.number().int().nonnegative().optional(),
}).strict();
export const RealmLimitsSchema = z.object({
  ...sessionKeys,
  max_sessions: Count.optional(),
  max_total_subscriptions: Count.optional(),
  max_total_registrations: Count.optional(),
  max_uri_length: z.number().int().positive().optional(),
  max_retained: Count.optional(),
  max_retained_size: Count.optional(),
  max_retained_bytes: Count.optional(),
  max_filters_per_topic: Count.optional(),
  max_total_filters: Count.optional(),
  max_filter_length: z.number().int().positive().max(MAX_FILTER_LENGTH).optional(),
  max_filter_nodes: z.number().int().positive().max(MAX_FILTER_NODES).optional(),
  max_filter_scans: z.number().int().nonnegative().max(MAX_FILTER_SCANS).optional(),
  max_total_persistent: Count.optional(),
  max_persistent_events: z.number().int().positive().max(MAX_PERSISTENT_EVENTS).optional(),
  max_persistent_bytes: z.number().int().positive().optional(),
  max_total_persistent_bytes: Count.optional(),
  max_persistent_age: z.number().int().positive().max(MAX_PERSISTENT_SECONDS).optional(),
  persistent_ttl: z.number().int().positive().max(MAX_PERSISTENT_SECONDS).optional(),
  max_persistent_ttl: z.number().int().positive().max(MAX_PERSISTENT_SECONDS).optional(),
}).strict().refine(
  (l) => l.persistent_ttl === undefined || l.persistent_ttl <= (l.max_persistent_ttl ?? DEFAULT_REALM_LIMITS.maxPersistentTtlSeconds),
  { message: 'persistent_ttl (the default ttl) must not be longer than max_persistent_ttl', path: ['persistent_ttl'] },
);

export type RoleLimitsInput = z.infer<typeof RoleLimitsSchema>;
export type RealmLimitsInput = z.infer<typeof RealmLimitsSchema>;

/** `undefined` keeps the fallback, `null` switches the limit off. */
function pick<T>(v: T | null | undefined, fallback: T | null): T | null {
  return v === undefined ? fallback : v;
}

export function sessionLimits(input: Omit<RoleLimitsInput, 'reserved_sessions'> | undefined, base: SessionLimits): SessionLimits {
  return {
    publishRate: pick(input?.publish_rate, base.publishRate),
    callRate: pick(input?.call_rate, base.callRate),
    subscribeRate: pick(input?.subscribe_rate, base.subscribeRate),
    registerRate: pick(input?.register_rate, base.registerRate),
    maxPendingCalls: pick(input?.max_pending_calls, base.maxPendingCalls),
    maxSubscriptions: pick(input?.max_subscriptions, base.maxSubscriptions),
    maxRegistrations: pick(input?.max_registrations, base.maxRegistrations),
    maxTestaments: pick(input?.max_testaments, base.maxTestaments),
    maxSessionsPerAuthid: pick(input?.max_sessions_per_authid, base.maxSessionsPerAuthid),
    maxSessionsPerAddress: pick(input?.max_sessions_per_address, base.maxSessionsPerAddress),
    maxPersistentPerAuthid: pick(input?.max_persistent_per_authid, base.maxPersistentPerAuthid),
  };
}

/** The realm's limits from its `options.limits` and its roles' `limits`. */
export function realmLimits(input: RealmLimitsInput | undefined, roles: Record<string, RoleLimitsInput | undefined>): RealmLimits {
  const base = sessionLimits(input, DEFAULT_SESSION_LIMITS);
  const byRole: Record<string, SessionLimits> = {};
  const reserved: Record<string, number> = {};
  for (const [name, r] of Object.entries(roles)) {
    if (r === undefined) continue;
    byRole[name] = sessionLimits(r, base);
    if (r.reserved_sessions !== undefined && r.reserved_sessions > 0) reserved[name] = r.reserved_sessions;
  }
  const d = DEFAULT_REALM_LIMITS;
  return {
    ...base,
    maxSessions: pick(input?.max_sessions, d.maxSessions),
    maxTotalSubscriptions: pick(input?.max_total_subscriptions, d.maxTotalSubscriptions),
    maxTotalRegistrations: pick(input?.max_total_registrations, d.maxTotalRegistrations),
    maxUriLength: input?.max_uri_length ?? d.maxUriLength,
    maxRetained: pick(input?.max_retained, d.maxRetained),
    maxRetainedSize: pick(input?.max_retained_size, d.maxRetainedSize),
    maxRetainedBytes: pick(input?.max_retained_bytes, d.maxRetainedBytes),
    maxFiltersPerTopic: pick(input?.max_filters_per_topic, d.maxFiltersPerTopic),
    maxTotalFilters: pick(input?.max_total_filters, d.maxTotalFilters),
    maxFilterLength: input?.max_filter_length ?? d.maxFilterLength,
    maxFilterNodes: input?.max_filter_nodes ?? d.maxFilterNodes,
    maxFilterScans: input?.max_filter_scans ?? d.maxFilterScans,
    maxTotalPersistent: pick(input?.max_total_persistent, d.maxTotalPersistent),
    maxPersistentEvents: input?.max_persistent_events ?? d.maxPersistentEvents,
    maxPersistentBytes: input?.max_persistent_bytes ?? d.maxPersistentBytes,
    maxTotalPersistentBytes: pick(input?.max_total_persistent_bytes, d.maxTotalPersistentBytes),
    maxPersistentAgeSeconds: input?.max_persistent_age ?? d.maxPersistentAgeSeconds,
    // Unset, the default ttl is never longer than a lowered max_persistent_ttl.
    persistentTtlSeconds: input?.persistent_ttl ?? Math.min(d.persistentTtlSeconds, input?.max_persistent_ttl ?? d.maxPersistentTtlSeconds),
    maxPersistentTtlSeconds: input?.max_persistent_ttl ?? d.maxPersistentTtlSeconds,
    roles: byRole,
    reserved,
  };
}

/** Sessions reserved on the realm altogether (for the config check against max_sessions). */
export function totalReserved(limits: RealmLimits): number {
  let n = 0;
  for (const v of Object.values(limits.reserved)) n += v;
  return n;
}

export const EndpointLimitKeys = {
  /** ms from connect until HELLO (ClawGate). */
  hello_timeout: z.number().int().positive().optional(),
  /** bytes of unsent data before a peer is dropped as a slow consumer (ClawGate). */
  max_send_buffer: z.number().int().positive().optional(),
  /** bytes of one message before WELCOME (ClawGate). */
  max_handshake_size: z.number().int().positive().optional(),
  /** values in one message (ClawGate). */
  max_message_elements: z.number().int().positive().optional(),
  /** nesting of one message (ClawGate). */
  max_message_depth: z.number().int().min(2).max(1000).optional(),
  /** ms without hearing from a peer before it is pinged; 0 or absent: no pings (Crossbar). */
  auto_ping_interval: z.number().int().nonnegative().optional(),
  /** ms after a ping before a silent peer is dropped; 0 or absent: never dropped (Crossbar). */
  auto_ping_timeout: z.number().int().nonnegative().optional(),
  /** bytes of the ping payload, 4 to 125 (Crossbar; a WebSocket control frame holds 125). */
  auto_ping_size: z.number().int().min(4).max(125).optional(),
};

export type EndpointLimitsInput = {
  hello_timeout?: number | undefined;
  max_send_buffer?: number | undefined;
  max_handshake_size?: number | undefined;
  max_message_elements?: number | undefined;
  max_message_depth?: number | undefined;
  auto_ping_interval?: number | undefined;
  auto_ping_timeout?: number | undefined;
  auto_ping_size?: number | undefined;
};

export function endpointLimits(options: EndpointLimitsInput | undefined): EndpointLimits {
  return {
    helloTimeoutMs: options?.hello_timeout ?? DEFAULT_HELLO_TIMEOUT_MS,
    maxSendBuffer: options?.max_send_buffer ?? DEFAULT_MAX_SEND_BUFFER,
    maxHandshakeSize: options?.max_handshake_size ?? DEFAULT_MAX_HANDSHAKE_SIZE,
    decode: {
      maxElements: options?.max_message_elements ?? DEFAULT_MAX_MESSAGE_ELEMENTS,
      maxDepth: options?.max_message_depth ?? DEFAULT_MAX_MESSAGE_DEPTH,
    },
    liveness: livenessConfig(options),
  };
}

function livenessConfig(options: EndpointLimitsInput | undefined): LivenessConfig | null {
  const interval = options?.auto_ping_interval ?? 0;
  if (interval === 0) return null;
  const timeout = options?.auto_ping_timeout ?? 0;
  // A payload of its own per endpoint; what it holds does not matter (any answer counts).
  const payload = Buffer.alloc(options?.auto_ping_size ?? DEFAULT_AUTO_PING_SIZE);
  payload.write('claw'.repeat(32).slice(0, payload.length));
  return { intervalMs: interval, timeoutMs: timeout === 0 ? Infinity : timeout, payload };
}

export const ListenerLimitsSchema = z.object({
  max_connections: Count.optional(),
  max_connections_per_address: Count.optional(),
  max_http_connections: Count.optional(),
  http_request_timeout: z.number().int().positive().optional(),
  http_keep_alive_timeout: z.number().int().positive().optional(),
  http_idle_timeout: z.number().int().positive().optional(),
}).strict();

export function listenerLimits(input: z.infer<typeof ListenerLimitsSchema> | undefined): ListenerLimits {
  const d = DEFAULT_LISTENER_LIMITS;
  return {
    maxConnections: pick(input?.max_connections, d.maxConnections),
    maxConnectionsPerAddress: pick(input?.max_connections_per_address, d.maxConnectionsPerAddress),
    maxHttpConnections: pick(input?.max_http_connections, d.maxHttpConnections),
    httpRequestTimeoutMs: input?.http_request_timeout ?? d.httpRequestTimeoutMs,
    httpKeepAliveTimeoutMs: input?.http_keep_alive_timeout ?? d.httpKeepAliveTimeoutMs,
    httpIdleTimeoutMs: input?.http_idle_timeout ?? d.httpIdleTimeoutMs,
  };
}

const Fraction = z.number().gt(0).lt(1);
export const MemoryLimitsSchema = z.object({
  heap_high_watermark: Fraction.optional(),
  heap_low_watermark: Fraction.optional(),
  check_interval: z.number().int().positive().optional(),
}).strict().refine(
  (m) => m.heap_low_watermark === undefined || m.heap_low_watermark < (m.heap_high_watermark ?? DEFAULT_MEMORY_LIMITS.heapHighWatermark),
  { message: 'heap_low_watermark must be below heap_high_watermark', path: ['heap_low_watermark'] },
).nullable();

/** `null`: no memory watermark (the router never refuses work for memory). */
export function memoryLimits(input: z.infer<typeof MemoryLimitsSchema> | undefined): MemoryLimits | null {
  if (input === null) return null;
  const d = DEFAULT_MEMORY_LIMITS;
  const high = input?.heap_high_watermark ?? d.heapHighWatermark;
  return {
    heapHighWatermark: high,
    heapLowWatermark: input?.heap_low_watermark ?? lowFor(high),
    checkIntervalMs: input?.check_interval ?? d.checkIntervalMs,
  };
}
