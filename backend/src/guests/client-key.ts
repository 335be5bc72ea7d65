// The key a client address is counted under for guest minting and queue
// quotas. IPv4: the address. IPv6: its /64, because one subscriber usually
// gets a whole /64 (or more) and can pick any address in it at will; counting
// single IPv6 addresses would give one client 2^64 quotas.
import net from 'node:net';

/** What an unknown address (no peer address, e.g. a closed socket) is counted as: one shared key. */
export const UNKNOWN_CLIENT = 'unknown';

/** The quota key of a client address: `1.2.3.4`, `2001:db8:0:1::/64`, or `unknown`. */
export function clientKey(address: string | undefined): string {
  if (address === undefined) return UNKNOWN_CLIENT;
  const a = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (net.isIPv4(a)) return a;
  if (!net.isIPv6(a)) return UNKNOWN_CLIENT;
  return `${expandIPv6(a).slice(0, 4).map((h) => h.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address (zone id dropped; an embedded IPv4 tail converted). */
function expandIPv6(address: string): string[] {
  let a = address.toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    a = `${a.slice(0, -v4[1]!.length)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = a.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  if (tail === undefined) return left;
  const right = tail === '' ? [] : tail.split(':');
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
}
