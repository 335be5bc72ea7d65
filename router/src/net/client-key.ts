// The key per-address limits count a client under: connections and sessions
// per address, the HTTP paths' rate limit, and (exported) the backend's
// guest and queue quotas. IPv4: the address. IPv6: its /64, because one
// subscriber usually gets a whole /64 (or more) and can pick any address in
// it at will; counting single IPv6 addresses would give one client 2^64
// quotas.
import net from 'node:net';
import { unmapIPv4 } from './ip-allow.js';
import type { ClientAddress, TrustedProxies } from './forwarded.js';

/** The one key every client without a usable address shares (fail closed: see forwarded.ts). */
export const UNKNOWN_CLIENT = 'unknown';

/** `1.2.3.4` (IPv4-mapped IPv6 unmapped), `2001:db8:0:1::/64`, or UNKNOWN_CLIENT. */
export function clientKey(address: string | undefined): string {
  if (address === undefined) return UNKNOWN_CLIENT;
  const a = unmapIPv4(address);
  switch (net.isIP(a)) {
    case 4: return a;
    case 6: return `${ipv6Prefix64(a)}::/64`;
    default: return UNKNOWN_CLIENT;
  }
}

/** The first four hextets of a valid IPv6 address, lower case, leading zeros dropped (`2001:db8:0:1`). */
function ipv6Prefix64(address: string): string {
  const zone = address.indexOf('%');
  const bare = (zone < 0 ? address : address.slice(0, zone)).toLowerCase();
  // An embedded IPv4 tail (`::ffff:0:1.2.3.4`) stands for the last two hextets.
  const hextets = (part: string): string[] => (part === '' ? [] : part.split(':').flatMap((h) => (h.includes('.') ? ['0', '0'] : [h])));
  const gap = bare.indexOf('::');
  let all: string[];
  if (gap < 0) {
    all = hextets(bare);
  } else {
    const head = hextets(bare.slice(0, gap));
    const tail = hextets(bare.slice(gap + 2));
    all = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  }
  return all.slice(0, 4).map((h) => Number.parseInt(h, 16).toString(16)).join(':');
}

/**
 * The key a connection or session is counted under per address, or
 * undefined for a trusted proxy's own connection (one that forwarded
 * nobody), which is never counted: the proxy carries everyone's
 * connections. A forwarded client is counted under its own key, or
 * UNKNOWN_CLIENT when the proxy forwarded something that is not an address.
 */
export function addressKey(client: Pick<ClientAddress, 'address' | 'proxy'>, trusted: TrustedProxies | undefined): string | undefined {
  if (client.proxy === undefined && client.address !== undefined && trusted !== undefined && trusted.trusts(client.address)) return undefined;
  return clientKey(client.address);
}
