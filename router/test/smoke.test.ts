import t from 'tap';
import { startRouter, connect } from './helpers.js';

t.test('autobahn can call a procedure it registered, over every serializer and RawSocket', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  for (const variant of [{ serializer: 'json' }, { serializer: 'msgpack' }, { serializer: 'cbor' }, { rawsocket: true }] as const) {
    const { session, connection } = await connect({ port: r.port, ...variant });
    await session.register('com.echo', (args: unknown[]) => args[0]);
    const res = await session.call('com.echo', [{ a: 1.5, b: 'x' }]);
    t.same(res, { a: 1.5, b: 'x' }, JSON.stringify(variant));
    connection.close();
    await new Promise((r) => setTimeout(r, 50));
  }
});
