// The claw system's router config (config/claw-router.yaml at the repository
// root), loaded for embedding: the port, the secrets and the claw nodes'
// public keys are filled in by the caller, then fromCrossbar() validates it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

/** Where the shipped config lives (the same from src/ and dist/). */
export const CLAW_ROUTER_CONFIG = fileURLToPath(new URL('../../config/claw-router.yaml', import.meta.url));

export interface ClawRouterOptions {
  /** Listener port (0: any free port). Default: the file's. */
  port?: number;
  /** Bind address. Default: the file's (127.0.0.1). */
  host?: string;
  /** Claw nodes allowed to log in: machine id → Ed25519 public keys (hex). */
  claws?: Record<string, string[]>;
  file?: string;
}

type Json = Record<string, unknown>;

/** The raw config object for fromCrossbar(raw, {env}); secrets stay `{env: ...}` references. */
export function loadClawRouterConfig(o: ClawRouterOptions = {}): Json {
  const raw = parseYaml(readFileSync(o.file ?? CLAW_ROUTER_CONFIG, 'utf8')) as Json;
  const cfg = structuredClone(raw);
  const worker = (cfg.workers as Json[])[0]!;
  for (const t of worker.transports as Json[]) {
    const endpoint = t.endpoint as Json;
    if (o.port !== undefined) endpoint.port = o.port;
    if (o.host !== undefined) endpoint.interface = o.host;
    const auths: Json[] = [];
    if (t.rawsocket) auths.push((t.rawsocket as Json).auth as Json);
    for (const path of Object.values((t.websocket as Json | undefined) ?? {})) auths.push((path as Json).auth as Json);
    for (const auth of auths) {
      if (!auth?.cryptosign || !o.claws) continue;
      const principals: Json = {};
      for (const [id, keys] of Object.entries(o.claws)) principals[id] = { authorized_keys: keys, role: 'claw', realm: 'claw' };
      auth.cryptosign = { ...(auth.cryptosign as Json), principals };
    }
  }
  return cfg;
}
