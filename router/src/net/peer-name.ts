// How a client is named in logs, session details and what authenticators
// see: Crossbar's `tcp4:<address>:<port>` / `tcp6:...` peer string.

export function peerOf(address: string | undefined, port: number | undefined, family?: string): string {
  const fam = family === 'IPv6' || (address?.includes(':') ?? false) ? 'tcp6' : 'tcp4';
  return `${fam}:${address ?? 'unknown'}:${port ?? 0}`;
}
