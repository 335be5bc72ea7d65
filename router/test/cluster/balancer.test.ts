// The test balancer (balancer.ts) on its own: round robin over live nodes,
// bytes both ways, both sides closed together, everything closed at stop.
import t from 'tap';
import net from 'node:net';
import { startBalancer } from './balancer.js';
import { freePort, sleep } from '../helpers.js';

/** A node that greets with its name, then echoes; it remembers its open sockets. */
async function echoNode(name: string): Promise<{ port: number; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.write(`${name}:`);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: async () => { for (const s of sockets) s.destroy(); await new Promise<void>((r) => server.close(() => r())); },
  };
}

/** Connects to the balancer, sends `text`, resolves with everything read until `want` bytes arrived. */
function exchange(port: number, text: string, want: number): Promise<{ socket: net.Socket; got: string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    let got = '';
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= want) resolve({ socket, got, closed });
    });
    socket.write(text);
  });
}

t.test('round robin over live nodes, bytes both ways, closing together', async (t) => {
  const nodes = await Promise.all(['a', 'b', 'c'].map(echoNode));
  const dead = await freePort();
  const targets = [...nodes.map((n) => ({ port: n.port })), { port: dead }];
  const lb = await startBalancer(() => targets);
  t.teardown(async () => { await lb.stop(); for (const n of nodes) await n.close(); });

  // 4 targets, the 4th never live: a, b, c, then the dead one is skipped (a), then b.
  const got: string[] = [];
  const held = [];
  for (let i = 0; i < 5; i++) {
    const x = await exchange(lb.port, `hello${i}`, 2 + 6);
    got.push(x.got);
    held.push(x);
  }
  t.same(got, ['a:hello0', 'b:hello1', 'c:hello2', 'a:hello3', 'b:hello4'], 'each connection to the next live node; the dead one skipped');
  t.same(lb.picks, [0, 1, 2, 0, 1]);
  t.equal(lb.open(), 5);

  // A big message both ways, unchanged.
  const big = 'x'.repeat(200_000);
  const x = await exchange(lb.port, big, 2 + big.length);
  t.ok(x.got === `c:${big}`, `200 kB through and back unchanged (got ${x.got.length} bytes, starting ${x.got.slice(0, 4)})`);

  // A node closing its side closes the client's; a client closing closes the node's.
  await nodes[0]!.close();
  await held[0]!.closed;
  t.pass('node a went: its client was closed');
  const before = nodes[1]!.sockets.size;
  held[1]!.socket.destroy();
  for (let i = 0; i < 100 && nodes[1]!.sockets.size === before; i++) await sleep(10);
  t.equal(nodes[1]!.sockets.size, before - 1, 'a client gone: its node connection closed');

  // Node a is gone for good now: new connections skip it.
  const after = await exchange(lb.port, 'again', 2 + 5);
  t.match(after.got, /^[bc]:again$/);
  t.notOk(lb.picks.slice(-1).includes(0), 'not sent to the dead node');

  // stop() closes every open connection.
  const open = held.slice(2).map((h) => h.closed).concat(x.closed, after.closed);
  await lb.stop();
  await Promise.all(open);
  t.equal(lb.open(), 0, 'all closed at stop');
});

t.test('no live node: the client is closed', async (t) => {
  const lb = await startBalancer([{ port: await freePort() }]);
  t.teardown(() => lb.stop());
  const socket = net.connect(lb.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('close', () => r()));
  t.same(lb.picks, [-1]);
});
