import { Decoder, Encoder, addExtension } from 'cbor-x';
import type { Serializer } from './serializer.js';

/**
 * Bytes that arrived as a CBOR tag-64 typed array (RFC 8746). They go back
 * out with the tag, so a client that tagged its bytes gets tagged bytes back;
 * every other binary value is a plain CBOR byte string, which every WAMP peer
 * reads.
 */
export class TaggedUint8Array extends Uint8Array {}

addExtension({
  Class: TaggedUint8Array,
  tag: 64,
  encode(value: TaggedUint8Array, encode: (v: unknown) => Uint8Array) {
    return encode(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  },
  decode(data: Uint8Array) {
    return new TaggedUint8Array(data);
  },
});

const options = { useRecords: false, mapsAsObjects: true, variableMapSize: true, tagUint8Array: false, pack: false } as const;
const encoder = new Encoder(options);
const decoder = new Decoder(options);

const TWO_32 = 2 ** 32;

// cbor-x writes integers beyond 32 bits as float64 and reads every 64-bit
// integer as a BigInt. WAMP ids live in [0, 2^53], and other peers write them
// as CBOR integers, so we fix both directions: integers are integers on the
// wire, and safe integers are plain numbers in memory.
function toWire(v: unknown, depth: number): unknown {
  if (typeof v === 'number') {
    return (v >= TWO_32 || v < -TWO_32) && Number.isSafeInteger(v) ? BigInt(v) : v;
  }
  if (typeof v !== 'object' || v === null || depth > 64 || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = toWire(v[i], depth + 1);
      if (x !== v[i]) { out ??= v.slice(); out[i] = x; }
    }
    return out ?? v;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const o = (v as Record<string, unknown>)[k];
    const x = toWire(o, depth + 1);
    if (x !== o) { out ??= { ...(v as Record<string, unknown>) }; out[k] = x; }
  }
  return out ?? v;
}

function fromWire(v: unknown, depth: number): unknown {
  if (typeof v === 'bigint') {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  if (typeof v !== 'object' || v === null || depth > 64 || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = fromWire(v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) o[k] = fromWire(o[k], depth + 1);
  return o;
}

export const cborSerializer: Serializer = {
  id: 'cbor',
  wsProtocol: 'wamp.2.cbor',
  rawsocketCode: 3,
  binary: true,
  encode(message) {
    return encoder.encode(toWire(message, 0));
  },
  decode(data) {
    if (typeof data === 'string') throw new Error('CBOR arrives in binary frames, got a text frame');
    return fromWire(decoder.decode(data), 0);
  },
};
