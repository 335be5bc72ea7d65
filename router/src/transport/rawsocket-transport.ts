// WAMP RawSocket (spec §"RawSocket Transport"): a 4-byte handshake
// (0x7F, max-length exponent and serializer, two reserved zero bytes), then
// frames of a 4-byte header (3 bits type: 0 message, 1 PING, 2 PONG; 24 bits
// length) and a payload.
//
// Framing keeps the TCP chunks it has received in a list with a byte count
// and takes bytes off the front (`consume`, as ws's receiver does), so each
// byte is copied at most once, into the frame it belongs to. Concatenating
// the buffer with every new chunk instead copied a 16 MiB frame once per
// 64 KiB chunk: 2 GiB of copying, 3 s of a blocked event loop. A frame's
// length is checked against the limit when its header arrives, before any
// of its payload is kept: the endpoint's max_message_size once the session
// is established, max_handshake_size before.
import type { Socket } from 'node:net';
import { serializerByRawsocketCode, type Serializer, type SerializerId } from '../serializers/index.js';
import type { Outgoing } from './outgoing.js';
import type { Transport, TransportInfo, TransportSink } from './transport.js';
import { peerOf } from '../net/peer-name.js';
import { WriteBatch } from './write-batch.js';
import { sendBufferExceeded } from '../limits/send-buffer.js';
import { isUnixSocket } from '../net/socket-tags.js';
import type { LivenessConfig } from '../limits/limits-config.js';
import type { Pingable } from './liveness.js';

export const RAWSOCKET_MAGIC = 0x7f;

export const RawSocketError = {
  illegal: 0,
  serializerUnsupported: 1,
  maxLengthUnacceptable: 2,
  reservedBitsUsed: 3,
  maxConnectionCount: 4,
} as const;

const FRAME_MESSAGE = 0;
const FRAME_PING = 1;
const FRAME_PONG = 2;

/** The largest exponent n (length 2^(9+n)) not above `maxMessageSize`, capped at 15 (16 MiB). */
export function lengthExponent(maxMessageSize: number): number {
  let n = 0;
  while (n < 15 && 2 ** (9 + n + 1) <= maxMessageSize) n++;
  return n;
}

export interface RawSocketOptions {
  serializers: readonly SerializerId[];
  maxMessageSize: number;
  listener: string;
  /** Unsent bytes before the peer is dropped as a slow consumer (default: no bound). */
  maxSendBuffer?: number;
  /** Largest frame before the session is established (default: maxMessageSize). */
  maxHandshakeSize?: number;
  /** The client address per-address limits count by (TransportInfo.address). */
  address?: string;
}

/** Reacts to the client's 4 handshake bytes: a transport, or an error code to send. */
export function acceptHandshake(hs: Buffer, opts: RawSocketOptions): { serializer: Serializer; clientMax: number } | { error: number } {
  if (hs[0] !== RAWSOCKET_MAGIC) return { error: RawSocketError.illegal };
  if (hs[2] !== 0 || hs[3] !== 0) return { error: RawSocketError.reservedBitsUsed };
  const serializer = serializerByRawsocketCode(hs[1]! & 0x0f);
  if (serializer === undefined || !opts.serializers.includes(serializer.id)) return { error: RawSocketError.serializerUnsupported };
  return { serializer, clientMax: 2 ** (9 + (hs[1]! >> 4)) };
}

const EMPTY = Buffer.alloc(0);

/** Waiting for a frame header, or for the payload of a frame whose header was read. */
const HEADER = -1;

export class RawSocketTransport implements Transport, Pingable {
  readonly info: TransportInfo;
  /** Anything arrived since the liveness sweep last looked (Pingable). */
  heard = false;
  /** The endpoint's auto_ping settings, when it has them (the listener adds this transport to its sweep). */
  liveness!: LivenessConfig;
  /** Received bytes not yet consumed: chunks in arrival order, and their total. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** HEADER, or the payload length of the frame being received. */
  private frameLength = HEADER;
  private frameType = FRAME_MESSAGE;
  private closed = false;
  private readonly ourMax: number;
  /** The frame size accepted now: max_handshake_size until the session is established. */
  private inboundMax: number;
  private readonly batch: WriteBatch;
  private readonly maxSendBuffer: number;
  /** Cleared when the peer stopped reading: nothing more is queued for it. */
  private sending = true;

