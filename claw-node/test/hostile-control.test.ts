// Hostile publishers on a machine's control topics, against the real router
// and the real node on the simulated driver: junk is dropped before parsing
// (counted, logged once per publisher and reason) and never reaches the
// machine; a message over router.maxMessageBytes costs the node its
// connection (released, reconnected, ready again); and a flood of junk does
// not delay the dead man's release of a lost player's hold.
import t from 'tap';
import { pino, type Logger } from 'pino';
import { Router, fromCrossbar, silentLogger } from '@clawgate/router';
import { EventPayload, StatusPayload, machineUris, type OutputName } from '@clawgate/protocol';
import { startClawNode, type ClawNode } from '../src/node.js';
import type { SimulatedDriver } from '../src/gpio/simulated-driver.js';
import { HOLD_TIMEOUT_MS, clawRealmConfig, connect, eventually, fastNodeConfig, player, sleep, type Client, type Player } from './helpers.js';

/** The test realm with the router's per-session publish limits off for players: the node must cope on its own. */
async function startUnlimitedRouter(): Promise<{ port: number; stop(): Promise<void> }> {
  const cfg = clawRealmConfig() as { workers: { realms: { roles: { name: string; limits?: unknown }[] }[] }[] };
  for (const role of cfg.workers[0]!.realms[0]!.roles) if (role.name === 'player') role.limits = { publish_rate: null };
  const router = new Router(fromCrossbar(cfg).config, { log: silentLogger() });
  await router.start();
  return { port: Object.values(router.ports())[0]!, stop: () => router.stop(200) };
}

interface LogLine { level: number; msg: string; [k: string]: unknown }

function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as LogLine); } });
  return { logger, lines };
}

async function watcher(port: number, machine: string): Promise<Client & { statuses: StatusPayload[]; events: EventPayload[] }> {
  const c = await connect(port, 'backend');
  const statuses: StatusPayload[] = [];
  const events: EventPayload[] = [];
  await c.session.subscribe(machineUris(machine).status, (args) => { statuses.push(StatusPayload.parse(args?.[0])); }, { get_retained: true });
  await c.session.subscribe(machineUris(machine).events, (args) => { events.push(EventPayload.parse(args?.[0])); });
  return Object.assign(c, { statuses, events });
}

const output = (node: ClawNode, name: OutputName) => (node.driver as SimulatedDriver).output(name);

t.test('oversized and malformed control messages are dropped before the machine, counted, and logged once per publisher and reason', async (t) => {
  const r = await startUnlimitedRouter();
  t.teardown(() => r.stop());
  const { logger, lines } = capturingLogger();
  const node = await startClawNode(fastNodeConfig(r.port, 'g1', { logLevel: 'info' }), { logger });
  t.teardown(() => node.stop());
  const be = await watcher(r.port, 'g1');
  t.teardown(() => be.connection.close());
  await eventually(() => be.statuses.at(-1)?.state === 'ready', 'node ready');
  const uris = machineUris('g1');
  await be.session.call(uris.startTurn, [{ player: 'alice', moveSeconds: 60 }]);
  const alice = await player(r.port, 'alice');
  const mallory = await player(r.port, 'mallory');
  t.teardown(() => { alice.close(); mallory.close(); });

  const junk: { args: unknown[]; kwargs?: Record<string, unknown>; reason: 'oversized' | 'malformed' }[] = [
    { args: [{ command: 'leftOn', pad: 'x'.repeat(10_000) }], reason: 'oversized' },
    { args: [{ command: 'leftOn' }, { command: 'leftOn' }], reason: 'oversized' },
    { args: [{ command: 'leftOn' }], kwargs: { also: 'this' }, reason: 'oversized' },
    { args: [{ command: 'leftOn', nested: { deeper: [[[[1]]]] } }], reason: 'malformed' },
    { args: ['leftOn'], reason: 'malformed' },
    { args: [{ command: ['leftOn'] }], reason: 'malformed' },
  ];
  // From the player in control too: a command inside junk is never obeyed.
  for (const p of [alice, mallory]) {
    for (let round = 0; round < 3; round++) {
      for (const j of junk) await publishRaw(p, uris.control(p.authid), j.args, j.kwargs);
    }
  }
  const expected = { oversized: 2 * 3 * 3, malformed: 2 * 3 * 3 };
  await eventually(() => node.stats().dropped.oversized === expected.oversized && node.stats().dropped.malformed === expected.malformed, 'all junk counted');
  t.same(node.stats().dropped, expected);
  const s = node.stats();
  t.equal(s.accepted, 0, 'nothing reached the machine as a command');
  t.same(s.ignored, { no_turn: 0, not_player: 0, invalid: 0, wrong_phase: 0 }, 'not even as an ignored one');
  t.notOk(output(node, 'left'), 'left was never asserted');
  const dropLines = lines.filter((l) => /control message dropped/.test(l.msg));
  t.same(dropLines.map((l) => `${String(l.publisher)} ${String(l.reason)}`).sort(), ['alice malformed', 'alice oversized', 'mallory malformed', 'mallory oversized'], 'one line per publisher and reason');
  t.ok(dropLines.every((l) => JSON.stringify(l).length < 500), 'no payload in the log');

  // The player's real commands still work.
  await alice.publish(uris.control('alice'), [{ command: 'leftOn' }]);
  await eventually(() => output(node, 'left'), 'alice steers');
});

