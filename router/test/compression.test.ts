// permessage-deflate: negotiated when the client offers it, without context
// takeover (so small messages are never deflated, see listener.ts), and large
// messages still arrive intact through it.
import t from 'tap';
import { Router, fromCrossbar, devConfig, silentLogger } from '../src/index.js';
import { Wire } from './wire.js';

t.test('deflate is negotiated on request and carries a large event intact', async (t) => {
  const router = await new Router(fromCrossbar(devConfig(0)).config, { log: silentLogger() }).start();
  t.teardown(() => router.stop());
  const port = Object.values(router.ports())[0]!;
  const open = async (deflate: boolean): Promise<{ w: Wire; extensions: string }> => {
    const w = await Wire.open({ port, compress: deflate, codec: 'json-text' });
    await w.join('realm1', { roles: { publisher: {}, subscriber: {} } });
    return { w, extensions: String(w.upgradeHeaders['sec-websocket-extensions'] ?? '') };
  };
  const sub = await open(true);
  const plain = await open(false);
  t.teardown(() => { sub.w.close(); plain.w.close(); });
  t.match(sub.extensions, /permessage-deflate/, 'negotiated when offered');
  t.match(sub.extensions, /server_no_context_takeover/, 'without server context takeover');
  t.match(sub.extensions, /client_no_context_takeover/, 'without client context takeover');
  t.equal(plain.extensions, '', 'not negotiated when not offered');

  sub.w.send([32, 1, {}, 'com.big']);
  await sub.w.next(33);
  const big = 'claw '.repeat(20_000);
  plain.w.send([16, 1, {}, 'com.big', [big, 'small']]);
  const event = await sub.w.next(36);
  t.same(event[4], [big, 'small'], 'the 100 kB event arrives intact through deflate');
});