  constructor(
    private readonly socket: Socket,
    readonly serializer: Serializer,
    private readonly clientMax: number,
    opts: RawSocketOptions,
    private readonly sink: () => TransportSink,
  ) {
    this.batch = new WriteBatch(socket);
    this.maxSendBuffer = opts.maxSendBuffer ?? Infinity;
    // We announce a power of two but enforce what was configured.
    this.ourMax = Math.min(2 ** (9 + lengthExponent(opts.maxMessageSize)), opts.maxMessageSize);
    this.inboundMax = Math.min(this.ourMax, opts.maxHandshakeSize ?? this.ourMax);
    this.info = {
      kind: 'rawsocket',
      peer: isUnixSocket(socket) ? 'unix' : peerOf(socket.remoteAddress, socket.remotePort),
      serializer: serializer.id,
      listener: opts.listener,
      ...(opts.address !== undefined ? { address: opts.address } : {}),
    };
  }

  established(): void {
    this.inboundMax = this.ourMax;
  }

  /** Feeds bytes that followed the handshake. */
  push(chunk: Buffer): void {
    if (this.closed) return;
    this.heard = true;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    while (!this.closed) {
      if (this.frameLength === HEADER) {
        if (this.buffered < 4) return;
        const header = this.consume(4).readUInt32BE(0);
        const type = (header >>> 24) & 0x07;
        const reserved = (header >>> 27) & 0x1f;
        const length = header & 0x00ffffff;
        if (reserved !== 0 || type > FRAME_PONG) {
          this.fail(`RawSocket frame with reserved bits or unknown type ${type}`);
          return;
        }
        if (length > this.inboundMax) {
          this.fail(this.inboundMax < this.ourMax
            ? `RawSocket frame of ${length} bytes before the session is established; the limit is ${this.inboundMax} bytes (max_handshake_size)`
            : `RawSocket frame of ${length} bytes exceeds the negotiated maximum of ${this.ourMax} bytes`);
          return;
        }
        this.frameLength = length;
        this.frameType = type;
      }
      if (this.buffered < this.frameLength) return;
      const length = this.frameLength;
      const payload = this.consume(length);
      this.frameLength = HEADER;
      if (this.frameType === FRAME_MESSAGE) {
        // A payload that shares a chunk with other frames is copied out, so a
        // binary value the decoder keeps does not hold the whole chunk.
        const own = payload.byteOffset === 0 && payload.buffer.byteLength === length ? payload : Buffer.from(payload);
        this.sink().receive(this.serializer.binary ? own : payload.toString('utf8'), length);
      } else if (this.frameType === FRAME_PING) {
        this.writeFrame(FRAME_PONG, payload);
      }
      // PONG: its arrival is all that counts (`heard`, for the liveness sweep).
    }
  }

  /**
   * The next `n` buffered bytes (n <= buffered): a view when they lie in the
   * first chunk, else one new buffer they are copied into once.
   */
  private consume(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (n === first.length) return this.chunks.shift()!;
    if (n < first.length) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n - at);
      c.copy(out, at, 0, take);
      at += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    return out;
  }

  /** A framing error: the session ABORTs with the reason and closes us. */
  private fail(reason: string): void {
    this.sink().protocolViolation(reason);
    this.close();
  }

  private writeFrame(type: number, payload: Buffer): void {
    if (!this.sending) return;
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(((type & 0x07) << 24) | payload.length, 0);
    this.batch.hold();
    const before = this.socket.writableLength;
    this.socket.write(header);
    this.socket.write(payload);
    // PONGs count too: a peer that sends PINGs and never reads must not grow our buffer.
    if (sendBufferExceeded(before, this.socket.writableLength, this.maxSendBuffer)) {
      this.sending = false;
      const buffered = this.socket.writableLength;
      process.nextTick(() => this.sink().sendBufferExceeded?.(buffered, this.maxSendBuffer));
    }
  }

  send(message: Outgoing): void {
    if (this.closed) return;
    const bytes = message.encoded(this.serializer);
    if (bytes.length > this.clientMax) {
      // The peer said it can't take this; dropping the connection is the only honest option.
      this.closed = true;
      this.socket.destroy();
      return;
    }
    this.writeFrame(FRAME_MESSAGE, bytes);
  }

  /** A RawSocket PING with the endpoint's payload (auto_ping_interval). */
  ping(): void {
    if (!this.closed) this.writeFrame(FRAME_PING, this.liveness.payload);
  }

  /** No answer to a PING: gone as a lost connection is. */
  dead(): void {
    this.closed = true;
    this.socket.destroy();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    // A peer that never reads must not keep the socket forever (a slow consumer's buffer least of all).
    setTimeout(() => this.socket.destroy(), this.sending ? 2000 : 1000).unref();
  }

  bufferedAmount(): number {
    return this.socket.writableLength;
  }
}
