// Reads a Crossbar.io node config (version 2) into our RouterConfig. A user's
// existing `.crossbar/config.json` runs unchanged for the parts we support;
// keys we don't act on are named in one warning (down to transport options
// and endpoints; role permissions' `cache` is accepted since we always cache
// decisions); a malformed value stops
// the start with the JSON path of the bad key.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { RouterConfig } from '../router.js';
import type { RealmConfig } from '../realm/realm.js';
import type { Permission } from '../auth/permissions.js';
import type { ListenerConfig, WebSocketEndpointConfig, RawSocketEndpointConfig } from '../transport/listener.js';
import { TrustedProxies, trustedProxyError } from '../net/forwarded.js';
import { ConfigError } from '../config-error.js';
import { isValidPattern } from '../uri.js';
import { authPolicy, type SecretSources } from './auth-config.js';
import { unknownKeys } from '../unknown-keys.js';
import { checkRoleRefs, policyRoleRefs, type RoleRef } from './role-refs.js';
import type { AuthPolicy } from '../auth/auth-policy.js';
import { templateError } from '../auth/uri-template.js';
import type { HistoryEntryConfig } from '../broker/event-history.js';
import type { HistoryStoreConfig } from '../broker/history-store.js';
/** The most events one event-history entry may keep (each up to max_message_size). */
const MAX_HISTORY_LIMIT = 10_000;
/** Crossbar's per-entry default when neither the entry nor the store sets `limit`. */
const DEFAULT_HISTORY_LIMIT = 100;

import type { SerializerId } from '../serializers/index.js';
import {
  DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_URI_LENGTH, EndpointLimitKeys, ListenerLimitsSchema, MemoryLimitsSchema, RealmLimitsSchema, RoleLimitsSchema,
  endpointLimits, listenerLimits, memoryLimits, realmLimits, totalReserved, type MemoryLimits,
} from '../limits/limits-config.js';
import { TLS_KEYS, TlsSection, loadTls } from '../transport/tls-options.js';
import { checkHttpRealms, httpPath, isHttpPathType, type HttpPathConfig } from '../http/http-config.js';
import { isWebResourceType, webResource, type WebResourceConfig } from '../http/web-resources.js';
import { guestWorker, type GuestConfig } from '../guest/guest-config.js';
import { ClusterSchema, clusterConfig, type ClusterConfig, type ClusterOverrides, type ClusterSection } from '../cluster/cluster-config.js';

export { ConfigError };

export { DEFAULT_MAX_MESSAGE_SIZE };

const Serializers = z.array(z.string()).optional();

const TcpEndpoint = z.object({
  type: z.literal('tcp'),
  port: z.number().int().min(0).max(65535),
  interface: z.string().optional(),
  host: z.string().optional(),
  version: z.union([z.literal(4), z.literal(6)]).optional(),
  backlog: z.number().int().optional(),
  shared: z.boolean().optional(),
  tls: TlsSection.optional(),
}).passthrough();
/** Crossbar's Unix-domain socket endpoint: `path` relative to the node directory (here: the config file's folder). */
const UnixEndpoint = z.object({
  type: z.literal('unix'),
  path: z.string().min(1),
  tls: TlsSection.optional(),
}).passthrough();
const Endpoint = z.discriminatedUnion('type', [TcpEndpoint, UnixEndpoint]);

const TransportOptions = z.object({
  max_message_size: z.number().int().positive().optional(),
  /** ms from HELLO until authenticated (ClawGate). */
  auth_timeout: z.number().int().positive().optional(),
  compression: z.unknown().optional(),
  ...EndpointLimitKeys,
}).passthrough();

const Auth = z.record(z.string(), z.object({ type: z.string().optional(), role: z.string().optional() }).passthrough());

const WebSocketPath = z.object({
  type: z.literal('websocket'),
  serializers: Serializers,
  options: TransportOptions.optional(),
  auth: Auth.optional(),
}).passthrough();

