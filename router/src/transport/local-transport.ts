// The in-process transport: no bytes, no serializer. Typed messages go
// straight to the embedding application's LocalSession.
import type { RouterMessage } from '../messages/types.js';
import type { Outgoing } from './outgoing.js';
import type { Transport, TransportInfo } from './transport.js';

export class LocalTransport implements Transport {
  readonly info: TransportInfo = { kind: 'local', peer: 'local', serializer: 'local' };
  readonly serializer = null;

  constructor(
    private readonly onMessage: (m: RouterMessage) => void,
    private readonly onClose: () => void,
  ) {}

  send(message: Outgoing): void {
    this.deliverLocal(message.message);
  }

  deliverLocal(message: RouterMessage): void {
    // Asynchronous like a socket, so handlers never re-enter the router mid-dispatch.
    queueMicrotask(() => this.onMessage(message));
  }

  close(): void {
    queueMicrotask(() => this.onClose());
  }

  bufferedAmount(): number {
    return 0;
  }
}
