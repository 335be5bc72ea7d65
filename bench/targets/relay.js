// The baseline: a WebSocket relay that moves frames between connections
// without parsing WAMP. It is what a router costs at the very least (accept,
// WebSocket framing, one write per recipient) with no routing logic at all.
//
// Design (so the load generator can drive it with the same shapes):
// - The role of a connection comes from its URL path, not from WAMP:
//     /pub     publisher   frames go to every /sub connection (fan-out)
//     /sub     subscriber  receives; anything it sends is dropped
//     /caller  caller      frames go to the (most recent) /callee
//     /callee  callee      each frame goes back to the caller whose frame it
//                          answers, matched by order: the relay keeps a FIFO of
//                          callers per forwarded call and pops one per reply.
//                          The load generator's callee answers in order, so
//                          no request id has to be read.
//     anything else        idle session (only the handshake below)
// - The first frame of every connection (the client's HELLO) is answered with
//   a canned WELCOME in the negotiated serializer, without reading the HELLO.
//   So a session still costs one round trip, as with a router.
// - Frames are forwarded as received: text stays text (JSON), binary stays
//   binary (MessagePack); one Buffer shared by all recipients.
// - Writes are batched per event-loop tick, as the router batches them
//   (router/src/transport/write-batch.ts): the first send to a socket in a
//   tick corks it and a nextTick uncorks it, so a subscriber that gets several
//   frames in one tick costs one syscall. Without this the relay would be a
//   floor, not the ceiling the ratios are meant against (the router
//   measured 2.3x an unbatched relay at fan-out 1000).
// The load generator reads args at the same positions in PUBLISH (what a /sub
// gets here) and EVENT (what a router delivers), and in CALL / INVOCATION and
// YIELD / RESULT, so its hot path is the same against every target.
import { WebSocketServer, msgpack } from '../lib/deps.js';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const WELCOME = [2, 1, { roles: { broker: {}, dealer: {} } }];
const welcome = {
  'wamp.2.json': { data: Buffer.from(JSON.stringify(WELCOME)), binary: false },
  'wamp.2.msgpack': { data: Buffer.from(msgpack.encode(WELCOME)), binary: true },
};

const corked = new Set();
function uncorkAll() {
  for (const sock of corked) sock.uncork();
  corked.clear();
}
function send(ws, data, binary) {
  const sock = ws._socket;
  if (sock && !corked.has(sock)) {
    if (corked.size === 0) process.nextTick(uncorkAll);
    corked.add(sock);
    sock.cork();
  }
  ws.send(data, { binary });
}

const subs = new Set();
let callee = null;
const waiting = []; // callers, in the order their calls went to the callee

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: false,
  maxPayload: 16 * 1024 * 1024,
  handleProtocols: (protocols) => {
    for (const p of protocols) if (p in welcome) return p;
    return false;
  },
});

wss.on('connection', (ws, req) => {
  const role = (req.url ?? '/').split('?')[0].replace(/^\/+/, '');
  const hello = welcome[ws.protocol];
  let greeted = false;
  let onFrame = () => {};
  if (role === 'pub') {
    onFrame = (data, isBinary) => { for (const s of subs) send(s, data, isBinary); };
  } else if (role === 'sub') {
    subs.add(ws);
  } else if (role === 'caller') {
    onFrame = (data, isBinary) => {
      if (callee === null) return;
      waiting.push(ws);
      send(callee, data, isBinary);
    };
  } else if (role === 'callee') {
    callee = ws;
    onFrame = (data, isBinary) => {
      const caller = waiting.shift();
      if (caller !== undefined && caller.readyState === 1) send(caller, data, isBinary);
    };
  }
  ws.on('message', (data, isBinary) => {
    if (!greeted) {
      greeted = true;
      ws.send(hello.data, { binary: hello.binary });
      return;
    }
    onFrame(data, isBinary);
  });
  ws.on('close', () => {
    subs.delete(ws);
    if (callee === ws) callee = null;
  });
  ws.on('error', () => ws.terminate());
});

wss.on('listening', () => process.stdout.write(`READY ${wss.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
