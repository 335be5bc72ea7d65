// A structural walk over MessagePack bytes before @msgpack/msgpack decodes
// them: it reads only type bytes and lengths (never string contents), counts
// values and nesting, and checks that every array and map can be filled by
// the bytes that remain. Without it, a 5-byte `array32` header makes the
// decoder allocate `new Array(2^32-1)`-sized backing stores: eight nested
// headers in 40 bytes took 6 s and 1.9 GB of heap here. Cost: a few ns per
// value; no allocation besides the nesting stack.
import { tooDeep, tooMany, type DecodeLimits } from './serializer.js';

function truncated(): Error {
  return new Error('MessagePack data ends inside a value');
}

/** Throws unless `b` is one MessagePack value within `limits`. */
export function scanMsgpack(b: Uint8Array, limits: DecodeLimits): void {
  const end = b.length;
  const maxElements = limits.maxElements;
  // remaining[d]: values still to read at nesting level d (level 0: the one top-level value)
  const remaining: number[] = [1];
  let depth = 0;
  let pos = 0;
  let values = 0;
  for (;;) {
    if (remaining[depth] === 0) {
      if (depth === 0) break;
      depth--;
      continue;
    }
    remaining[depth]!--;
    if (++values > maxElements) throw tooMany(limits);
    if (pos >= end) throw truncated();
    const t = b[pos]!;
    let n = -1; // values in a container that starts here, -1 for a scalar
    let skip = 0; // bytes to step over for a scalar (after the type byte)
    if (t <= 0x7f || t >= 0xe0) {
      pos += 1;
      continue;
    } else if (t <= 0x8f) {
      n = (t & 0x0f) * 2;
      pos += 1;
    } else if (t <= 0x9f) {
      n = t & 0x0f;
      pos += 1;
    } else if (t <= 0xbf) {
      skip = t & 0x1f;
    } else {
      switch (t) {
        case 0xc0: case 0xc2: case 0xc3: skip = 0; break;
        case 0xc4: case 0xd9: if (pos + 2 > end) throw truncated(); skip = 1 + b[pos + 1]!; break;
        case 0xc5: case 0xda: if (pos + 3 > end) throw truncated(); skip = 2 + ((b[pos + 1]! << 8) | b[pos + 2]!); break;
        case 0xc6: case 0xdb: if (pos + 5 > end) throw truncated(); skip = 4 + u32(b, pos + 1); break;
        case 0xc7: if (pos + 2 > end) throw truncated(); skip = 2 + b[pos + 1]!; break;
        case 0xc8: if (pos + 3 > end) throw truncated(); skip = 3 + ((b[pos + 1]! << 8) | b[pos + 2]!); break;
        case 0xc9: if (pos + 5 > end) throw truncated(); skip = 5 + u32(b, pos + 1); break;
        case 0xca: skip = 4; break;
        case 0xcb: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xce: case 0xd2: skip = 4; break;
        case 0xcf: case 0xd3: skip = 8; break;
        case 0xd4: skip = 2; break;
        case 0xd5: skip = 3; break;
        case 0xd6: skip = 5; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xdc: if (pos + 3 > end) throw truncated(); n = (b[pos + 1]! << 8) | b[pos + 2]!; pos += 3; break;
        case 0xdd: if (pos + 5 > end) throw truncated(); n = u32(b, pos + 1); pos += 5; break;
        case 0xde: if (pos + 3 > end) throw truncated(); n = ((b[pos + 1]! << 8) | b[pos + 2]!) * 2; pos += 3; break;
        case 0xdf: if (pos + 5 > end) throw truncated(); n = u32(b, pos + 1) * 2; pos += 5; break;
        default: throw new Error(`MessagePack type byte 0x${t.toString(16)} is never used`);
      }
    }
    if (n < 0) {
      pos += 1 + skip;
      if (pos > end) throw truncated();
      continue;
    }
    // A container: every value in it takes at least one byte.
    if (depth + 1 > limits.maxDepth) throw tooDeep(limits);
    if (n > end - pos) throw truncated();
    if (n > maxElements - values) throw tooMany(limits);
    if (n > 0) remaining[++depth] = n;
  }
  if (pos !== end) throw new Error(`${end - pos} bytes after the MessagePack value`);
}

function u32(b: Uint8Array, i: number): number {
  return b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
}
