// A structural walk over JSON text before JSON.parse: counts values (by the
// characters that introduce them: `[`, `{`, `,`, `:`, plus the top-level one,
// which over-counts an empty container by one) and nesting, stepping over
// strings with indexOf. JSON has no preallocation or references, so its
// cost follows its length; the walk is there so that a message of mostly
// `{},` (one value per three bytes, the slowest JSON to parse and to walk)
// can't spend more than max_message_elements values, and so that nothing
// nested deeper than max_message_depth reaches code that recurses (the
// MessagePack encoder of a subscriber refuses 100 levels).
import { tooDeep, tooMany, type DecodeLimits } from './serializer.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether `text` can exceed `limits` at all. A JSON text has at most one
 * value per character, and nests no deeper than it has `[` and `{` (inside
 * strings or not): a text no longer than max_message_elements with at most
 * max_message_depth of them is within both limits, and most WAMP messages
 * are such texts. Counting them takes a few indexOf calls (vectorized in V8)
 * instead of a walk over every character.
 */
export function jsonNeedsScan(text: string, limits: DecodeLimits): boolean {
  if (text.length > limits.maxElements) return true;
  if (text.length <= 2 * limits.maxDepth) return false;
  const max = limits.maxDepth;
  let n = 0;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++n > max) return true;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++n > max) return true;
  return false;
}

/** Throws if `text` has more values or deeper nesting than `limits`. Malformed JSON is left to JSON.parse. */
export function scanJson(text: string, limits: DecodeLimits): void {
  const maxElements = limits.maxElements;
  const maxDepth = limits.maxDepth;
  const n = text.length;
  let values = 1;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    switch (c) {
      case QUOTE: {
        // Step to the closing quote: one not preceded by an odd number of backslashes.
        let j = text.indexOf('"', i + 1);
        while (j > 0) {
          let k = j - 1;
          while (text.charCodeAt(k) === BACKSLASH) k--;
          if ((j - 1 - k) % 2 === 0) break;
          j = text.indexOf('"', j + 1);
        }
        if (j < 0) return; // unterminated: JSON.parse says so
        i = j;
        break;
      }
      case 0x5b: case 0x7b: // [ {
        if (++depth > maxDepth) throw tooDeep(limits);
        if (++values > maxElements) throw tooMany(limits);
        break;
      case 0x5d: case 0x7d: // ] }
        depth--;
        break;
      case 0x2c: case 0x3a: // , :
        if (++values > maxElements) throw tooMany(limits);
        break;
    }
  }
}
