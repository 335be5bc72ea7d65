// A serializer turns a wire array into bytes and back. One instance per
// format, shared by all sessions (they hold no per-connection state).

export type SerializerId = 'json' | 'msgpack' | 'cbor';

/**
 * What one inbound message may cost to decode. Decoding time and memory
 * follow the number of values in a message, not its size in bytes (a
 * 16 KiB MessagePack message can declare 16 M-element arrays; a 100-byte CBOR
 * one can reference one value millions of times), so every decode is
 * preceded by a structural scan against these bounds (docs/security.md,
 * "Decoding").
 */
export interface DecodeLimits {
  /** Values in one message, every array, map, map key and scalar counted. */
  maxElements: number;
  /** Nesting of arrays and maps; the message's own list is depth 1. */
  maxDepth: number;
}

export const DEFAULT_MAX_MESSAGE_ELEMENTS = 32_768;
export const DEFAULT_MAX_MESSAGE_DEPTH = 64;
export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxElements: DEFAULT_MAX_MESSAGE_ELEMENTS, maxDepth: DEFAULT_MAX_MESSAGE_DEPTH };

export interface Serializer {
  readonly id: SerializerId;
  /** WebSocket subprotocol, e.g. `wamp.2.json`. */
  readonly wsProtocol: string;
  /** RawSocket handshake serializer code (1 JSON, 2 MessagePack, 3 CBOR). */
  readonly rawsocketCode: number;
  /** Whether WebSocket frames are binary (text for JSON). */
  readonly binary: boolean;
  encode(message: unknown[]): string | Uint8Array;
  /** Throws on bytes that are not a valid document of this format, or that exceed `limits` (checked before decoding). */
  decode(data: Uint8Array | string, limits?: DecodeLimits): unknown;
}

/** A message over its DecodeLimits (as opposed to bytes that are not valid at all). */
export class DecodeLimitExceeded extends Error {}

/** Shared by the scanners: a running count of values and the nesting stack. */
export function tooMany(limits: DecodeLimits): DecodeLimitExceeded {
  return new DecodeLimitExceeded(`more than ${limits.maxElements} values in one message (max_message_elements)`);
}

export function tooDeep(limits: DecodeLimits): DecodeLimitExceeded {
  return new DecodeLimitExceeded(`nested deeper than ${limits.maxDepth} levels (max_message_depth)`);
}
