// A TCP load balancer for tests, as nginx's `stream` round robin in front of a
// cluster: each new client connection goes to the next node of the list; a
// node whose connect fails (killed, not started yet) is skipped for that
// connection and the next is tried. Bytes are piped both ways untouched
// (WebSocket, RawSocket, HTTP alike); when either side closes or fails, both
// are closed together, as a proxy does. Used by the cluster suites here and by
// system/test (the claw system on a cluster).
import net from 'node:net';

export interface Target { host?: string; port: number }

export interface Balancer {
  port: number;
  /** ws://127.0.0.1:PORT/ws */
  url: string;
  /** The node each accepted connection was sent to, in order (its index in `targets`; -1: none was live). */
  readonly picks: number[];
  /** Client connections open right now. */
  open(): number;
  /** Closes the listener and every piped connection. */
  stop(): Promise<void>;
}

/** Connects to `t`; resolves with the socket once connected, or undefined when the connect fails. */
function dial(t: Target): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(t.port, t.host ?? '127.0.0.1');
    s.setNoDelay(true);
    const fail = (): void => { s.destroy(); resolve(undefined); };
    s.once('error', fail);
    s.once('connect', () => { s.off('error', fail); resolve(s); });
  });
}

/**
 * A balancer on a free 127.0.0.1 port over `targets` (a function: the list
 * may change, e.g. a restarted node on a new port). The first connection
 * goes to targets[0], the next to targets[1], and so on round the list
 * (after a skipped node, on from the node that took the connection).
 */
export async function startBalancer(targets: Target[] | (() => Target[])): Promise<Balancer> {
  const list = typeof targets === 'function' ? targets : () => targets;
  const pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  const picks: number[] = [];
  let next = 0;

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    pairs.add(pair);
    client.setNoDelay(true);
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.once('error', end);
    client.once('close', end);
    const start = next;
    next = (next + 1) % Math.max(1, list().length);
    void (async () => {
      const nodes = list();
      for (let i = 0; i < nodes.length && !ended; i++) {
        const at = (start + i) % nodes.length;
        const upstream = await dial(nodes[at]!);
        if (upstream === undefined) continue;
        if (ended) { upstream.destroy(); return; }
        picks.push(at);
        // A skipped node: the next connection goes to the one after this one, as if the dead one were not listed.
        if (at !== start) next = (at + 1) % nodes.length;
        pair.upstream = upstream;
        upstream.once('error', end);
        upstream.once('close', end);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        return;
      }
      if (!ended) picks.push(-1);
      end();
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    picks,
    open: () => pairs.size,
    stop: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const p of [...pairs]) { p.client.destroy(); p.upstream?.destroy(); }
      pairs.clear();
      await closed;
    },
  };
}