const Permission_ = z.object({
  uri: z.string(),
  match: z.enum(['exact', 'prefix', 'wildcard']).optional(),
  allow: z.object({
    call: z.boolean().optional(),
    register: z.boolean().optional(),
    publish: z.boolean().optional(),
    subscribe: z.boolean().optional(),
    /** ClawGate: may publications be retained (default: as publish). */
    retain: z.boolean().optional(),
  }).passthrough().optional(),
  disclose: z.object({ caller: z.boolean().optional(), publisher: z.boolean().optional() }).passthrough().optional(),
  cache: z.boolean().optional(),
  /** ClawGate: largest PUBLISH under this permission, in bytes. */
  max_publication_size: z.number().int().positive().optional(),
}).passthrough();

const Role = z.object({
  name: z.string().min(1),
  permissions: z.array(Permission_).optional(),
  authorizer: z.string().min(1).optional(),
  /** Crossbar: a role with neither permissions nor an authorizer allows everything when true. */
  'allow-by-default': z.boolean().optional(),
  /** Per-role overrides of the realm's session limits (ClawGate). */
  limits: RoleLimitsSchema.optional(),
}).passthrough();

/** Crossbar's realm `store` section: which topics keep how many events (wamp.subscription.get_events). */
const Store = z.object({
  type: z.string(),
  /** ClawGate, type sqlite: the file, relative to the config file's directory. */
  path: z.string().min(1).optional(),
  /** Events per event-history entry unless it says (Crossbar's store-wide default). */
  limit: z.number().int().positive().max(MAX_HISTORY_LIMIT).optional(),
  /** ClawGate: the most events one wamp.subscription.get_events answer carries, whatever limit it asks for. */
  max_events_per_read: z.number().int().positive().max(MAX_HISTORY_LIMIT).optional(),
  'event-history': z.array(z.object({
    uri: z.string(),
    match: z.enum(['exact', 'prefix', 'wildcard']).optional(),
    limit: z.number().int().positive().max(MAX_HISTORY_LIMIT).optional(),
  }).passthrough()).optional(),
}).passthrough();

const Realm_ = z.object({
  name: z.string().min(1),
  roles: z.array(Role).optional(),
  store: Store.optional(),
  options: z.object({
    uri_check: z.enum(['strict', 'loose']).optional(),
    /** ms the router waits for a dynamic authorizer before denying (ClawGate). */
    authorizer_timeout: z.number().int().positive().optional(),
    /** Accept request ids out of sequence, for clients that number their requests otherwise (ClawGate; default false). */
    legacy_request_ids: z.boolean().optional(),
    /** Session counts and per-session limits (ClawGate). */
    limits: RealmLimitsSchema.optional(),
  }).passthrough().optional(),
}).passthrough();

/** ClawGate: reverse proxies whose X-Forwarded-For/-Proto are believed (transport/forwarded.ts). */
const TrustedProxyList = z.array(z.string()).optional();

const Transport = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('websocket'), id: z.string().optional(), endpoint: Endpoint,
    serializers: Serializers, options: TransportOptions.optional(), auth: Auth.optional(), trusted_proxies: TrustedProxyList, limits: ListenerLimitsSchema.optional(),
    url: z.string().optional(), debug: z.boolean().optional(),
  }).passthrough(),
  z.object({
    type: z.literal('rawsocket'), id: z.string().optional(), endpoint: Endpoint,
    serializers: Serializers, options: TransportOptions.optional(), auth: Auth.optional(), debug: z.boolean().optional(), limits: ListenerLimitsSchema.optional(),
  }).passthrough(),
  z.object({
    type: z.literal('universal'), id: z.string().optional(), endpoint: Endpoint, trusted_proxies: TrustedProxyList, limits: ListenerLimitsSchema.optional(),
    rawsocket: z.object({ serializers: Serializers, options: TransportOptions.optional(), auth: Auth.optional() }).passthrough().optional(),
    websocket: z.record(z.string(), WebSocketPath).optional(),
    web: z.object({ paths: z.record(z.string(), z.object({ type: z.string() }).passthrough()).optional(), options: z.unknown().optional() }).passthrough().optional(),
  }).passthrough(),
  z.object({
    type: z.literal('web'), id: z.string().optional(), endpoint: Endpoint, trusted_proxies: TrustedProxyList, limits: ListenerLimitsSchema.optional(),
    paths: z.record(z.string(), z.object({ type: z.string() }).passthrough()),
    options: z.unknown().optional(),
  }).passthrough(),
]);

