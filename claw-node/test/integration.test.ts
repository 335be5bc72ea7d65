// The node against the real router over real sockets: a scripted backend
// (autobahn over WebSocket) drives turns; players (autobahn over WebSocket,
// signed-ticket login) publish commands whose publisher the router discloses.
import t from 'tap';
import { EventPayload, LinesPayload, StatusPayload, machineReleaseUri, machineUris, type OutputName } from '@clawgate/protocol';
import { startClawNode, type ClawNode } from '../src/node.js';
import type { SimulatedDriver } from '../src/gpio/simulated-driver.js';
import { HOLD_TIMEOUT_MS, connect, eventually, fastNodeConfig, player as remotePlayer, sleep, startRouter, type Client, type Player, type RunningRouter } from './helpers.js';

interface Watch {
  statuses: StatusPayload[];
  events: EventPayload[];
  lines: LinesPayload[];
}

/** A backend-role client that records status, events and lines of one machine. */
async function backend(port: number, machine: string): Promise<Client & Watch> {
  const c = await connect(port, 'backend');
  const uris = machineUris(machine);
  const w: Watch = { statuses: [], events: [], lines: [] };
  await c.session.subscribe(uris.status, (args) => { w.statuses.push(StatusPayload.parse(args?.[0])); }, { get_retained: true });
  await c.session.subscribe(uris.events, (args) => { w.events.push(EventPayload.parse(args?.[0])); });
  await c.session.subscribe(uris.lines, (args) => { w.lines.push(LinesPayload.parse(args?.[0])); }, { get_retained: true });
  return Object.assign(c, w);
}

function player(r: RunningRouter, authid: string): Promise<Player> {
  return remotePlayer(r.port, authid);
}

function edges(node: ClawNode): { name: OutputName; asserted: boolean; at: number }[] {
  const list: { name: OutputName; asserted: boolean; at: number }[] = [];
  (node.driver as SimulatedDriver).onOutput((name, asserted) => list.push({ name, asserted, at: Date.now() }));
  return list;
}

const allReleased = (node: ClawNode) => Object.values((node.driver as SimulatedDriver).outputsSnapshot()).every((v) => !v);
const lastState = (w: Watch) => w.statuses.at(-1)?.state;

/** Holds a direction the way the player page does: `...On` every 200 ms. */
function holdLoop(p: Player, topic: string, command: string): () => void {
  void p.publish(topic, [{ command }]).catch(() => {});
  const timer = setInterval(() => { void p.publish(topic, [{ command }]).catch(() => {}); }, 200);
  return () => clearInterval(timer);
}

