// permessage-deflate: negotiated when the client offers it, without context
// takeover (so small messages are never deflated, see listener.ts), and large
// messages still arrive intact through it.
import t from 'tap';
import WebSocket from 'ws';
import { Router, fromCrossbar, devConfig, silentLogger } from '../src/index.js';

t.test('deflate is negotiated on request and carries a large event intact', async (t) => {
  const router = await new Router(fromCrossbar(devConfig(0)).config, { log: silentLogger() }).start();
  t.teardown(() => router.stop());
  const port = Object.values(router.ports())[0]!;
  const open = (deflate: boolean) => new Promise<{ ws: WebSocket; inbox: unknown[][]; extensions: string }>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'wamp.2.json', { perMessageDeflate: deflate });
    const inbox: unknown[][] = [];
    let extensions = '';
    ws.once('upgrade', (res) => { extensions = String(res.headers['sec-websocket-extensions'] ?? ''); });
    ws.on('message', (d) => inbox.push(JSON.parse(String(d))));
    ws.once('open', () => {
      ws.send(JSON.stringify([1, 'realm1', { roles: { publisher: {}, subscriber: {} } }]));
      const wait = setInterval(() => { if (inbox.length > 0) { clearInterval(wait); resolve({ ws, inbox, extensions }); } }, 5);
    });
    ws.once('error', reject);
  });
  const sub = await open(true);
  const plain = await open(false);
  t.teardown(() => { sub.ws.terminate(); plain.ws.terminate(); });
  t.match(sub.extensions, /permessage-deflate/, 'negotiated when offered');
  t.match(sub.extensions, /server_no_context_takeover/, 'without server context takeover');
  t.match(sub.extensions, /client_no_context_takeover/, 'without client context takeover');
  t.equal(plain.extensions, '', 'not negotiated when not offered');

  sub.ws.send(JSON.stringify([32, 1, {}, 'com.big']));
  const until = async (cond: () => boolean) => { for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 10)); };
  await until(() => sub.inbox.some((m) => m[0] === 33));
  const big = 'claw '.repeat(20_000);
  plain.ws.send(JSON.stringify([16, 1, {}, 'com.big', [big, 'small']]));
  await until(() => sub.inbox.some((m) => m[0] === 36));
  const event = sub.inbox.find((m) => m[0] === 36);
  t.same(event?.[4], [big, 'small'], 'the 100 kB event arrives intact through deflate');
});
