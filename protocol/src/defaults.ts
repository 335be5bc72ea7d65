// Timing and size defaults the protocol names. Machines may override the
// per-machine ones through claw.admin.settings; nodes through their config.
export const Defaults = {
  /** How long the player at the front has to confirm with claw.turn.ready. */
  readyWindowSeconds: 15,
  /** How long a waiting player whose session dropped keeps their place. */
  graceSeconds: 120,
  /** Length of the move phase of a turn. */
  moveSeconds: 30,
  /** A held direction is re-sent at least this often by the player page. */
  repeatMs: 200,
  /** A claw node releases a direction not refreshed within this time. */
  holdTimeoutMs: 600,
  /** Longest queue per machine. */
  maxQueue: 50,
} as const;

/** Longest display name, in characters as people count them (grapheme clusters: "👩‍👩‍👧" is one). */
export const NAME_MAX_CHARS = 24;
/** Most code points one character of a name may be made of (a family emoji with skin tones is 11; this refuses stacks of marks). */
export const NAME_MAX_CODE_POINTS_PER_CHAR = 16;

/**
 * Invisible formatting characters that belong inside a character: the zero
 * width joiner and non-joiner (emoji sequences, Persian and Indic scripts)
 * and the tag characters of subdivision flags. Every other format character
 * (text direction controls, soft hyphen, byte order mark, …) is refused.
 */
const JOINING_FORMAT = /^[\u200C\u200D\u{E0020}-\u{E007F}]$/u;
const FORBIDDEN = /[\p{Cc}\p{Zl}\p{Zp}]/u;
const FORMAT = /\p{Cf}/u;

type Segmenter = { segment(s: string): Iterable<{ segment: string }> };
const segmenter: Segmenter | undefined = (() => {
  const S = (Intl as unknown as { Segmenter?: new (l?: string, o?: { granularity: string }) => Segmenter }).Segmenter;
  return S ? new S(undefined, { granularity: 'grapheme' }) : undefined;
})();

/** Code points that attach to the one before (used where Intl.Segmenter is missing: an approximation). */
const ATTACHES = /^[\p{M}\u200C\u200D\uFE0E\uFE0F\u{1F3FB}-\u{1F3FF}\u{E0020}-\u{E007F}]$/u;

/** The name's characters as people count them: grapheme clusters, each a list of code points. */
export function graphemes(s: string): string[][] {
  if (segmenter) return [...segmenter.segment(s)].map((g) => [...g.segment]);
  return approximateGraphemes(s);
}

/** Grapheme clusters without Intl.Segmenter (older browsers): marks, joiners, modifiers and tags join the character before. */
export function approximateGraphemes(s: string): string[][] {
  const out: string[][] = [];
  let joinNext = false;
  for (const cp of s) {
    const last = out[out.length - 1];
    if (last && (joinNext || ATTACHES.test(cp))) last.push(cp);
    else out.push([cp]);
    joinNext = cp === '\u200D';
  }
  return out;
}

/**
 * Why `name` is not a valid display name (a sentence for people), or
 * undefined when it is: 1–24 characters as people count them, not only
 * spaces, no control characters or line breaks, no invisible formatting
 * characters except the joiners inside emoji sequences and scripts that need
 * them, and no character stacked from more than 16 code points.
 */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'the name must be text';
  if (name.trim().length === 0) return 'the name is empty (or only spaces)';
  if (FORBIDDEN.test(name)) return 'the name contains a control character or a line break';
  const chars = graphemes(name);
  for (const g of chars) {
    for (let i = 0; i < g.length; i++) {
      const cp = g[i]!;
      if (!FORMAT.test(cp)) continue;
      // A joiner at the start of a character joins nothing visible.
      if (!JOINING_FORMAT.test(cp) || i === 0) return `the name contains an invisible formatting character (U+${cp.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`;
    }
    if (g.length > NAME_MAX_CODE_POINTS_PER_CHAR) return `one character of the name is made of ${g.length} code points (at most ${NAME_MAX_CODE_POINTS_PER_CHAR})`;
  }
  if (chars.length > NAME_MAX_CHARS) return `the name is ${chars.length} characters long (at most ${NAME_MAX_CHARS})`;
  return undefined;
}

/** Display names: see nameProblem (1–24 characters as people count them, printable). */
export function isValidName(name: unknown): name is string {
  return nameProblem(name) === undefined;
}