t.test('a scripted backend and player drive full turns (lose, then a sure win)', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  // a catch dead centre always succeeds here, so the second turn is a sure win
  const node = await startClawNode(fastNodeConfig(r.port, 'm1', { simulator: { seed: 3, speed: 1, lowerMs: 150, grabMs: 50, raiseMs: 150, releaseMs: 50, prizePulseMs: 100, maxGrabProbability: 1 } }));
  t.teardown(() => node.stop());
  const be = await backend(r.port, 'm1');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'node ready');
  const uris = machineUris('m1');
  const alice = await player(r, 'alice');
  t.teardown(() => alice.close());

  // turn 1: steer right for a while, drop over nothing
  node.simulator!.clearPrizes();
  const started = await be.session.call(uris.startTurn, [{ player: 'alice', moveSeconds: 20, name: 'Alice' }]) as { topic: string; endsAt: number };
  t.equal(started.topic, uris.control('alice'));
  t.ok(started.endsAt > Date.now() + 15_000, 'endsAt is moveSeconds away');
  t.same((await eventually(() => be.statuses.find((s) => s.state === 'controlled'), 'controlled')).player, 'Alice');
  await eventually(() => be.events.find((e) => e.type === 'turn_started'), 'turn_started');
  t.ok(be.lines.some((l) => l.outputs.coin), 'the coin pulse showed on the lines topic');

  const stop = holdLoop(alice, started.topic, 'rightOn');
  await eventually(() => be.lines.some((l) => l.outputs.right), 'right asserted');
  await eventually(() => node.simulator!.snapshot().x > 0.3, 'claw moved right');
  stop();
  await alice.publish(started.topic, [{ command: 'rightOff' }]);
  await eventually(() => !(node.driver as SimulatedDriver).output('right'), 'right released');
  await alice.publish(started.topic, [{ command: 'drop' }]);
  const ended = await eventually(() => be.events.find((e) => e.type === 'turn_ended'), 'turn_ended');
  t.same({ player: ended.player, result: ended.result, machine: ended.machine }, { player: 'Alice', result: 'lose', machine: 'm1' });
  await eventually(() => lastState(be) === 'ready', 'ready again');
  t.ok(allReleased(node));
  // >=: positions go out rounded to 3 decimals, and the claw may be released just past 0.3 (0.3002 → 0.3).
  t.ok(be.lines.some((l) => l.claw && l.claw.x >= 0.3), 'lines carried the claw position');

  // turn 2: a prize right under the claw's path
  const idle = await eventually(() => node.simulator!.snapshot().phase === 'idle' && node.simulator!.snapshot(), 'claw back home');
  node.simulator!.placePrize({ x: idle.x, y: idle.y });
  const second = await be.session.call(uris.startTurn, [{ player: 'alice', moveSeconds: 20, name: 'Alice' }]) as { topic: string };
  await alice.publish(second.topic, [{ command: 'drop' }]);
  await eventually(() => be.events.filter((e) => e.type === 'turn_ended').length === 2, 'second turn ended');
  t.equal(be.events.at(-1)!.result, 'win', 'a centred drop wins (prize input pulsed by the simulator)');
  t.ok(be.lines.some((l) => l.inputs.prize), 'the prize input showed on the lines topic');
  await eventually(() => lastState(be) === 'ready', 'ready after the win');
  t.equal(node.stats().ignored.not_player, 0);
});

t.test('end_turn, busy and invalid start_turn over WAMP', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(r.port, 'm2'));
  t.teardown(() => node.stop());
  const be = await backend(r.port, 'm2');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'node ready');
  const uris = machineUris('m2');
  const err = async (p: Promise<unknown>) => { try { await p; } catch (e) { return (e as { error: string }).error; } return 'resolved'; };
  t.equal(await err(be.session.call(uris.startTurn, [{ player: 'Bad Id', moveSeconds: 5 }])), 'claw.error.invalid_argument');
  await be.session.call(uris.startTurn, [{ player: 'bob', moveSeconds: 30 }]);
  t.equal(await err(be.session.call(uris.startTurn, [{ player: 'carol', moveSeconds: 5 }])), 'claw.error.machine_busy');
  const bob = await player(r, 'bob');
  t.teardown(() => bob.close());
  const stop = holdLoop(bob, uris.control('bob'), 'upOn');
  t.teardown(stop);
  await eventually(() => (node.driver as SimulatedDriver).output('up'), 'up held');
  t.same(await be.session.call(uris.endTurn, [{ reason: 'skipped' }]), { machine: 'm2', ended: true });
  t.ok(allReleased(node), 'end_turn released everything before answering');
  t.equal((await eventually(() => be.events.find((e) => e.type === 'turn_ended'), 'turn_ended')).result, 'skipped');
  t.equal((await eventually(() => be.events.find((e) => e.type === 'turn_ended'))).player, 'bob', 'no name given: the authid');
  await eventually(() => node.stats().ignored.no_turn > 0, 'commands after the turn arrive');
  t.ok(allReleased(node), 'commands after the turn move nothing');
});