t.test('a message over router.maxMessageBytes closes the node\'s connection: everything released, it reconnects and is ready again', async (t) => {
  const r = await startUnlimitedRouter();
  t.teardown(() => r.stop());
  const { logger, lines } = capturingLogger();
  const node = await startClawNode(fastNodeConfig(r.port, 'g2', { logLevel: 'info', router: { url: `ws://127.0.0.1:${r.port}/claw`, realm: 'claw', auth: 'anonymous', maxMessageBytes: 4096 } }), { logger });
  t.teardown(() => node.stop());
  const be = await watcher(r.port, 'g2');
  t.teardown(() => be.connection.close());
  await eventually(() => be.statuses.at(-1)?.state === 'ready', 'node ready');
  const uris = machineUris('g2');
  await be.session.call(uris.startTurn, [{ player: 'alice', moveSeconds: 60 }]);
  const alice = await player(r.port, 'alice');
  const mallory = await player(r.port, 'mallory');
  t.teardown(() => { alice.close(); mallory.close(); });
  await alice.publish(uris.control('alice'), [{ command: 'leftOn' }]);
  await eventually(() => output(node, 'left'), 'left held');

  const before = be.statuses.length;
  await mallory.publish(uris.control('mallory'), [{ command: 'leftOn', pad: 'x'.repeat(8192) }]);
  await eventually(() => node.machine.state === 'offline', 'the node dropped its connection');
  t.notOk(output(node, 'left'), 'released by the disconnect');
  t.equal(node.stats().deadManReleases, 0, 'not by the dead man');
  t.equal(node.machine.currentTurn, undefined, 'the turn is abandoned (the backend sees a lost claw)');
  await eventually(() => be.statuses.slice(before).some((x) => x.state === 'offline'), 'offline published (testament)');
  await eventually(() => be.statuses.at(-1)?.state === 'ready' && node.connected, 'reconnected and ready', 15_000);
  t.ok(lines.some((l) => /larger than router.maxMessageBytes/.test(l.msg)), 'logged why');
  // After a reconnect the node says its status once more, ~3.5 s later (a router cluster may
  // publish the previous session's testament late: node.ts, STATUS_REPUBLISH_MS).
  const ready = be.statuses.at(-1)!;
  const mark = be.statuses.length;
  await eventually(() => be.statuses.length > mark, 'the status published again', 10_000);
  t.same(be.statuses.slice(mark), [ready], 'the same status again (same since)');
});

