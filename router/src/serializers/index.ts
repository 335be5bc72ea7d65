import type { Serializer, SerializerId, DecodeLimits } from './serializer.js';
import { jsonSerializer } from './json.js';
import { msgpackSerializer } from './msgpack.js';
import { cborSerializer } from './cbor.js';

export type { Serializer, SerializerId, DecodeLimits };
export { DEFAULT_DECODE_LIMITS, DEFAULT_MAX_MESSAGE_ELEMENTS, DEFAULT_MAX_MESSAGE_DEPTH, DecodeLimitExceeded } from './serializer.js';
export { jsonSerializer, msgpackSerializer, cborSerializer };

export const serializers: readonly Serializer[] = [jsonSerializer, msgpackSerializer, cborSerializer];

export const serializerById = (id: string): Serializer | undefined => serializers.find((s) => s.id === id);
export const serializerByWsProtocol = (p: string): Serializer | undefined => serializers.find((s) => s.wsProtocol === p);
export const serializerByRawsocketCode = (c: number): Serializer | undefined => serializers.find((s) => s.rawsocketCode === c);
