// A free TCP port to hand to a process that binds it later (Janus's
// transports, the test suites' routers, databases and NATS servers).
//
// The usual way, listen(0) then close, returns a port from the kernel's
// ephemeral range: the same range every outgoing connection takes its local
// port from, and every other listen(0). Between the close and the real bind,
// any connection on the box can take it; with several test files on two
// cores that happened (EADDRINUSE in CI). So the port is picked at random
// below that range, where the kernel hands out nothing by itself, and checked
// by binding it.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 10_000;
const TRIES = 50;
/** Ports this process handed out: never twice (a caller may ask for several before binding any). */
const handedOut = new Set<number>();

/** The low end of the kernel's ephemeral port range (Linux's default when it can't be read). */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > LOWEST + 1000 && low <= 65535) return low;
  } catch { /* not Linux */ }
  return 32768;
}

function bindable(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen({ port, host, exclusive: true }, () => {
      const bound = (s.address() as { port: number }).port;
      s.close(() => resolve(bound));
    });
  });
}

/** A port nothing listens on at `host` now, outside the ephemeral range when one is free there. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const high = ephemeralLow() - 1;
  for (let i = 0; i < TRIES; i++) {
    const candidate = LOWEST + Math.floor(Math.random() * (high - LOWEST + 1));
    if (handedOut.has(candidate)) continue;
    const port = await bindable(candidate, host);
    if (port !== undefined && !handedOut.has(port)) { handedOut.add(port); return port; }
  }
  const port = await bindable(0, host);
  if (port === undefined) throw new Error(`no free TCP port on ${host}`);
  handedOut.add(port);
  return port;
}