const Worker = z.object({ type: z.string() }).passthrough();
const RouterWorker = z.object({
  type: z.literal('router'),
  id: z.string().optional(),
  options: z.object({
    /** ClawGate: refuse new work when the heap is nearly full (limits/memory-pressure.ts). */
    memory: MemoryLimitsSchema.optional(),
  }).passthrough().optional(),
  /** ClawGate: this router is a node of a cluster over NATS (cluster/cluster-config.ts, docs/cluster.md). */
  cluster: ClusterSchema.optional(),
  realms: z.array(Realm_).optional(),
  transports: z.array(z.object({ type: z.string() }).passthrough()).optional(),
  components: z.array(z.unknown()).optional(),
}).passthrough();

const NodeConfig = z.object({
  version: z.literal(2),
  controller: z.unknown().optional(),
  workers: z.array(Worker),
  $schema: z.string().optional(),
}).passthrough();

function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(root)';
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, prefix: (string | number)[]): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new ConfigError(`invalid config at ${jsonPath([...prefix, ...issue.path])}: ${issue.message}`);
}

const SUPPORTED_SERIALIZERS: SerializerId[] = ['json', 'msgpack', 'cbor'];

function serializers(list: string[] | undefined, at: string, warnings: string[]): SerializerId[] {
  if (list === undefined) return [...SUPPORTED_SERIALIZERS];
  const out: SerializerId[] = [];
  for (const s of list) {
    if ((SUPPORTED_SERIALIZERS as string[]).includes(s)) out.push(s as SerializerId);
    else warnings.push(`${at}: serializer "${s}"`);
  }
  if (out.length === 0) throw new ConfigError(`invalid config at ${at}: none of the serializers [${list.join(', ')}] is supported (supported: ${SUPPORTED_SERIALIZERS.join(', ')})`);
  return out;
}

function maxMessageSize(options: z.infer<typeof TransportOptions> | undefined): number {
  return options?.max_message_size ?? DEFAULT_MAX_MESSAGE_SIZE;
}

function compression(options: z.infer<typeof TransportOptions> | undefined): WebSocketEndpointConfig['compression'] {
  // permessage-deflate is negotiated only when a client offers it; `compression: false` turns it off.
  return options?.compression === false ? false : true;
}

/** What Crossbar's `allow-by-default: true` grants: every action on every URI, nothing disclosed. */
const ALLOW_EVERYTHING: Permission = {
  uri: '', match: 'prefix',
  allow: { call: true, register: true, publish: true, subscribe: true },
  disclose: { caller: false, publisher: false },
};

function permission(p: z.infer<typeof Permission_>, at: string): Permission {
  const bad = templateError(p.uri);
  if (bad !== undefined) throw new ConfigError(`invalid config at ${at}.uri: ${bad}`);
  let uri = p.uri;
  let match = p.match;
  if (match === undefined) {
    // Crossbar's older shorthand: a trailing '*' means prefix.
    if (uri.endsWith('*')) { uri = uri.slice(0, -1); match = 'prefix'; } else match = 'exact';
  }
  const publish = p.allow?.publish ?? false;
  if (p.allow?.retain === true && !publish) throw new ConfigError(`invalid config at ${at}.allow.retain: retain needs publish (allow.publish is not true)`);
  return {
    uri, match,
    allow: { call: p.allow?.call ?? false, register: p.allow?.register ?? false, publish, subscribe: p.allow?.subscribe ?? false },
    disclose: { caller: p.disclose?.caller ?? false, publisher: p.disclose?.publisher ?? false },
    ...(p.allow?.retain !== undefined ? { retain: p.allow.retain } : {}),
    ...(p.max_publication_size !== undefined ? { maxPublicationSize: p.max_publication_size } : {}),
  };
}

