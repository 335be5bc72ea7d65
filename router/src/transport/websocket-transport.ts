// WAMP over WebSocket (ws). The subprotocol picks the serializer; JSON goes
// in text frames, MessagePack and CBOR in binary frames.
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Serializer } from '../serializers/index.js';
import type { Outgoing } from './outgoing.js';
import type { Transport, TransportInfo, TransportSink } from './transport.js';
import { WriteBatch } from './write-batch.js';

export function peerOf(address: string | undefined, port: number | undefined, family?: string): string {
  const fam = family === 'IPv6' || (address?.includes(':') ?? false) ? 'tcp6' : 'tcp4';
  return `${fam}:${address ?? 'unknown'}:${port ?? 0}`;
}

export class WebSocketTransport implements Transport {
  readonly info: TransportInfo;
  private sink: TransportSink | null = null;
  private readonly batch: WriteBatch;

  constructor(
    private readonly ws: WebSocket,
    readonly serializer: Serializer,
    req: IncomingMessage,
    listener: string,
    private readonly compressThreshold = Infinity,
  ) {
    this.batch = new WriteBatch(req.socket);
    this.info = {
      kind: 'websocket',
      peer: peerOf(req.socket.remoteAddress, req.socket.remotePort),
      serializer: serializer.id,
      path: (req.url ?? '/').split('?')[0],
      listener,
      httpHeaders: req.headers,
    };
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    this.ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      sink.receive(isBinary ? buf : buf.toString('utf8'));
    });
    this.ws.on('close', () => sink.transportClosed());
    // Socket errors (resets, bad frames) end the session like a close does.
    this.ws.on('error', () => this.ws.terminate());
  }

  send(message: Outgoing): void {
    if (this.ws.readyState !== 1) return;
    this.batch.hold();
    const bytes = message.encoded(this.serializer);
    // ws deflates every message when context takeover was negotiated (its
    // threshold only applies without it), and zlib runs on the thread pool:
    // ~0.7 ms and long tails per small message. Small WAMP messages gain
    // nothing from deflate, so only large ones are compressed.
    this.ws.send(bytes, { binary: this.serializer.binary, compress: bytes.length >= this.compressThreshold });
  }

  close(code = 1000, reason?: string): void {
    if (this.ws.readyState === 0 || this.ws.readyState === 1) this.ws.close(code, reason);
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get attached(): boolean {
    return this.sink !== null;
  }
}