t.test('a flood of junk control messages does not delay the dead man: a lost player\'s hold is released within the hold timeout', async (t) => {
  const r = await startUnlimitedRouter();
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(r.port, 'g3'));
  t.teardown(() => node.stop());
  const be = await watcher(r.port, 'g3');
  t.teardown(() => be.connection.close());
  await eventually(() => be.statuses.at(-1)?.state === 'ready', 'node ready');
  const uris = machineUris('g3');
  // As in integration.test.ts: a reference timer of the hold timeout's length is armed right after
  // each refresh, on the node's own event loop; when it fires, the dead man must have released.
  let lastHoldAt = 0;
  let reference: NodeJS.Timeout | undefined;
  let atReference: boolean | undefined;
  const hold = node.outputs.hold.bind(node.outputs);
  node.outputs.hold = (d) => {
    lastHoldAt = Date.now();
    const held = hold(d);
    clearTimeout(reference);
    atReference = undefined;
    reference = setTimeout(() => { atReference = output(node, 'down'); }, HOLD_TIMEOUT_MS);
    return held;
  };
  t.teardown(() => clearTimeout(reference));
  await be.session.call(uris.startTurn, [{ player: 'dora', moveSeconds: 60 }]);
  const dora = await player(r.port, 'dora');
  const flooders = await Promise.all(['m1', 'm2', 'm3'].map((a) => player(r.port, a)));
  t.teardown(() => { for (const f of flooders) f.close(); });

  // Several clients at once, each as fast as the router takes it: junk of every kind, and foreign commands.
  let flooding = true;
  const kinds: [unknown[], Record<string, unknown> | undefined][] = [
    [[{ command: 'downOff', pad: 'y'.repeat(2000) }], undefined],
    [[{ command: { nested: true } }], undefined],
    [[1, 2, 3, 4], undefined],
    [[{ command: 'downOff' }], { k: 1 }],
    [[{ command: 'downOff' }], undefined], // well-formed, but not the player in control: ignored as not_player
  ];
  const floods = flooders.map(async (f, i) => {
    let n = 0;
    while (flooding) {
      const [args, kwargs] = kinds[(n++ + i) % kinds.length]!;
      await publishRaw(f, uris.control(f.authid), args, kwargs).catch(() => {});
    }
  });

  const stopHold = holdLoop(dora, uris.control('dora'), 'downOn');
  await eventually(() => output(node, 'down'), 'down held');
  await sleep(HOLD_TIMEOUT_MS + 500);
  t.ok(output(node, 'down'), 'refreshed holds stay held during the flood');
  t.equal(node.stats().deadManReleases, 0);
  stopHold();
  dora.die();
  const stillHeld = await eventually(() => atReference !== undefined && { held: atReference }, 'reference timer', HOLD_TIMEOUT_MS + 10_000);
  const after = Date.now() - lastHoldAt;
  flooding = false;
  await Promise.all(floods);
  t.equal(stillHeld.held, false, `released within one hold timeout of the last refresh on the node's clock, during the flood (${after} ms by the wall clock)`);
  t.equal(node.stats().deadManReleases, 1, 'by the dead man');
  const d = node.stats().dropped;
  t.ok(d.oversized + d.malformed > 200, `the flood was real: ${d.oversized} oversized, ${d.malformed} malformed dropped, ${node.stats().ignored.not_player} foreign commands ignored`);
  t.equal(node.machine.currentTurn?.phase, 'move', 'the turn goes on');
});

/** Publishes with args and kwargs as given (the Player helper sends args only). */
async function publishRaw(p: Player, topic: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<void> {
  await p.raw(topic, args, kwargs);
}

function holdLoop(p: Player, topic: string, command: string): () => void {
  void p.publish(topic, [{ command }]).catch(() => {});
  const timer = setInterval(() => { void p.publish(topic, [{ command }]).catch(() => {}); }, 200);
  return () => clearInterval(timer);
}