/** An endpoint's auth policy; the roles an explicit `auth` section names go into `roleRefs` (checked once every realm is known). */
function endpointAuth(p: { options?: z.infer<typeof TransportOptions>; auth?: z.infer<typeof Auth> }, at: string, warnings: string[], src: SecretSources, roleRefs: RoleRef[]): AuthPolicy {
  const policy = authPolicy(p.auth, `${at}.auth`, warnings, src, p.options?.auth_timeout);
  if (p.auth !== undefined) roleRefs.push(...policyRoleRefs(policy, `${at}.auth`));
  return policy;
}

function wsEndpoint(p: z.infer<typeof WebSocketPath> | { serializers?: string[]; options?: z.infer<typeof TransportOptions>; auth?: z.infer<typeof Auth> }, at: string, warnings: string[], src: SecretSources, roleRefs: RoleRef[]): WebSocketEndpointConfig {
  return {
    serializers: serializers(p.serializers, `${at}.serializers`, warnings),
    auth: endpointAuth(p, at, warnings, src, roleRefs),
    maxMessageSize: maxMessageSize(p.options),
    compression: compression(p.options),
    limits: endpointLimits(p.options),
  };
}

function rawEndpoint(p: { serializers?: string[]; options?: z.infer<typeof TransportOptions>; auth?: z.infer<typeof Auth> }, at: string, warnings: string[], src: SecretSources, roleRefs: RoleRef[]): RawSocketEndpointConfig {
  return {
    serializers: serializers(p.serializers, `${at}.serializers`, warnings),
    auth: endpointAuth(p, at, warnings, src, roleRefs),
    maxMessageSize: maxMessageSize(p.options),
    limits: endpointLimits(p.options),
  };
}

function trustedProxies(entries: string[], at: string): TrustedProxies {
  entries.forEach((e, i) => {
    const bad = trustedProxyError(e);
    if (bad !== undefined) throw new ConfigError(`invalid config at ${at}[${i}]: ${bad}`);
  });
  return new TrustedProxies(entries);
}

const slash = (path: string): string => (path.startsWith('/') ? path : `/${path}`);

/**
 * Crossbar transports ClawGate does not run: skipped with a warning, the rest
 * of the config runs (skipping one serves less, never more).
 */
const SKIPPED_TRANSPORTS = ['mqtt', 'flashpolicy'];

const TRANSPORT_KEYS: Record<string, string[]> = {
  websocket: ['type', 'id', 'endpoint', 'serializers', 'options', 'auth', 'trusted_proxies', 'limits'],
  rawsocket: ['type', 'id', 'endpoint', 'serializers', 'options', 'auth', 'limits'],
  universal: ['type', 'id', 'endpoint', 'rawsocket', 'websocket', 'web', 'trusted_proxies', 'limits'],
  web: ['type', 'id', 'endpoint', 'paths', 'trusted_proxies', 'limits'],
};

/** Every `options` dict inside a transport, with its path. */
function transportOptions(t: z.infer<typeof Transport>, at: string): [unknown, string][] {
  const out: [unknown, string][] = [];
  if (t.type === 'websocket' || t.type === 'rawsocket') out.push([t.options, `${at}.options`]);
  if (t.type === 'universal') {
    out.push([t.rawsocket?.options, `${at}.rawsocket.options`]);
    for (const [path, p] of Object.entries(t.websocket ?? {})) out.push([p.options, `${at}.websocket.${path}.options`]);
  }
  if (t.type === 'web' && t.options !== undefined) out.push([t.options, `${at}.options`]);
  return out;
}

/** We act on max_message_size and on compression on/off; everything else is named. */
function checkOptions(options: unknown, at: string, warnings: string[]): void {
  if (options === undefined) return;
  unknownKeys(options, ['max_message_size', 'compression', 'auth_timeout', ...Object.keys(EndpointLimitKeys)], at, warnings);
  const c = (options as { compression?: unknown }).compression;
  if (typeof c === 'object' && c !== null) {
    warnings.push(`${at}.compression (permessage-deflate parameters; ClawGate negotiates with its own defaults)`);
  }
}

export interface LoadedConfig {
  config: RouterConfig;
  /** Keys present in the file that this router does not act on. */
  unsupported: string[];
  /** Guest workers: programs to run beside the router (GuestWorkers runs them; the CLI does). */
  guests: GuestConfig[];
}

