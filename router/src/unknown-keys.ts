// Keys a config section has that this router does not know.
//
// Crossbar configs carry many keys ClawGate does not act on (`controller`,
// `components`, `pythonpath`, ...): those are named in the one start-up
// warning and the rest of the config runs. But a key a typo or two away from
// a key ClawGate does know is almost always a mistake whose effect is silent
// and dangerous (a misspelt `permisions` leaves the role with no permissions,
// so the router refuses everything; a misspelt `max_sesions` leaves a limit at
// its default), so that is a config error naming the key and the one it
// probably means.
import { ConfigError } from './config-error.js';

/**
 * Keys of Crossbar's own schema that sit close to a key ClawGate knows but
 * are not misspellings of it: skipped with the warning like any other
 * Crossbar key. (`serializer`: a transport's single serializer in older
 * Crossbar examples; ClawGate reads `serializers`.)
 */
const CROSSBAR_KEYS_NEAR_OURS: ReadonlySet<string> = new Set(['serializer']);

/** Keys shorter than this are never taken for misspellings: `id`/`ip`, `uri`/`url` are too close to tell. */
const MIN_LENGTH = 4;

/**
 * Edit distance with adjacent transpositions (optimal string alignment),
 * giving up once it exceeds `max`: the costs of turning `a` into `b` one
 * insertion, deletion, substitution or swap of neighbours at a time.
 */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      row.push(d);
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known key `key` is probably a misspelling of, or undefined. Case,
 * `-` for `_` and one or two typos (one for keys under 8 characters) count;
 * a key within reach of two known keys equally is ambiguous and not guessed.
 */
export function misspelling(key: string, known: readonly string[]): string | undefined {
  if (key.length < MIN_LENGTH || CROSSBAR_KEYS_NEAR_OURS.has(key)) return undefined;
  const norm = (s: string) => s.toLowerCase().replaceAll('-', '_');
  let best: string | undefined;
  let bestDistance = Infinity;
  let tie = false;
  for (const k of known) {
    if (k.length < MIN_LENGTH) continue;
    const max = Math.min(key.length, k.length) >= 8 ? 2 : 1;
    const d = norm(key) === norm(k) ? 0 : editDistance(norm(key), norm(k), max);
    if (d > max) continue;
    if (d < bestDistance) { best = k; bestDistance = d; tie = false; } else if (d === bestDistance) tie = true;
  }
  return tie ? undefined : best;
}

/**
 * Names the keys of `raw` that are not in `known` in `warnings` (as JSON
 * paths below `at`); throws ConfigError for one that is a misspelling of a
 * known key.
 */
export function unknownKeys(raw: unknown, known: readonly string[], at: string, warnings: string[]): void {
  if (typeof raw !== 'object' || raw === null) return;
  for (const k of Object.keys(raw)) {
    if (known.includes(k)) continue;
    const path = at ? `${at}.${k}` : k;
    const meant = misspelling(k, known);
    if (meant !== undefined) throw new ConfigError(`invalid config at ${path}: unknown key; did you mean "${meant}"? (a misspelt key would be ignored, silently changing what the router does)`);
    warnings.push(path);
  }
}
