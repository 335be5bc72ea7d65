import { Decoder, Encoder, addExtension } from 'cbor-x';
import { DEFAULT_DECODE_LIMITS, type Serializer } from './serializer.js';
import { scanCbor } from './cbor-scan.js';
import { largeIntsToBigInt, safeBigIntsToNumber } from './int64.js';

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

// cbor-x writes integers beyond 32 bits as float64 and reads every 64-bit
// integer as a BigInt; see int64.ts.
export const cborSerializer: Serializer = {
  id: 'cbor',
  wsProtocol: 'wamp.2.cbor',
  rawsocketCode: 3,
  binary: true,
  encode(message) {
    return encoder.encode(largeIntsToBigInt(message));
  },
  decode(data, limits = DEFAULT_DECODE_LIMITS) {
    if (typeof data === 'string') throw new Error('CBOR arrives in binary frames, got a text frame');
    scanCbor(data, limits);
    return safeBigIntsToNumber(decoder.decode(data));
  },
};