t.test('a foreign publisher on the control topic moves nothing', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(r.port, 'm3'));
  t.teardown(() => node.stop());
  const be = await backend(r.port, 'm3');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'node ready');
  const uris = machineUris('m3');
  const seen = edges(node);
  await be.session.call(uris.startTurn, [{ player: 'alice', moveSeconds: 30 }]);
  const mallory = await player(r, 'mallory');
  t.teardown(() => mallory.close());
  // on the player's topic, on its own topic, and a drop
  for (const topic of [uris.control('alice'), uris.control('mallory')]) {
    for (const command of ['leftOn', 'upOn', 'drop']) await mallory.publish(topic, [{ command }]);
  }
  // a remote client of another role, too (its authid is disclosed and is not alice's)
  await be.session.publish(uris.control('alice'), [{ command: 'rightOn' }], {}, { acknowledge: true });
  await eventually(() => node.stats().ignored.not_player >= 7, 'all 7 commands seen and ignored');
  t.same(seen.filter((e) => e.asserted && e.name !== 'coin'), [], 'no line but the coin pulse was ever asserted');
  t.equal(node.machine.currentTurn?.phase, 'move', 'the turn is untouched');
  // the real player still can
  const alice = await player(r, 'alice');
  t.teardown(() => alice.close());
  await alice.publish(uris.control('alice'), [{ command: 'leftOn' }]);
  await eventually(() => (node.driver as SimulatedDriver).output('left'), 'alice steers');
});

t.test('a player whose connection dies mid-hold: the line is released within the hold timeout', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(r.port, 'm4'));
  t.teardown(() => node.stop());
  const be = await backend(r.port, 'm4');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'node ready');
  const uris = machineUris('m4');
  const seen = edges(node);
  // "Within the hold timeout" measured on the node's own event loop, so a stalled
  // machine cannot make this flaky: right after each refresh (which re-arms the
  // dead man's timer) a reference timer of the same length is armed. Node fires
  // equal-length timers in the order they were armed, so when the reference
  // fires, the dead man must already have released the line.
  let lastHoldAt = 0;
  let reference: NodeJS.Timeout | undefined;
  let atReference: boolean | undefined;
  const hold = node.outputs.hold.bind(node.outputs);
  node.outputs.hold = (d) => {
    lastHoldAt = Date.now();
    const held = hold(d);
    clearTimeout(reference);
    atReference = undefined;
    reference = setTimeout(() => { atReference = (node.driver as SimulatedDriver).output('down'); }, HOLD_TIMEOUT_MS);
    return held;
  };
  t.teardown(() => clearTimeout(reference));
  await be.session.call(uris.startTurn, [{ player: 'dora', moveSeconds: 60 }]);
  const dora = await player(r, 'dora');
  const stop = holdLoop(dora, uris.control('dora'), 'downOn');
  await eventually(() => (node.driver as SimulatedDriver).output('down'), 'down held');
  await sleep(HOLD_TIMEOUT_MS + 500); // longer than one hold timeout: the refreshes keep it
  t.ok((node.driver as SimulatedDriver).output('down'), 'refreshed holds stay held');
  t.equal(node.stats().deadManReleases, 0);
  stop();
  dora.die(); // the socket drops without GOODBYE
  const released = await eventually(() => seen.find((e) => e.name === 'down' && !e.asserted), 'down released', HOLD_TIMEOUT_MS + 5000);
  const after = released.at - lastHoldAt;
  t.ok(after >= HOLD_TIMEOUT_MS - 20, `not before the hold timeout (${after} ms after the last refresh)`);
  const stillHeld = await eventually(() => atReference !== undefined && { held: atReference }, 'reference timer', HOLD_TIMEOUT_MS + 5000);
  t.equal(stillHeld.held, false, `released within one hold timeout of the last refresh, on the node's clock (${after} ms by the wall clock)`);
  t.equal(node.stats().deadManReleases, 1, 'released by the dead man');
  t.equal(node.machine.currentTurn?.phase, 'move', "the turn's timers keep running (the backend decides)");
});

