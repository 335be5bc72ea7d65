// The router restarts: the backend reconnects with backoff, registers
// everything again, reconciles, and tells the players where they stand.
import net from 'node:net';
import pino from 'pino';
import { join } from 'node:path';
import { Procedures, machineUris, type SlotResult } from '@clawgate/protocol';
import { Router, fromCrossbar, silentLogger } from '@clawgate/router';
import { loadClawRouterConfig } from '../src/router-config.js';
import { startBackend } from '../src/service.js';
import { Player, ScriptedClaw, backendConfig, connectSpectator, eventually, routerEnv, sleep, startClawRouter, startTestBackend, storeTest, tempDir, testDatabase } from './helpers.js';

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

/**
 * A TCP proxy to `port` whose cut() closes the client side of every connection and keeps the
 * router side open and silent: what a router sees of a client whose network went away (a
 * half-dead connection, kept until its liveness ping times out).
 */
async function halfDeadProxy(port: number): Promise<{ port: number; cut(): void; close(): void }> {
  const pairs: { client: net.Socket; upstream: net.Socket }[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    pairs.push({ client, upstream });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      for (const { client, upstream } of pairs.splice(0)) { upstream.unpipe(client); client.unpipe(upstream); client.destroy(); }
    },
    close() { server.close(); for (const { client, upstream } of pairs.splice(0)) { client.destroy(); upstream.destroy(); } },
  };
}

// The SQLite backend registers its procedures `single`. After a half-dead connection (or its
// router node's death on a cluster) the router still holds its old session for a while; the
// backend, back through a new connection, takes its own procedures back (force_reregister) at
// once instead of waiting for the router to drop that session. A procedure held by another
// backend's session stays refused: that refusal keeps two SQLite backends apart.
storeTest('a half-dead connection: the SQLite backend takes its procedures back from its own old session at once; another backend is still refused', async (t, store) => {
  const r = await startClawRouter([M]);
  t.teardown(() => r.stop());
  const claw = await new ScriptedClaw(r, M).start();
  t.teardown(() => claw.stop());
  const proxy = await halfDeadProxy(r.port);
  t.teardown(() => proxy.close());
  const db = await testDatabase(t, store);
  const backend = await startTestBackend({ ...r, url: `ws://127.0.0.1:${proxy.port}/ws` }, db);
  t.teardown(() => backend.stop());
  const realm = r.router.findRealm('claw')!;
  const backendSessions = () => [...realm.sessions.values()].filter((s) => s.authid === 'backend').map((s) => s.id);
  const [old] = backendSessions();
  t.ok(old, 'the backend\'s session');
  const p = await Player.withTicket(r, 'pa');
  t.teardown(() => p.disconnect());
  t.match(await p.call(Procedures.requestSlot, [M]), { position: 0 });

  proxy.cut();
  // Back with a new session (its setup, and so `ready`, comes after its old session was seen closed).
  await eventually(async () => backendSessions().some((id) => id !== old), 10_000, 'the backend back with a new session');
  await backend.ready();
  t.ok(backendSessions().includes(old!), 'ready again while the router still holds the old, half-dead session (not after its liveness timeout)');
  t.equal(backendSessions().length, 2);
  t.match(await p.call(Procedures.queueGet, [M]), { machine: M }, 'the player\'s calls are served by the new session');

  // A second SQLite backend (its own file) on the same router: refused, and the first keeps serving.
  // It must not act before its refusal either: no queue published (an empty queue from its own file), no call to the node.
  const watcher = await connectSpectator(r.url);
  t.teardown(() => watcher.close());
  const queues: unknown[] = [];
  await watcher.session.subscribe(machineUris(M).queue, (args) => { queues.push(args?.[0]); });
  const nodeCalls = claw.starts.length + claw.ends.length + claw.releases;
  const refusals: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => { if (line.includes('procedure_already_exists')) refusals.push(line); } });
  const second = await startBackend(backendConfig(r.url, join(tempDir(t), 'other.sqlite')), { log });
  t.teardown(() => second.stop());
  await eventually(async () => refusals.length >= 2, 15_000, 'the second backend refused twice');
  t.notOk(second.connected, 'another backend does not take the procedures over');
  t.same(queues, [], 'nor publishes a queue of its own (it stays out before it adopts the machines)');
  t.equal(claw.starts.length + claw.ends.length + claw.releases, nodeCalls, 'nor calls the node');
  t.match(await p.call(Procedures.queueGet, [M]), { machine: M }, 'the first backend still serves');
}, { stores: ['sqlite'] });
