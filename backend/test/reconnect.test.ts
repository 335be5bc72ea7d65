// The router restarts: the backend reconnects with backoff, registers
// everything again, reconciles, and tells the players where they stand.
import { Procedures, type SlotResult } from '@clawgate/protocol';
import { Router, fromCrossbar, silentLogger } from '@clawgate/router';
import { loadClawRouterConfig } from '../src/router-config.js';
import { startBackend } from '../src/service.js';
import { Player, ScriptedClaw, backendConfig, eventually, routerEnv, sleep, startClawRouter, startTestBackend, storeTest, testDatabase } from './helpers.js';

const M = 'claw-1';

storeTest('router restart: reconnect, re-register, queue kept, positions republished', async (t, store) => {
  const first = await startClawRouter([M]);
  const claw = await new ScriptedClaw(first, M).start();
  const db = await testDatabase(t, store);
  const backend = await startTestBackend(first, db, { defaults: { readyWindowSeconds: 60, graceSeconds: 60, moveSeconds: 5, maxQueue: 50 } }, false);
  t.teardown(() => backend.stop());
  const a = await Player.withTicket(first, 'pa');
  const b = await Player.withTicket(first, 'pb');
  await a.call(Procedures.requestSlot, [M]);
  await b.call(Procedures.requestSlot, [M]);
  await first.stop();
  await claw.stop();
  await eventually(async () => !backend.connected, 10_000, 'backend noticed');

  // Same port, same keys: a new router process as far as everyone can tell.
  const raw = loadClawRouterConfig({ port: first.port, claws: { [M]: [first.keys[M]!.publicKey] } });
  const router = new Router(fromCrossbar(raw, { env: routerEnv() }).config, { log: silentLogger() });
  await router.start();
  t.teardown(() => router.stop(200));
  const second = { ...first, router, stop: () => router.stop(200) };
  await backend.ready();
  const claw2 = await new ScriptedClaw(second, M).start();
  t.teardown(() => claw2.stop());
  const [ma, mb] = [a.messages.length, b.messages.length];
  await a.connect();
  await b.connect();
  const pb = await b.waitFor((m) => m.type === 'position', mb, 15_000, 'B told its position again');
  t.equal((pb as { position: number }).position, 1);
  await a.waitFor((m) => m.type === 'get_ready', ma, 15_000, 'A asked once the node is back');
  t.match(await b.call(Procedures.requestSlot, [M]) as SlotResult, { position: 1 }, 'procedures registered again; same slot');
  await a.disconnect();
  await b.disconnect();
});

storeTest('the router is not up yet when the backend starts: it keeps trying (no crash) and connects', async (t, store) => {
  // A free port with the keys of the router that will come up there.
  const probe = await startClawRouter([M]);
  await probe.stop();
  const db = await testDatabase(t, store);
  const backend = await startBackend(backendConfig(probe.url, db), { log: silentLogger() });
  t.teardown(() => backend.stop());
  await sleep(800); // refused attempts (backoff 0.2..1 s)
  t.notOk(backend.connected);
  const raw = loadClawRouterConfig({ port: probe.port, claws: { [M]: [probe.keys[M]!.publicKey] } });
  const router = new Router(fromCrossbar(raw, { env: routerEnv() }).config, { log: silentLogger() });
  await router.start();
  t.teardown(() => router.stop(200));
  const r = { ...probe, router, stop: () => router.stop(200) };
  router.app.use(backend.sessionRouter);
  await backend.ready();
  const claw = await new ScriptedClaw(r, M).start();
  t.teardown(() => claw.stop());
  const p = await Player.join(r, 'Early');
  t.teardown(() => p.disconnect());
  t.match(await p.call(Procedures.requestSlot, [M]), { machine: M, position: 0 }, 'procedures registered');
});