t.test('release (the backend saw the player in control vanish): lines released at once, the turn goes on', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(r.port, 'm8'));
  t.teardown(() => node.stop());
  const be = await backend(r.port, 'm8');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'node ready');
  const uris = machineUris('m8');
  await be.session.call(uris.startTurn, [{ player: 'gus', moveSeconds: 60 }]);
  const gus = await player(r, 'gus');
  t.teardown(() => gus.close());
  await gus.publish(uris.control('gus'), [{ command: 'rightOn' }]);
  await eventually(() => (node.driver as SimulatedDriver).output('right'), 'right held');

  const release = machineReleaseUri('m8');
  t.same(await be.session.call(release, [{ player: 'someone-else' }]), { machine: 'm8', released: false }, 'a stale release for another player changes nothing');
  t.ok((node.driver as SimulatedDriver).output('right'), 'still held');
  t.same(await be.session.call(release, [{ player: 'gus' }]), { machine: 'm8', released: true });
  t.ok(allReleased(node), 'released before the call answered (not by the dead man)');
  t.equal(node.stats().deadManReleases, 0);
  t.equal(node.machine.currentTurn?.phase, 'move', 'the turn and its timers go on');
  t.equal(lastState(be), 'controlled');
  // back in time, the player steers again
  await gus.publish(uris.control('gus'), [{ command: 'leftOn' }]);
  await eventually(() => (node.driver as SimulatedDriver).output('left'), 'gus steers again');
  t.equal(await be.session.call(release, [{ player: 7 }]).then(() => 'resolved', (e: { error: string }) => e.error), 'claw.error.invalid_argument');
});

t.test('force_reregister or not: a node whose procedures are still held by an old session gets them', async (t) => {
  // Another session of the claw role holds start_turn, as a half-dead old session of this
  // node would. A router that honours force_reregister hands the registration over at once;
  // one that does not refuses it, and the node retries (with backoff) until the holder is gone.
  const r = await startRouter();
  t.teardown(() => r.stop());
  const uris = machineUris('m9');
  const old = await connect(r.port, 'claw');
  let oldCalled = 0;
  await old.session.register(uris.startTurn, () => { oldCalled++; return { topic: 'x', endsAt: 0 }; });
  const node = await startClawNode(fastNodeConfig(r.port, 'm9'));
  t.teardown(() => node.stop());
  const be = await backend(r.port, 'm9');
  t.teardown(() => be.connection.close());
  await sleep(300);
  old.connection.close();
  await old.closed;
  await eventually(() => node.machine.state === 'ready', 'node ready', 15_000);
  await eventually(() => lastState(be) === 'ready', 'ready published');
  const started = await be.session.call(uris.startTurn, [{ player: 'hal', moveSeconds: 5 }]) as { topic: string };
  t.equal(started.topic, uris.control('hal'), 'start_turn reaches the node');
  t.equal(node.machine.currentTurn?.player, 'hal');
  t.equal(oldCalled, 0, 'never the old holder');
});

t.test('a router restart releases all lines and the node comes back ready', async (t) => {
  let r = await startRouter();
  const port = r.port;
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(port, 'm5'));
  t.teardown(() => node.stop());
  let be = await backend(port, 'm5');
  await eventually(() => lastState(be) === 'ready', 'node ready');
  const uris = machineUris('m5');
  await be.session.call(uris.startTurn, [{ player: 'erin', moveSeconds: 60 }]);
  const erin = await player(r, 'erin');
  const stop = holdLoop(erin, uris.control('erin'), 'leftOn');
  await eventually(() => (node.driver as SimulatedDriver).output('left'), 'left held');

  await r.stop();
  stop();
  await eventually(() => node.machine.state === 'offline', 'node noticed the router is gone');
  t.ok(allReleased(node), 'released when the router said goodbye');
  t.equal(node.stats().deadManReleases, 0, 'by the disconnect, not by the dead man');
  t.equal(node.machine.state, 'offline');
  t.equal(node.machine.currentTurn, undefined, 'the turn is abandoned');

  r = await startRouter(port);
  be = await backend(port, 'm5');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'ready again after the restart', 15_000);
  t.ok(node.connected);
  t.ok(allReleased(node));
  const ln = await eventually(() => be.lines.at(-1), 'retained lines');
  t.same(ln.outputs, { up: false, down: false, left: false, right: false, drop: false, coin: false }, 'retained lines: all released');
  // and it works
  await be.session.call(uris.startTurn, [{ player: 'erin', moveSeconds: 5 }]);
  await eventually(() => be.statuses.some((s) => s.state === 'controlled'), 'controlled after the restart');
});

