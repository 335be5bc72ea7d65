import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Serializer } from './serializer.js';

// BigInts (from CBOR peers) are written as 64-bit integers; reading keeps
// numbers (ids never exceed 2^53).
// Reused instances: @msgpack/msgpack keeps an internal buffer per encoder,
// which is what makes it fast. Node is single-threaded, so sharing is safe.
const encoder = new Encoder({ ignoreUndefined: true, useBigInt64: true });
const decoder = new Decoder();

export const msgpackSerializer: Serializer = {
  id: 'msgpack',
  wsProtocol: 'wamp.2.msgpack',
  rawsocketCode: 2,
  binary: true,
  encode(message) {
    return encoder.encode(message);
  },
  decode(data) {
    if (typeof data === 'string') throw new Error('MessagePack arrives in binary frames, got a text frame');
    return decoder.decode(data);
  },
};
