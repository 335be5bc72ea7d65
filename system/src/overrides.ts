// `--overrides <file>`: settings merged into the configs the launcher
// generates, e.g. short timings for tests:
//   {"backend": {"defaults": {"moveSeconds": 8}}, "claw": {"timings": {"dropCycleSeconds": 2}}}
// The merged configs are validated by the backend and the claw node, so a
// wrong key is reported by them with its full path.
import { z } from 'zod';
import { VideoOverrides } from './video/video-setup.js';

const Json = z.record(z.string(), z.unknown());
export const Overrides = z.object({
  /** Merged into the backend config (docs/backend.md#configuration-reference). */
  backend: Json.default({}),
  /** Merged into every simulated claw node's config (docs/claw-node.md#config-reference). */
  claw: Json.default({}),
  /** Live video through Janus (docs/operations.md "Live video"): `{"enabled": true}` is --video. */
  video: VideoOverrides.optional(),
}).strict();
export type OverridesInput = z.input<typeof Overrides>;
export type Overrides = z.infer<typeof Overrides>;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` on top of `base`: objects merge key by key, anything else replaces. Neither input is changed. */
export function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeDeep(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}
