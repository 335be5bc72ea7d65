import { Decoder, Encoder, ExtensionCodec } from '@msgpack/msgpack';
import { DEFAULT_DECODE_LIMITS, type Serializer } from './serializer.js';
import { scanMsgpack } from './msgpack-scan.js';
import { largeIntsToBigInt } from './int64.js';

// Reused instances: @msgpack/msgpack keeps an internal buffer per encoder,
// which is what makes it fast. Node is single-threaded, so sharing is safe.
// The plain encoder writes integers up to 2^53 as MessagePack integers (uint64
// where needed) but refuses BigInt; the BigInt-capable one writes BigInts as
// int64/uint64 but large numbers as float64. So messages carrying a BigInt
// (relayed from a CBOR peer, say) take the second encoder with every large
// integer turned into a BigInt first. Reading keeps numbers: ids never exceed 2^53.
const encoder = new Encoder({ ignoreUndefined: true });
const bigIntEncoder = new Encoder({ ignoreUndefined: true, useBigInt64: true });
// msgpackr (wampy's MessagePack library, among others) writes JavaScript
// `undefined` as fixext 1 of type 0 (`d4 00 00`). Reading that as undefined
// lets such clients put `undefined` in options without a protocol violation.
const extensionCodec = new ExtensionCodec();
extensionCodec.register({ type: 0, encode: () => null, decode: () => undefined });
const decoder = new Decoder({ extensionCodec });

export const msgpackSerializer: Serializer = {
  id: 'msgpack',
  wsProtocol: 'wamp.2.msgpack',
  rawsocketCode: 2,
  binary: true,
  encode(message) {
    try {
      return encoder.encode(message);
    } catch (e) {
      if (!String((e as Error).message).includes('BigInt')) throw e;
      return bigIntEncoder.encode(largeIntsToBigInt(message));
    }
  },
  decode(data, limits = DEFAULT_DECODE_LIMITS) {
    if (typeof data === 'string') throw new Error('MessagePack arrives in binary frames, got a text frame');
    scanMsgpack(data, limits);
    return decoder.decode(data);
  },
};