/**
 * Converts an already-parsed Crossbar node config. `src` says where secrets
 * given as {"env": ...} or {"file": ...} are read from.
 */
/** What the CLI sets over the config file. */
export interface LoadOptions {
  /** --node and --nats: make this router a cluster node, or override the config's `cluster` section. */
  cluster?: ClusterOverrides;
}

export function fromCrossbar(raw: unknown, src: SecretSources = {}, options: LoadOptions = {}): LoadedConfig {
  const warnings: string[] = [];
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const version = (raw as { version?: unknown }).version;
    if (version === undefined) throw new ConfigError('invalid config at version: missing. ClawGate reads Crossbar node configs of version 2 (add "version": 2; a version 1 config needs `crossbar upgrade` first)');
    if (version !== 2) throw new ConfigError(`invalid config at version: ${JSON.stringify(version)} is not supported. ClawGate reads Crossbar node configs of version 2`);
  }
  const node = parseOrThrow(NodeConfig, raw, []);
  unknownKeys(node, ['version', 'controller', 'workers', '$schema'], '', warnings);
  if (node.controller !== undefined) warnings.push('controller');
  const realms: RealmConfig[] = [];
  const listeners: ListenerConfig[] = [];
  const roleRefs: RoleRef[] = [];
  // Programs the node runs beside the router (guest/guest-config.ts).
  const guests: GuestConfig[] = [];
  // Static files, JSON values, redirects and node info pages (http/web-resources.ts).
  const web: WebResourceConfig[] = [];
  const addWeb = (r: WebResourceConfig | undefined): void => { if (r !== undefined) web.push(r); };
  // HTTP bridge/info/metrics paths, with their JSON paths for realm/role errors (see http/http-config.ts).
  const http: { entry: HttpPathConfig; at: string }[] = [];
  // port (or Unix socket path) -> JSON path of the transport that took it, to name both in the error
  const portAt = new Map<number | string, string>();
  // event history file -> JSON path of the realm store that took it
  const historyAt = new Map<string, string>();
  let routers = 0;
  let memory: MemoryLimits | null | undefined;
  let memoryAt: string | undefined;
  let clusterSection: { section: ClusterSection; at: string } | undefined;
  node.workers.forEach((w, wi) => {
    const at = `workers[${wi}]`;
    if (w.type === 'guest') { guests.push(guestWorker(w, at, guests.length + 1, warnings, src.baseDir, src.env ?? process.env)); return; }
    if (w.type !== 'router') { warnings.push(`${at} (worker type "${w.type}")`); return; }
    routers++;
    const worker = parseOrThrow(RouterWorker, w, ['workers', wi]);
    unknownKeys(worker, ['type', 'id', 'options', 'realms', 'transports', 'cluster'], at, warnings);
    if (worker.cluster !== undefined) {
      if (clusterSection !== undefined) throw new ConfigError(`invalid config at ${at}.cluster: the cluster is already set at ${clusterSection.at}`);
      clusterSection = { section: worker.cluster, at: `${at}.cluster` };
    }
    if (worker.options !== undefined) {
      unknownKeys(worker.options, ['memory'], `${at}.options`, warnings);
      if (worker.options.memory !== undefined) {
        if (memoryAt !== undefined) throw new ConfigError(`invalid config at ${at}.options.memory: the router's memory limits are already set at ${memoryAt}`);
        memoryAt = `${at}.options.memory`;
        memory = memoryLimits(worker.options.memory);
      }
    }
    (worker.realms ?? []).forEach((r, ri) => {
      const rat = `${at}.realms[${ri}]`;
      unknownKeys(r, ['name', 'roles', 'options', 'store'], rat, warnings);
      const { entries: eventHistory, store: historyStore, maxEventsPerRead } = storeHistory(r.store, `${rat}.store`, warnings, src.baseDir);
      if (historyStore !== undefined) {
        const first = historyAt.get(historyStore.path);
        if (first !== undefined) throw new ConfigError(`invalid config at ${rat}.store.path: ${historyStore.path} is already the event history file of ${first} (each realm needs a file of its own)`);
        historyAt.set(historyStore.path, `${rat}.store`);
      }
      if (realms.some((x) => x.name === r.name)) {
        const sameWorker = (worker.realms ?? []).slice(0, ri).some((x) => x.name === r.name);
        const why = sameWorker ? '' : ' (in another router worker too: ClawGate merges all router workers into one router, so each realm is defined once)';
        throw new ConfigError(`invalid config at ${rat}.name: realm "${r.name}" is defined twice${why}`);
      }
      if (r.name.length > DEFAULT_MAX_URI_LENGTH) throw new ConfigError(`invalid config at ${rat}.name: a realm name may have at most ${DEFAULT_MAX_URI_LENGTH} characters`);
      const limits = realmLimits(r.options?.limits, Object.fromEntries((r.roles ?? []).map((role) => [role.name, role.limits])));
      if (limits.maxSessions !== null && totalReserved(limits) > limits.maxSessions) {
        throw new ConfigError(`invalid config at ${rat}.roles: the roles' reserved_sessions (${totalReserved(limits)} together) exceed options.limits.max_sessions (${limits.maxSessions})`);
      }
      realms.push({
        name: r.name,
        uriCheck: r.options?.uri_check ?? 'loose',
        ...(r.options?.authorizer_timeout !== undefined ? { authorizerTimeoutMs: r.options.authorizer_timeout } : {}),
        ...(r.options?.legacy_request_ids === true ? { legacyRequestIds: true } : {}),
        ...(eventHistory.length > 0 ? { eventHistory } : {}),
        ...(historyStore !== undefined ? { historyStore } : {}),
        ...(maxEventsPerRead !== undefined ? { historyMaxEventsPerRead: maxEventsPerRead } : {}),
        roles: (r.roles ?? []).map((role, roi) => {
          const roat = `${rat}.roles[${roi}]`;
          unknownKeys(role, ['name', 'permissions', 'authorizer', 'limits', 'allow-by-default'], roat, warnings);
          if (role.authorizer !== undefined && (role.permissions ?? []).length > 0) {
            throw new ConfigError(`invalid config at ${roat}: a role has either permissions or an authorizer, not both`);
          }
          const permissions = (role.permissions ?? []).map((p, pi) => permission(p, `${roat}.permissions[${pi}]`));
          if (role['allow-by-default'] === true) {
            // Crossbar's meaning: only a role with neither permissions nor an authorizer
            // allows everything; otherwise the key has no effect there, and none here.
            if (role.permissions !== undefined || role.authorizer !== undefined) warnings.push(`${roat}.allow-by-default (no effect: the role has ${role.authorizer !== undefined ? 'an authorizer' : 'permissions'}, as in Crossbar)`);
            else permissions.push(ALLOW_EVERYTHING);
          }
          return { name: role.name, permissions, ...(role.authorizer !== undefined ? { authorizer: role.authorizer } : {}) };
        }),
        limits,
      });
    });
    (worker.transports ?? []).forEach((rawTransport, ti) => {
      const tat = `${at}.transports[${ti}]`;
      if (SKIPPED_TRANSPORTS.includes(rawTransport.type)) { warnings.push(`${tat} (transport type "${rawTransport.type}")`); return; }
      if (!Object.hasOwn(TRANSPORT_KEYS, rawTransport.type)) {
        throw new ConfigError(`invalid config at ${tat}.type: unknown transport type "${rawTransport.type}" (ClawGate runs ${Object.keys(TRANSPORT_KEYS).join(', ')}; Crossbar's ${SKIPPED_TRANSPORTS.join(' and ')} are skipped with a warning)`);
      }
      const t = parseOrThrow(Transport, rawTransport, ['workers', wi, 'transports', ti]);
      const ep = t.endpoint;
      const unix = ep.type === 'unix';
      const socketPath = ep.type === 'unix' ? resolve(src.baseDir ?? process.cwd(), ep.path) : undefined;
      if (unix && 'trusted_proxies' in t && t.trusted_proxies !== undefined) {
        throw new ConfigError(`invalid config at ${tat}.trusted_proxies: a Unix-socket listener's peers have no address to trust, so forwarded headers are never read there (use a TCP loopback endpoint behind a proxy)`);
      }
      const base = {
        id: t.id ?? `transport${listeners.length + 1}`,
        ...(ep.type === 'tcp' ? { port: ep.port, host: ep.interface ?? ep.host ?? '0.0.0.0' } : { port: 0, socketPath: socketPath! }),
        ...(t.endpoint.tls !== undefined ? { tls: loadTls(t.endpoint.tls, `${tat}.endpoint.tls`, src.baseDir, warnings) } : {}),
        ...(t.type !== 'rawsocket' && t.trusted_proxies !== undefined ? { trustedProxies: trustedProxies(t.trusted_proxies, `${tat}.trusted_proxies`) } : {}),
        limits: listenerLimits(t.limits),
      };
      // version, backlog and shared are accepted and ignored quietly (docs/router.md).
      unknownKeys(t.endpoint, unix ? ['type', 'path', 'tls'] : ['type', 'port', 'interface', 'host', 'tls', 'version', 'backlog', 'shared'], `${tat}.endpoint`, warnings);
      if (t.endpoint.tls !== undefined) unknownKeys(t.endpoint.tls, TLS_KEYS, `${tat}.endpoint.tls`, warnings);
      const bindKey = ep.type === 'tcp' ? (ep.port === 0 ? undefined : ep.port) : socketPath!;
      const first = bindKey === undefined ? undefined : portAt.get(bindKey);
      if (first !== undefined && unix) throw new ConfigError(`invalid config at ${tat}.endpoint.path: ${socketPath} is already used by ${first}`);
      if (first !== undefined) {
        // Crossbar runs each router worker in a process of its own and can share a port between
        // them (endpoint.shared) to use several cores; here the router workers are one router.
        const otherWorker = !first.startsWith(`${at}.`);
        const why = otherWorker
          ? ' (ClawGate merges all router workers into one router in one process, so a port can be used once: drop the copy of the worker, or run several ClawGate nodes behind a load balancer)'
          : '';
        throw new ConfigError(`invalid config at ${tat}.endpoint.port: port ${bindKey} is already used by ${first}${why}`);
      }
      if (bindKey !== undefined) portAt.set(bindKey, tat);
      unknownKeys(t, TRANSPORT_KEYS[t.type], tat, warnings);
      for (const [opts, at2] of transportOptions(t, tat)) checkOptions(opts, at2, warnings);
      switch (t.type) {
        case 'websocket':
          listeners.push({ ...base, web: false, websocket: new Map([['*', wsEndpoint(t, tat, warnings, src, roleRefs)]]) });
          break;
        case 'rawsocket':
          listeners.push({ ...base, web: false, websocket: new Map(), rawsocket: rawEndpoint(t, tat, warnings, src, roleRefs) });
          break;
        case 'universal': {
          const websocket = new Map<string, WebSocketEndpointConfig>();
          for (const [path, p] of Object.entries(t.websocket ?? {})) websocket.set(slash(path), wsEndpoint(p, `${tat}.websocket.${path}`, warnings, src, roleRefs));
          for (const [path, p] of Object.entries(t.web?.paths ?? {})) {
            if (p.type === 'websocket') websocket.set(slash(path), wsEndpoint(parseOrThrow(WebSocketPath, p, ['workers', wi, 'transports', ti, 'web', 'paths', path]), `${tat}.web.paths.${path}`, warnings, src, roleRefs));
            else if (isHttpPathType(p.type)) http.push({ entry: httpPath(p, base.id, slash(path), `${tat}.web.paths.${path}`, warnings, src), at: `${tat}.web.paths.${path}` });
            else if (isWebResourceType(p.type)) addWeb(webResource(p, base.id, slash(path), `${tat}.web.paths.${path}`, warnings, src.baseDir));
            else warnings.push(`${tat}.web.paths.${path} (path type "${p.type}")`);
          }
          listeners.push({ ...base, web: true, websocket, rawsocket: t.rawsocket ? rawEndpoint(t.rawsocket, `${tat}.rawsocket`, warnings, src, roleRefs) : undefined });
          break;
        }
        case 'web': {
          const websocket = new Map<string, WebSocketEndpointConfig>();
          for (const [path, p] of Object.entries(t.paths)) {
            if (p.type === 'websocket') websocket.set(slash(path), wsEndpoint(parseOrThrow(WebSocketPath, p, ['workers', wi, 'transports', ti, 'paths', path]), `${tat}.paths.${path}`, warnings, src, roleRefs));
            else if (isHttpPathType(p.type)) http.push({ entry: httpPath(p, base.id, slash(path), `${tat}.paths.${path}`, warnings, src), at: `${tat}.paths.${path}` });
            else if (isWebResourceType(p.type)) addWeb(webResource(p, base.id, slash(path), `${tat}.paths.${path}`, warnings, src.baseDir));
            else warnings.push(`${tat}.paths.${path} (path type "${p.type}")`);
          }
          listeners.push({ ...base, web: true, websocket });
          break;
        }
      }
    });
  });
  if (routers === 0) throw new ConfigError('invalid config at workers: no worker of type "router"');
  if (realms.length === 0) throw new ConfigError('invalid config at workers: no router worker defines a realm (realms), so no client could join');
  checkRoleRefs(realms, roleRefs);
  checkHttpRealms(http, realms);
  const httpPaths = http.map((h) => h.entry);
  const firstRouter = node.workers.findIndex((w) => w.type === 'router');
  const cluster: ClusterConfig | undefined = clusterConfig(clusterSection?.section, clusterSection?.at ?? `workers[${firstRouter}].cluster`, warnings, src, options.cluster);
  return {
    config: {
      realms, listeners,
      ...(httpPaths.length > 0 ? { http: httpPaths, defaultMetrics: !httpPaths.some((h) => h.type === 'metrics') } : {}),
      ...(web.length > 0 ? { web } : {}),
      ...(memory !== undefined ? { memory } : {}),
      ...(cluster !== undefined ? { cluster } : {}),
    },
    unsupported: warnings,
    guests,
  };
}

