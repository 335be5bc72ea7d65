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
 * Whether `text` can exceed `limits` at all: a JSON text needs two
 * characters per nesting level and at least one per value, so a short one
 * is within any limits above its length. Most WAMP messages are short:
 * they skip the walk.
 */
export function jsonNeedsScan(length: number, limits: DecodeLimits): boolean {
  return length > limits.maxElements || length > 2 * limits.maxDepth;
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
