// The router worker's `cluster` section (a ClawGate extension of the Crossbar
// config): which node this is and how it reaches NATS. Validated once, with
// errors naming the key; credentials are secrets (secret-ref.ts), so one
// config file serves every node and holds none of them.
import { z } from 'zod';
import { ConfigError } from '../config-error.js';
import { SecretRef, resolveSecret, type SecretSources } from '../secret-ref.js';
import { unknownKeys } from '../unknown-keys.js';

/**
 * A node or cluster name: it becomes a NATS subject token and a JetStream
 * key-value key, so only characters both allow, and short.
 */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_RULE = '1 to 64 characters of A-Z, a-z, 0-9, "_" and "-"';

export const DEFAULT_CLUSTER_NAME = 'clawgate';

export interface NatsConfig {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** A NATS credentials file's text (JWT and NKey seed), read from `creds` at start. */
  creds?: string;
}

export interface ClusterConfig {
  /** This node's name, unique among the live nodes of the cluster. */
  node: string;
  /** The cluster's name: the prefix of its NATS subjects and buckets (several clusters may share one NATS). */
  name: string;
  nats: NatsConfig;
  /**
   * Bounds of the event-history appends waiting for JetStream's acknowledgement
   * on this node (cluster/history-link.ts): past either, an append is dropped
   * and counted (the node's own history has the event).
   */
  historyAppends: { count: number; bytes: number };
  /**
   * Copies JetStream keeps of every bucket and stream the cluster makes (config `replicas`): 1 on one
   * nats-server; 3 on a NATS cluster of three or more, so the cluster's state survives a server.
   */
  replicas: number;
  /**
   * How long a delete marker stays in the cluster's tables (config `marker_age`, seconds): every
   * ended session, subscription and registration leaves one, and they would pile up for ever
   * (cluster/watched-bucket.ts, sweep). A node cut off from NATS for half of it or more reads its
   * tables again when it is back (reconcile): markers it missed may be gone.
   */
  markerAgeMs: number;
}

/** Default of `marker_age`, seconds. */
export const DEFAULT_MARKER_AGE_S = 900;

/** Defaults of `max_history_appends` and `max_history_append_bytes`. */
export const DEFAULT_HISTORY_APPENDS = { count: 4096, bytes: 64 * 1024 * 1024 };

const ServerUrl = z.string().min(1).refine((s) => /^(nats|tls):\/\/[^\s]+$/.test(s), 'a NATS server URL: nats://host:port or tls://host:port');

export const ClusterSchema = z.object({
  node: z.string().regex(NAME, NAME_RULE).optional(),
  name: z.string().regex(NAME, NAME_RULE).optional(),
  nats: z.object({
    servers: z.union([ServerUrl, z.array(ServerUrl).min(1)]).optional(),
    user: SecretRef.optional(),
    password: SecretRef.optional(),
    token: SecretRef.optional(),
    creds: SecretRef.optional(),
  }).passthrough().optional(),
  max_history_appends: z.number().int().min(1).max(1_000_000).optional(),
  // JetStream allows 1 to 5 replicas (more than the servers there are is refused when a bucket is made).
  replicas: z.number().int().min(1).max(5).optional(),
  max_history_append_bytes: z.number().int().min(1024).max(4 * 1024 * 1024 * 1024).optional(),
  // Seconds; up to 30 days (past that, what churn leaves behind is hardly bounded).
  marker_age: z.number().min(1).max(30 * 24 * 3600).optional(),
}).passthrough();
export type ClusterSection = z.infer<typeof ClusterSchema>;

/** What the CLI's --node and --nats set over the config's section. */
export interface ClusterOverrides {
  node?: string;
  nats?: string;
}

/**
 * The validated `cluster` section (at `at`), with the CLI's overrides; undefined
 * when neither the config nor the CLI asks for a cluster. Throws ConfigError.
 */
export function clusterConfig(section: ClusterSection | undefined, at: string, warnings: string[], src: SecretSources, overrides: ClusterOverrides = {}): ClusterConfig | undefined {
  if (section === undefined && overrides.node === undefined && overrides.nats === undefined) return undefined;
  if (section !== undefined) {
    unknownKeys(section, ['node', 'name', 'nats', 'max_history_appends', 'max_history_append_bytes', 'replicas', 'marker_age'], at, warnings);
    if (section.nats !== undefined) unknownKeys(section.nats, ['servers', 'user', 'password', 'token', 'creds'], `${at}.nats`, warnings);
  }
  if (overrides.node !== undefined && !NAME.test(overrides.node)) throw new ConfigError(`invalid --node "${overrides.node}": a node name is ${NAME_RULE}`);
  if (overrides.nats !== undefined && !ServerUrl.safeParse(overrides.nats).success) throw new ConfigError(`invalid --nats "${overrides.nats}": a NATS server URL is nats://host:port or tls://host:port`);
  const node = overrides.node ?? section?.node;
  if (node === undefined) throw new ConfigError(`invalid config at ${at}.node: a cluster node needs a name unique in the cluster (set it in the config or with --node)`);
  const fromConfig = section?.nats?.servers;
  const servers = overrides.nats !== undefined ? [overrides.nats] : fromConfig === undefined ? undefined : Array.isArray(fromConfig) ? fromConfig : [fromConfig];
  if (servers === undefined) throw new ConfigError(`invalid config at ${at}.nats.servers: a cluster node needs the NATS servers to reach (set them in the config or with --nats)`);
  const n = section?.nats;
  const nats: NatsConfig = { servers };
  if (n?.user !== undefined) nats.user = resolveSecret(n.user, `${at}.nats.user`, src);
  if (n?.password !== undefined) nats.pass = resolveSecret(n.password, `${at}.nats.password`, src);
  if ((nats.user === undefined) !== (nats.pass === undefined)) throw new ConfigError(`invalid config at ${at}.nats: user and password go together`);
  if (n?.token !== undefined) nats.token = resolveSecret(n.token, `${at}.nats.token`, src);
  // The credentials file's text: a {"file": ...} reference reads it as any secret file.
  if (n?.creds !== undefined) nats.creds = resolveSecret(n.creds, `${at}.nats.creds`, src);
  const historyAppends = {
    count: section?.max_history_appends ?? DEFAULT_HISTORY_APPENDS.count,
    bytes: section?.max_history_append_bytes ?? DEFAULT_HISTORY_APPENDS.bytes,
  };
  return {
    node, name: section?.name ?? DEFAULT_CLUSTER_NAME, nats, historyAppends, replicas: section?.replicas ?? 1,
    markerAgeMs: Math.round((section?.marker_age ?? DEFAULT_MARKER_AGE_S) * 1000),
  };
}