t.test('the router is not up yet when the node starts: it keeps trying (no crash) and comes up ready', async (t) => {
  // A free port: bind one, then let it go.
  const probe = await startRouter();
  const port = probe.port;
  await probe.stop();
  const node = await startClawNode(fastNodeConfig(port, 'm10'));
  t.teardown(() => node.stop());
  await sleep(700); // several refused attempts (backoff 100..500 ms)
  t.equal(node.machine.state, 'offline');
  t.notOk(node.connected);
  const r = await startRouter(port);
  t.teardown(() => r.stop());
  const be = await backend(port, 'm10');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'ready once the router is there', 15_000);
  t.ok(allReleased(node));
});

t.test('testament: a killed node session leaves `offline` retained; the node reconnects', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(r.port, 'm6'));
  t.teardown(() => node.stop());
  const be = await backend(r.port, 'm6');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'node ready');
  const sessions = await be.session.call('wamp.session.list', [['claw']]) as number[];
  t.equal(sessions.length, 1);
  await be.session.call('wamp.session.kill', [sessions[0]], { reason: 'wamp.close.killed' });
  await eventually(() => be.statuses.some((s) => s.state === 'offline'), 'offline from the testament');
  await eventually(() => lastState(be) === 'ready', 'back to ready after reconnecting');
  // a late subscriber sees the retained status
  const late = await backend(r.port, 'm6');
  t.teardown(() => late.connection.close());
  t.equal((await eventually(() => late.statuses.at(-1), 'retained status')).state, 'ready');
});

t.test('stop(): releases, publishes offline, leaves', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(r.port, 'm7'));
  const be = await backend(r.port, 'm7');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'node ready');
  await be.session.call(machineUris('m7').startTurn, [{ player: 'fay', moveSeconds: 60 }]);
  const fay = await player(r, 'fay');
  t.teardown(() => fay.close());
  await fay.publish(machineUris('m7').control('fay'), [{ command: 'upOn' }]);
  await eventually(() => (node.driver as SimulatedDriver).output('up'), 'up held');
  await node.stop();
  t.ok(allReleased(node));
  await eventually(() => lastState(be) === 'offline', 'offline published');
  t.equal(be.statuses.at(-1)!.reason, 'stopped', 'a clean stop says so (the router\'s testament for a lost session says no reason)');
  t.equal(await be.session.call('wamp.session.count', [['claw']]), 0, 'the node left the realm');
});

