// Which RTP port each machine's camera sends to (pure). A machine keeps its
// port for as long as the service runs, across its node's reconnects and a
// restart of Janus (the camera pipeline keeps sending to the same place and
// the re-created mountpoint picks the stream up again); a port goes to
// another machine only when the range is full, the longest unused first.
// Ports are even (RTP convention; the odd one above is left for RTCP).

export interface PortRange { min: number; max: number }

/** How many machines the range holds. */
export function capacity(r: PortRange): number {
  const first = r.min + (r.min % 2);
  return first > r.max ? 0 : Math.floor((r.max - first) / 2) + 1;
}

/**
 * The port for `machine`: the one it had; else `preferred` (the port its
 * camera sends to, from an earlier run of the service) when it is in the
 * range, even and free; else the lowest free one; else the
 * port of the machine unused longest among `idle` (machines without a
 * mountpoint now), which loses it. `undefined`: the range is full of machines
 * in use.
 */
export function allocatePort(
  r: PortRange,
  assigned: ReadonlyMap<string, { port: number; lastUsed: number }>,
  machine: string,
  inUse: (machine: string) => boolean,
  preferred?: number,
): { port: number; evict?: string } | undefined {
  const mine = assigned.get(machine);
  if (mine !== undefined) return { port: mine.port };
  const taken = new Set([...assigned.values()].map((a) => a.port));
  if (preferred !== undefined && preferred >= r.min && preferred <= r.max && preferred % 2 === 0 && !taken.has(preferred)) return { port: preferred };
  for (let p = r.min + (r.min % 2); p <= r.max; p += 2) if (!taken.has(p)) return { port: p };
  let oldest: [string, { port: number; lastUsed: number }] | undefined;
  for (const entry of assigned) {
    if (inUse(entry[0])) continue;
    if (oldest === undefined || entry[1].lastUsed < oldest[1].lastUsed) oldest = entry;
  }
  return oldest === undefined ? undefined : { port: oldest[1].port, evict: oldest[0] };
}

/** The Janus mountpoint id of a port (stable, so a restarted service finds its own). */
export function mountpointId(port: number): number {
  return port;
}
