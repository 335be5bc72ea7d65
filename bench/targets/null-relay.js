// A null relay for the cluster bench's topology floor (bench/cluster.js,
// call-light, 'hops alone (2 null relays over NATS)'): a router node with the
// WAMP removed and the hops kept. A ws server on a free loopback port; every
// frame its one client sends is published on NATS subject OUT, and every NATS
// message on subject IN is sent to that client. No parsing, no routing, no
// batching: two of these over NATS are what any design that puts NATS between
// two router processes pays on this machine before doing any routing work.
//
//   node bench/targets/null-relay.js NATS_URL IN OUT
//
// It writes "ready PORT" on stderr once it is subscribed and listening, and
// exits on SIGTERM. The NATS client is the router's (@nats-io/transport-node,
// resolved from router/, noEcho as a cluster node connects) and so is `ws`.
import { pathToFileURL } from 'node:url';
import { WebSocketServer, routerRequire } from '../lib/deps.js';

const [natsUrl, inSubject, outSubject] = process.argv.slice(2);
if (!natsUrl || !inSubject || !outSubject) {
  process.stderr.write('usage: node bench/targets/null-relay.js NATS_URL IN_SUBJECT OUT_SUBJECT\n');
  process.exit(2);
}

const { connect } = await import(pathToFileURL(routerRequire.resolve('@nats-io/transport-node')).href);
const nc = await connect({ servers: natsUrl, noEcho: true });

let client = null;
nc.subscribe(inSubject, { callback: (err, m) => { if (!err && client) client.send(m.data, { binary: false }); } });
await nc.flush();

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => {
  client = ws; // one client: the newest
  ws.on('message', (data) => nc.publish(outSubject, data));
  ws.on('close', () => { if (client === ws) client = null; });
  ws.on('error', () => {});
});
await new Promise((resolve, reject) => { wss.once('listening', resolve); wss.once('error', reject); });
process.stderr.write(`ready ${wss.address().port}\n`);

process.on('SIGTERM', () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  nc.close().then(() => process.exit(0), () => process.exit(0));
});
