// WAMP over WebSocket (ws). The subprotocol picks the serializer; JSON goes
// in text frames, MessagePack and CBOR in binary frames.
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Serializer } from '../serializers/index.js';
import type { Outgoing } from './outgoing.js';
import type { Transport, TransportInfo, TransportSink } from './transport.js';
import { WriteBatch } from './write-batch.js';
import { sendBufferExceeded } from '../limits/send-buffer.js';
import { clientOfRequest } from '../net/forwarded.js';
import { peerOf } from '../net/peer-name.js';
import { isUnixSocket } from '../net/socket-tags.js';
import type { LivenessConfig } from '../limits/limits-config.js';
import type { LivenessSweep, Pingable } from './liveness.js';

/** How long a connection we are dropping may take to flush its close frame. */
const CLOSE_GRACE_MS = 1000;

/** A close reason must fit in a control frame (123 bytes of UTF-8). */
function truncateReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

export class WebSocketTransport implements Transport, Pingable {
  readonly info: TransportInfo;
  /** Anything arrived since the liveness sweep last looked (Pingable). */
  heard = false;
  /** The endpoint's auto_ping settings, when it has them (attachLiveness). */
  liveness!: LivenessConfig;
  private sink: TransportSink | null = null;
  private readonly batch: WriteBatch;
  /** Set when we are ending the connection ourselves: the close code and reason to use. */
  private ending: { code: number; reason: string } | null = null;
  /** Cleared when the peer stopped reading: nothing more is queued for it. */
  private sending = true;

  constructor(
    private readonly ws: WebSocket,
    readonly serializer: Serializer,
    req: IncomingMessage,
    listener: string,
    private readonly compressThreshold = Infinity,
    private readonly maxMessageSize = Infinity,
    private readonly maxSendBuffer = Infinity,
    /** The key per-address limits count this client under (TransportInfo.address). */
    address?: string,
  ) {
    this.batch = new WriteBatch(req.socket);
    // ws answers an incoming message over maxPayload by closing with 1009
    // and no reason, before any event tells us. Catch that close so the peer
    // first gets ABORT with a readable reason, then the 1009 close with one.
    const wsClose = ws.close.bind(ws);
    ws.close = (code?: number, data?: string | Buffer): void => {
      if (code === 1009 && this.ending === null && this.sink !== null) {
        const reason = `message larger than max_message_size (${this.maxMessageSize} bytes)`;
        this.ending = { code: 1009, reason };
        this.sink.protocolViolation(reason); // sends ABORT, then calls close() below
        this.endSoon();
      }
      wsClose(code, data);
    };
    const client = clientOfRequest(req);
    this.info = {
      kind: 'websocket',
      peer: isUnixSocket(req.socket) ? 'unix' : peerOf(client.address, client.port),
      ...(client.proxy !== undefined ? { proxy: peerOf(client.proxy, req.socket.remotePort) } : {}),
      serializer: serializer.id,
      path: (req.url ?? '/').split('?')[0],
      listener,
      httpHeaders: req.headers,
      ...(address !== undefined ? { address } : {}),
    };
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    this.ws.on('message', (data, isBinary) => {
      this.heard = true;
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      sink.receive(isBinary ? buf : buf.toString('utf8'), buf.length);
    });
    this.ws.on('close', () => sink.transportClosed());
    // Socket errors (resets, bad frames) end the session like a close does;
    // an oversize message is already being closed politely (see the constructor).
    this.ws.on('error', () => { if (this.ending === null) this.ws.terminate(); });
  }

  send(message: Outgoing): void {
    if (this.ws.readyState !== 1 || !this.sending) return;
    this.batch.hold();
    const before = this.ws.bufferedAmount;
    const bytes = message.encoded(this.serializer);
    // ws deflates every message when context takeover was negotiated (its
    // threshold only applies without it), and zlib runs on the thread pool:
    // ~0.7 ms and long tails per small message. Small WAMP messages gain
    // nothing from deflate, so only large ones are compressed.
    this.ws.send(bytes, { binary: this.serializer.binary, compress: bytes.length >= this.compressThreshold });
    if (sendBufferExceeded(before, this.ws.bufferedAmount, this.maxSendBuffer)) this.overflow();
  }

  /** The peer is not reading: stop queuing now, let the session drop it outside this send. */
  private overflow(): void {
    const buffered = this.ws.bufferedAmount;
    this.sending = false;
    this.ending = { code: 1008, reason: '' };
    process.nextTick(() => this.sink?.sendBufferExceeded?.(buffered, this.maxSendBuffer));
  }

  /** Whatever the close handshake does, the socket is gone shortly. */
  private endSoon(): void {
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  close(code = 1000, reason?: string): void {
    if (this.ending !== null) {
      // The reason for ending overrides the session's generic close.
      if (this.ending.code === 1008) this.endSoon();
      code = this.ending.code;
      reason = this.ending.reason || reason;
    }
    if (this.ws.readyState === 0 || this.ws.readyState === 1) this.ws.close(code, reason && truncateReason(reason));
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Pings this connection when it goes quiet (auto_ping_interval), from now until it closes. */
  attachLiveness(config: LivenessConfig, sweep: LivenessSweep): void {
    this.liveness = config;
    const heard = (): void => { this.heard = true; };
    this.ws.on('pong', heard);
    this.ws.on('ping', heard);
    sweep.add(this);
    this.ws.once('close', () => sweep.remove(this));
  }

  ping(): void {
    if (this.ws.readyState === 1) this.ws.ping(this.liveness.payload);
  }

  /** No answer to a ping: gone as a lost connection is (no close handshake with a peer that isn't there). */
  dead(): void {
    this.ws.terminate();
  }

  get attached(): boolean {
    return this.sink !== null;
  }
}