t.test('lines: where the prizes lie (not in the motion updates), the claw\'s phase and the turn\'s phase (issue 14)', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const node = await startClawNode(fastNodeConfig(r.port, 'm11', { simulator: { seed: 4, prizes: 5, speed: 1, lowerMs: 300, grabMs: 100, raiseMs: 300, releaseMs: 100, maxGrabProbability: 1 } }));
  t.teardown(() => node.stop());
  const be = await backend(r.port, 'm11');
  t.teardown(() => be.connection.close());
  await eventually(() => lastState(be) === 'ready', 'node ready');
  const retained = await eventually(() => be.lines.at(-1), 'retained lines');
  t.equal(retained.prizes?.length, 5, 'the retained lines at rest say where the 5 prizes lie');
  t.same(retained.prizes, node.simulator!.prizes().map((p) => ({ x: Math.round(p.x * 1000) / 1000, y: Math.round(p.y * 1000) / 1000 })), 'rounded like the claw');
  t.equal(retained.turnPhase, undefined, 'no turn, no turn phase');
  t.equal(retained.claw?.phase, 'idle');

  const uris = machineUris('m11');
  const gus = await player(r, 'gus');
  t.teardown(() => gus.close());
  const started = await be.session.call(uris.startTurn, [{ player: 'gus', moveSeconds: 20 }]) as { topic: string };
  await eventually(() => be.lines.some((l) => l.turnPhase === 'move'), 'the move phase on the lines topic');
  t.ok(be.lines.some((l) => l.turnPhase === 'coin' && l.outputs.coin), 'the coin phase with its pulse');
  const before = be.lines.length;
  const stop = holdLoop(gus, started.topic, 'upOn');
  await eventually(() => node.simulator!.snapshot().y > 0.3, 'the claw moved back');
  stop();
  await gus.publish(started.topic, [{ command: 'upOff' }]);
  await eventually(() => !(node.driver as SimulatedDriver).output('up'), 'up released');
  const moving = be.lines.slice(before).filter((l) => l.outputs.up && l.claw !== undefined && l.claw.y > 0);
  t.ok(moving.length >= 2, `motion updates while held (${moving.length})`);
  t.ok(moving.every((l) => l.prizes === undefined), 'the motion updates leave the prizes out');
  // The message published when the claw stops may still be on its way to the subscriber.
  await eventually(() => be.lines.at(-1)!.prizes !== undefined, 'the message when the claw stops has them again');
  t.pass('the message when the claw stops has them again');

  // A prize right under the claw: the catch changes the prizes, which go out at once.
  const at = node.simulator!.snapshot();
  const n0 = be.lines.length;
  node.simulator!.placePrize({ x: at.x, y: at.y });
  await eventually(() => be.lines.slice(n0).some((l) => l.prizes?.length === 6), 'a new prize is published at once').catch((e) => {
    t.comment(JSON.stringify({ n0, sim: node.simulator!.prizes().length, tail: be.lines.slice(n0 - 2) }));
    throw e;
  });
  const fromDrop = be.lines.length;
  await gus.publish(started.topic, [{ command: 'drop' }]);
  await eventually(() => be.events.some((e) => e.type === 'turn_ended'), 'the turn ended');
  await eventually(() => node.simulator!.snapshot().phase === 'idle' && be.lines.at(-1)!.claw?.phase === 'idle', 'the claw back home and idle');
  const during = be.lines.slice(fromDrop);
  t.ok(during.some((l) => l.turnPhase === 'drop'), 'the drop phase');
  const phases = [...new Set(during.map((l) => l.claw?.phase))];
  for (const p of ['lowering', 'grabbing', 'raising', 'returning']) t.ok(phases.includes(p as never), `claw phase ${p} seen (${phases.join(', ')})`);
  t.ok(during.some((l) => l.prizes?.length === 5 && l.claw?.holding), 'the caught prize left the box when the claw closed on it');
  t.equal(be.lines.at(-1)!.turnPhase, undefined, 'after the turn: no turn phase');
  t.equal(be.lines.at(-1)!.prizes?.length, 6, 'a delivered prize is replaced by a new one');
});

t.test('camera: the node asks the video service where to send, then names the port its camera sends to (issue 16)', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const be = await connect(r.port, 'backend');
  t.teardown(() => be.connection.close());
  const asked: unknown[] = [];
  await be.session.register('claw.video.source', (args) => {
    asked.push(args?.[0]);
    return { machine: 'm12', host: '127.0.0.1', port: 20004, payloadType: 96, codec: 'vp8' };
  });
  // A stand-in pipeline (the real ones are exercised by camera.test.ts and the system's e2e-video).
  const node = await startClawNode(fastNodeConfig(r.port, 'm12', { camera: { source: 'command', command: 'sleep 30', refreshSeconds: 1 } }));
  t.teardown(() => node.stop());
  await eventually(() => asked.length >= 2, 'asked again after refreshSeconds');
  t.same(asked[0], {}, 'first: no port yet');
  t.same(asked[1], { port: 20004 }, 'then the port its camera sends to (a restarted video service gives it back)');
  t.equal(node.camera()?.port, 20004);
  t.ok(node.cameraPid !== undefined, 'the pipeline runs');
});
