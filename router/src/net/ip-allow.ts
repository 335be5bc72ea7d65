// An IP allowlist of CIDR networks (Crossbar's `require_ip`). IPv4-mapped
// IPv6 addresses (`::ffff:10.0.0.1`, what a socket on `::` reports for an
// IPv4 peer) are checked as the IPv4 address they are.
import net from 'node:net';

/** Loopback only: the default for `/metrics`. */
export const LOOPBACK_NETWORKS = ['127.0.0.0/8', '::1/128'];

/**
 * `192.168.1.0/255.255.255.0` (netmask notation, which Crossbar's examples use) →
 * `192.168.1.0/24`; anything else as it is. A mask whose ones are not contiguous
 * stays as written, and cidrError() names it.
 */
export function fromNetmask(network: string): string {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+\.\d+\.\d+\.\d+)$/.exec(network);
  if (m === null || net.isIP(m[2]!) !== 4) return network;
  const bits = m[2]!.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? `${m[1]}/${bits.indexOf('0') === -1 ? 32 : bits.indexOf('0')}` : network;
}

/** Why `network` is not a CIDR network or address (prefix length or IPv4 netmask), or undefined if it is one. */
export function cidrError(network: string): string | undefined {
  const mask = /^[^/]+\/(\d+\.\d+\.\d+\.\d+)$/.exec(network);
  if (mask !== null && fromNetmask(network) === network) return `"${network}": the netmask ${mask[1]} is not a run of ones followed by zeros`;
  network = fromNetmask(network);
  const [addr, prefix, ...rest] = network.split('/');
  if (rest.length > 0 || addr === undefined) return `"${network}" is not an IP network`;
  const family = net.isIP(addr);
  if (family === 0) return `"${network}" is not an IP address or CIDR network`;
  if (prefix === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `"${network}": prefix length must be 0-${max}${family === 4 ? ', or a netmask such as 255.255.255.0' : ''}`;
  return undefined;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; any other address as it is. */
export function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

export class IpAllowList {
  private readonly list = new net.BlockList();

  /** Throws on a network that cidrError() rejects. */
  constructor(readonly networks: readonly string[]) {
    for (const n of networks) {
      const bad = cidrError(n);
      if (bad !== undefined) throw new Error(bad);
      const [addr, prefix] = fromNetmask(n).split('/') as [string, string | undefined];
      const type = net.isIP(addr) === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(prefix), type);
    }
  }

  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const a = unmapIPv4(address);
    const family = net.isIP(a);
    if (family === 0) return false;
    return this.list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }
}
