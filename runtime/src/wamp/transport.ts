// The WebSocket transport of the Node link (registered with autobahn as
// `clawgate-websocket`): autobahn's own `websocket` transport, but on a `ws`
// socket of our own with bounds, instead of whatever global WebSocket the
// process has (in an embedding process that may be another package's; on
// Node 22+ a native one without these bounds):
// - maxPayload: a message larger than this (after decompression) closes the
//   connection (ws answers 1009) instead of being buffered and decoded. The
//   link then reconnects (and the claw node's safety layer releases every
//   line, as on any disconnect). Nothing a node or the backend legitimately
//   receives comes near it;
// - no permessage-deflate: compression only lets a sender make us inflate far
//   more than it sent;
// - JSON only, and a message that does not decode closes the connection
//   (autobahn's would throw out of the socket's event handler).
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { autobahn } from './autobahn.js';

const require = createRequire(import.meta.url);

export const TRANSPORT_TYPE = 'clawgate-websocket';

interface Serializer { SERIALIZER_ID: string; serialize(o: unknown): string; unserialize(p: string): unknown }
interface WampTransport {
  serializer: Serializer;
  info: { type: string; url: string; protocol: string | null };
  onmessage(msg: unknown): void;
  onopen(): void;
  onclose(details: { code: number; reason: string; wasClean: boolean }): void;
  send(msg: unknown): void;
  close(code?: number, reason?: string): void;
}

export interface TransportOptions { url: string; maxPayload: number; onOversized?: () => void }

class BoundedWebSocketFactory {
  readonly type = 'websocket';
  constructor(private readonly options: TransportOptions) {}

  create(): WampTransport {
    const { JSONSerializer } = require('autobahn/lib/serializer.js') as { JSONSerializer: new () => Serializer };
    const serializer = new JSONSerializer();
    const ws = new WebSocket(this.options.url, ['wamp.2.json'], { maxPayload: this.options.maxPayload, perMessageDeflate: false });
    const transport: WampTransport = {
      serializer,
      info: { type: 'websocket', url: this.options.url, protocol: null },
      onmessage: () => {},
      onopen: () => {},
      onclose: () => {},
      send: (msg) => { ws.send(serializer.serialize(msg)); },
      close: (code, reason) => { ws.close(code, reason); },
    };
    // Errors (refused connection, a frame over maxPayload) are followed by 'close', which is what autobahn acts on.
    ws.on('error', (e: Error & { code?: string }) => { if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.options.onOversized?.(); });
    ws.on('open', () => { transport.info.protocol = ws.protocol; transport.onopen(); });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      let msg: unknown;
      try {
        if (isBinary) throw new Error('binary frame on a JSON connection');
        msg = serializer.unserialize(data.toString());
      } catch {
        ws.close(1007, 'undecodable message');
        return;
      }
      transport.onmessage(msg);
    });
    ws.on('close', (code: number, reason: Buffer) => { transport.onclose({ code, reason: reason.toString(), wasClean: code === 1000 }); });
    return transport;
  }
}

let registered = false;

/** Registers the transport with autobahn (once per process; autobahn's registry is a module singleton). */
export function registerBoundedTransport(): void {
  if (registered) return;
  registered = true;
  autobahn.transports.register(TRANSPORT_TYPE, BoundedWebSocketFactory);
}
