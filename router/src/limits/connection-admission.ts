// Whether a listener takes one more TCP connection: its open connections
// (max_connections) and the open connections of the client's address
// (max_connections_per_address). The decision is pure; ConnectionCounts is
// the listener's tally it is made on.
import type { ListenerLimits } from './limits-config.js';

export class ConnectionCounts {
  /** Open connections on the listener. */
  total = 0;
  private readonly byAddress = new Map<string, number>();

  /** Connections counted under `address` now. */
  at(address: string): number {
    return this.byAddress.get(address) ?? 0;
  }

  /** `address` undefined: counted in the total only; `inTotal` false: counted per address only (an upgrade through a proxy, whose TCP connection is already in the total). */
  open(address: string | undefined, inTotal = true): void {
    if (inTotal) this.total++;
    if (address !== undefined) this.byAddress.set(address, this.at(address) + 1);
  }

  close(address: string | undefined, inTotal = true): void {
    if (inTotal) this.total--;
    if (address === undefined) return;
    const n = this.at(address) - 1;
    if (n <= 0) this.byAddress.delete(address); else this.byAddress.set(address, n);
  }

  /** Distinct addresses counted now (the map stays as small as the open connections). */
  get addresses(): number {
    return this.byAddress.size;
  }
}

/** Why one more connection (from `address`; undefined: not counted per address) is refused, or undefined. */
export function connectionRefusal(limits: Pick<ListenerLimits, 'maxConnections' | 'maxConnectionsPerAddress'>, counts: ConnectionCounts, address: string | undefined): string | undefined {
  if (limits.maxConnections !== null && counts.total >= limits.maxConnections) {
    return `this listener has ${counts.total} open connections (max_connections ${limits.maxConnections})`;
  }
  if (address !== undefined && limits.maxConnectionsPerAddress !== null && counts.at(address) >= limits.maxConnectionsPerAddress) {
    return `too many connections from ${address} (max_connections_per_address ${limits.maxConnectionsPerAddress})`;
  }
  return undefined;
}
