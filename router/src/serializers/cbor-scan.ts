// A structural walk over CBOR bytes before cbor-x decodes them: item heads
// only (string contents are stepped over), counting values and nesting,
// checking that definite arrays and maps can be filled by the bytes that
// remain, and accepting only the tags a WAMP peer has a use for.
//
// The tag allowlist is what stops the worst CBOR bombs. cbor-x decodes
// value-sharing tags 28/29 (a value defined once and referenced again) into
// shared JavaScript objects, so a 130-byte message can hold a DAG of 2^20
// leaves: the decode is instant, and then every walk over the value (our
// 64-bit integer fix-up, validation, the encoder of each subscriber) visits
// all of them; a reference back into a value still being read is a cycle,
// and cbor-x re-reads the whole value for each one (46 bytes took 4.5 s,
// 50 bytes never finished). cbor-x also reads packed-value tables (tag 51,
// 6, 225-255, ...), whose prefix tags concatenate copies, records, "generic
// objects" that construct Error/RegExp (tag 27), Sets and Maps. None of
// these are WAMP data: only dates (0, 1), small bignums (2, 3), typed arrays
// (64-87, RFC 8746) and the self-describe mark (55799) pass.
import { tooDeep, tooMany, type DecodeLimits } from './serializer.js';

/** A bignum's byte string beyond this would cost cbor-x quadratic time to turn into a BigInt. */
const MAX_BIGNUM_BYTES = 16;

const INDEFINITE = -1;

function truncated(): Error {
  return new Error('CBOR data ends inside a value');
}

function tagAllowed(tag: number): boolean {
  return tag <= 3 || (tag >= 64 && tag <= 87) || tag === 55799;
}

/** Throws unless `b` is one CBOR data item within `limits`. */
export function scanCbor(b: Uint8Array, limits: DecodeLimits): void {
  const end = b.length;
  const maxElements = limits.maxElements;
  // remaining[d]: items still to read at level d, or INDEFINITE until a break (0xff)
  const remaining: number[] = [1];
  let depth = 0;
  let pos = 0;
  let values = 0;
  for (;;) {
    const left = remaining[depth]!;
    if (left === 0) {
      if (depth === 0) break;
      depth--;
      continue;
    }
    if (pos >= end) throw truncated();
    const head = b[pos]!;
    if (head === 0xff) {
      if (left !== INDEFINITE) throw new Error('CBOR break outside an indefinite-length item');
      pos++;
      depth--;
      continue;
    }
    if (left !== INDEFINITE) remaining[depth] = left - 1;
    if (++values > maxElements) throw tooMany(limits);
    const major = head >> 5;
    const info = head & 0x1f;
    pos++;
    // The argument: a count, a length, a tag number or the value itself.
    let arg: number;
    if (info < 24) arg = info;
    else if (info === 24) { if (pos + 1 > end) throw truncated(); arg = b[pos]!; pos += 1; }
    else if (info === 25) { if (pos + 2 > end) throw truncated(); arg = (b[pos]! << 8) | b[pos + 1]!; pos += 2; }
    else if (info === 26) { if (pos + 4 > end) throw truncated(); arg = u32(b, pos); pos += 4; }
    else if (info === 27) {
      if (pos + 8 > end) throw truncated();
      const hi = u32(b, pos);
      // Integers and floats may use all 64 bits; a length or count that large can't fit anyway.
      arg = hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + u32(b, pos + 4);
      pos += 8;
    } else if (info === 31) {
      if (major === 2 || major === 3 || major === 4 || major === 5) {
        if (depth + 1 > limits.maxDepth) throw tooDeep(limits);
        remaining[++depth] = INDEFINITE;
        continue;
      }
      throw new Error(`CBOR indefinite length is not allowed for major type ${major}`);
    } else {
      throw new Error(`CBOR additional information ${info} is reserved`);
    }
    switch (major) {
      case 0: case 1: case 7:
        // Integers, floats and simple values: the argument was all there is.
        break;
      case 2: case 3:
        if (arg > end - pos) throw truncated();
        pos += arg;
        break;
      case 4: case 5: {
        const n = major === 5 ? arg * 2 : arg;
        if (depth + 1 > limits.maxDepth) throw tooDeep(limits);
        if (n > end - pos) throw truncated();
        if (n > maxElements - values) throw tooMany(limits);
        if (n > 0) remaining[++depth] = n;
        break;
      }
      case 6:
        if (!tagAllowed(arg)) throw new Error(`CBOR tag ${arg} is not accepted`);
        if (arg === 2 || arg === 3) {
          const next = pos < end ? b[pos]! : 0;
          const li = next & 0x1f;
          const len = li < 24 ? li : li === 24 && pos + 1 < end ? b[pos + 1]! : Infinity;
          if (next >> 5 !== 2 || len > MAX_BIGNUM_BYTES) throw new Error(`CBOR bignums must be byte strings of at most ${MAX_BIGNUM_BYTES} bytes`);
        }
        // The tagged item fills the slot the tag took (the tag itself counts as a value).
        if (remaining[depth] !== INDEFINITE) remaining[depth]!++;
        break;
    }
  }
  if (pos !== end) throw new Error(`${end - pos} bytes after the CBOR data item`);
}

function u32(b: Uint8Array, i: number): number {
  return b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
}
