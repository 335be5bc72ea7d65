// Who is really on the other end when the router sits behind a reverse proxy
// (nginx, Caddy, a load balancer). The TCP peer is then the proxy, so every
// decision made on the peer (the HTTP bridge's require_ip and require_tls,
// the loopback-only /metrics, the peer in logs, session details and what
// dynamic authenticators see) would be about the proxy. A transport's
// `trusted_proxies` names the proxies whose X-Forwarded-For and
// X-Forwarded-Proto headers are believed; from anyone else the headers are
// ignored, since any client can send them.
//
// X-Forwarded-For is a list each proxy appends its peer to. Read from the
// right, entries added by trusted proxies are skipped; the first entry that
// is not a trusted proxy is the client. Anything left of it was written by
// the client itself and is never believed.
//
// Fail closed: when a trusted proxy forwards an entry that is not an IP
// address (`unknown`, an obfuscated `_hidden`, garbage) before the walk
// found the client, the client is unknown: `address` is undefined (no
// allowlist matches it: require_ip refuses, /metrics refuses), `proxy` is
// set (it was forwarded), and per-address limits count every such client in
// one shared bucket, `unknown` (client-key.ts). It is never taken for the
// proxy itself, which would make a remote client look like loopback.
import net from 'node:net';
import { IpAllowList, LOOPBACK_NETWORKS, cidrError, unmapIPv4 } from './ip-allow.js';

/** Names accepted in `trusted_proxies` besides CIDR networks and addresses. */
const NAMED: Record<string, readonly string[]> = {
  loopback: LOOPBACK_NETWORKS,
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** Why `entry` is not a usable `trusted_proxies` entry, or undefined. */
export function trustedProxyError(entry: string): string | undefined {
  if (NAMED[entry] !== undefined) return undefined;
  const bad = cidrError(entry);
  return bad === undefined ? undefined : `${bad} (or one of ${Object.keys(NAMED).join(', ')})`;
}

export class TrustedProxies {
  private readonly list: IpAllowList;

  /** Throws on an entry trustedProxyError() rejects. */
  constructor(readonly entries: readonly string[]) {
    this.list = new IpAllowList(entries.flatMap((e) => NAMED[e] ?? [e]));
  }

  trusts(address: string | undefined): boolean {
    return this.list.allows(address);
  }
}

/** The client as the router should see it. */
export interface ClientAddress {
  /**
   * The client's IP address (the TCP peer unless a trusted proxy forwarded
   * it). Undefined when a trusted proxy forwarded something that is not an
   * address (then `proxy` is set): treat it as unknown, in one bucket
   * (`UNKNOWN_CLIENT`, client-key.ts) for per-address limits, matched by no
   * allowlist.
   */
  address: string | undefined;
  /** The client's source port, when it is the TCP peer (a forwarded client's port is not known). */
  port: number | undefined;
  /** The client reached the proxy over TLS (or reached us over TLS directly). */
  encrypted: boolean;
  /** The TCP peer, when it was a trusted proxy that forwarded someone else. */
  proxy: string | undefined;
}

/** Strips an IPv4-mapped prefix and brackets/port that some proxies leave on entries. */
function normalize(entry: string): string | undefined {
  let e = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(e);
  if (bracketed) e = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(e)) e = e.slice(0, e.lastIndexOf(':'));
  e = unmapIPv4(e);
  return net.isIP(e) === 0 ? undefined : e;
}

/** A header's value; a repeated header's values joined as one list. */
function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The client behind `peer`: `headers` are believed only when `peer` is a
 * trusted proxy. A malformed X-Forwarded-For entry met before the client
 * makes the client unknown (fail closed; see the top of this file).
 */
export function clientAddress(
  peer: { address: string | undefined; port: number | undefined; encrypted: boolean },
  headers: Record<string, string | string[] | undefined>,
  trusted: TrustedProxies | undefined,
): ClientAddress {
  const direct: ClientAddress = { address: peer.address, port: peer.port, encrypted: peer.encrypted, proxy: undefined };
  if (trusted === undefined || !trusted.trusts(peer.address)) return direct;
  const xff = headerValue(headers['x-forwarded-for']);
  if (xff === undefined || xff.trim() === '') return direct;
  const hops = xff.split(',');
  let client: string | undefined;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalize(hops[i]!);
    client = hop;
    if (hop === undefined || !trusted.trusts(hop)) break;
  }
  // Like express's req.protocol: the first value, from a trusted proxy.
  const proto = headerValue(headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
  return {
    address: client,
    port: undefined,
    encrypted: proto === undefined ? peer.encrypted : proto === 'https' || proto === 'wss',
    proxy: peer.address,
  };
}

/** The trusted proxies of the listener that accepted a socket (set by the listener). */
const trustBySocket = new WeakMap<object, TrustedProxies>();

export function trustProxiesOn(socket: object, trusted: TrustedProxies | undefined): void {
  if (trusted !== undefined) trustBySocket.set(socket, trusted);
}

/** The client of an HTTP request or WebSocket upgrade, under its listener's `trusted_proxies`. */
export function clientOfRequest(req: { socket: object; headers: Record<string, string | string[] | undefined> }): ClientAddress {
  const s = req.socket as { remoteAddress?: string; remotePort?: number; encrypted?: boolean };
  return clientAddress({ address: s.remoteAddress, port: s.remotePort, encrypted: s.encrypted === true }, req.headers, trustBySocket.get(req.socket));
}