/** Reads a JSON or YAML Crossbar config file. */
export function loadConfigFile(file: string, options: LoadOptions = {}): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
  }
  return fromCrossbar(raw, { baseDir: dirname(resolve(file)) }, options);
}


/**
 * A realm's `store` section → the history entries the broker keeps, and the
 * file they are also written to (type sqlite, ClawGate's; `path` relative to
 * the config file's directory). Crossbar's other types (cfxdb) are a warning.
 */
function storeHistory(store: z.infer<typeof Store> | undefined, at: string, warnings: string[], baseDir: string | undefined): { entries: HistoryEntryConfig[]; store?: HistoryStoreConfig; maxEventsPerRead?: number } {
  if (store === undefined) return { entries: [] };
  const sqlite = store.type === 'sqlite';
  unknownKeys(store, sqlite ? ['type', 'path', 'limit', 'max_events_per_read', 'event-history'] : ['type', 'limit', 'max_events_per_read', 'event-history'], at, warnings);
  if (store.type !== 'memory' && !sqlite) {
    warnings.push(`${at}.type (store type "${store.type}" is not supported: no event history is kept; use "memory")`);
    return { entries: [] };
  }
  if (sqlite && store.path === undefined) throw new ConfigError(`invalid config at ${at}.path: a store of type "sqlite" needs the path of its SQLite file (relative to the config file's directory)`);
  const entries = (store['event-history'] ?? []).map((e, i) => {
    unknownKeys(e, ['uri', 'match', 'limit'], `${at}.event-history[${i}]`, warnings);
    const match = e.match ?? 'exact';
    if (!isValidPattern(e.uri, match, 'loose')) throw new ConfigError(`invalid config at ${at}.event-history[${i}].uri: "${e.uri}" is not a valid ${match} URI`);
    return { uri: e.uri, match, limit: e.limit ?? store.limit ?? DEFAULT_HISTORY_LIMIT };
  });
  const read = store.max_events_per_read === undefined ? {} : { maxEventsPerRead: store.max_events_per_read };
  return sqlite ? { entries, store: { type: 'sqlite', path: resolve(baseDir ?? process.cwd(), store.path!) }, ...read } : { entries, ...read };
}
