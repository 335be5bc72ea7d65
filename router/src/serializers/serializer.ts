// A serializer turns a wire array into bytes and back. One instance per
// format, shared by all sessions (they hold no per-connection state).

export type SerializerId = 'json' | 'msgpack' | 'cbor';

export interface Serializer {
  readonly id: SerializerId;
  /** WebSocket subprotocol, e.g. `wamp.2.json`. */
  readonly wsProtocol: string;
  /** RawSocket handshake serializer code (1 JSON, 2 MessagePack, 3 CBOR). */
  readonly rawsocketCode: number;
  /** Whether WebSocket frames are binary (text for JSON). */
  readonly binary: boolean;
  encode(message: unknown[]): string | Uint8Array;
  /** Throws on bytes that are not a valid document of this format. */
  decode(data: Uint8Array | string): unknown;
}
