// What a session needs from the thing that carries its bytes. WebSocket,
// RawSocket and the in-process transport all implement this, so sessions,
// realms, brokers and dealers never know which one they talk through.
import type { Serializer } from '../serializers/index.js';
import type { RouterMessage } from '../messages/types.js';
import type { Outgoing } from './outgoing.js';

export type TransportKind = 'websocket' | 'rawsocket' | 'local';

export interface TransportInfo {
  kind: TransportKind;
  /** e.g. `tcp4:127.0.0.1:53211` (Crossbar's peer format) or `local`. */
  peer: string;
  /** The reverse proxy the client came through, when a trusted proxy forwarded it (`peer` is then the client, port 0). */
  proxy?: string;
  /** Serializer id (`json`, `msgpack`, `cbor`) or `local`. */
  serializer: string;
  /** WebSocket path the session connected on, if any. */
  path?: string;
  /** Name of the listener (transport id from config). */
  listener?: string;
  /** HTTP headers of the WebSocket upgrade, if any. */
  httpHeaders?: Record<string, string | string[] | undefined>;
  /**
   * The client address per-address limits count by: the TCP peer's IP, or
   * the forwarded client's behind a trusted proxy, or `unknown` when a
   * trusted proxy forwarded something that is not an address (all such
   * clients share one count). Undefined for in-process sessions and for a
   * trusted proxy's own connections, which are not counted per address.
   */
  address?: string;
}

export interface Transport {
  readonly info: TransportInfo;
  /** Null for in-process transports that take typed messages. */
  readonly serializer: Serializer | null;
  send(message: Outgoing): void;
  /** Delivers a typed message to an in-process peer (local transports only). */
  deliverLocal?(message: RouterMessage): void;
  /** Close after what was sent is flushed. */
  close(code?: number, reason?: string): void;
  /** Bytes queued but not yet written to the socket. */
  bufferedAmount(): number;
  /** The session was welcomed: the endpoint's max_message_size applies from now on instead of max_handshake_size. */
  established?(): void;
}

/** Callbacks a transport uses to feed its session. */
export interface TransportSink {
  /** One inbound message; `byteLength` is its size on the wire (JSON arrives as a string). */
  receive(data: Uint8Array | string, byteLength?: number): void;
  /** Framing-level violation found by the transport itself. */
  protocolViolation(message: string): void;
  transportClosed(): void;
  /** The peer's unsent data passed the endpoint's max_send_buffer (a slow consumer). */
  sendBufferExceeded?(buffered: number, limit: number): void;
}
