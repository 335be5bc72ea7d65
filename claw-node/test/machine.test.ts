// The turn logic on the simulated machine with a fake clock: whole turns,
// who may steer, and release on every exit path.
import t from 'tap';
import { ClawErrors, EventPayload, StatusPayload, machineUris, type OutputName } from '@clawgate/protocol';
import { FakeClock } from '../src/fake-clock.js';
import { SimulatedDriver } from '../src/gpio/simulated-driver.js';
import { lineSpecs } from '../src/gpio/create-driver.js';
import { SafeOutputs } from '../src/safety/safe-outputs.js';
import { ClawMachine } from '../src/machine/claw-machine.js';
import { SimulatedMachine, DEFAULT_SIMULATOR } from '../src/sim/simulated-machine.js';
import { parseConfig } from '../src/config.js';
import { ClawError } from '../src/machine/claw-error.js';
import { actionOf, classifyCommand, parseCommand } from '../src/machine/commands.js';

const timings = parseConfig({ router: { url: 'ws://x', auth: 'anonymous' }, machine: 'm1', driver: 'simulated' }).timings;

function setup(opts: { sim?: boolean } = {}) {
  const clock = new FakeClock();
  const driver = new SimulatedDriver();
  const specs = lineSpecs({ driver: 'simulated', wiring: undefined });
  driver.claimOutputs(specs.outputs);
  driver.claimInputs(specs.inputs);
  const safe = new SafeOutputs(driver, clock, timings);
  const statuses: StatusPayload[] = [];
  const events: EventPayload[] = [];
  const logs: string[] = [];
  const machine = new ClawMachine('m1', safe, driver, clock, timings, {
    status: (s) => statuses.push(StatusPayload.parse(s)),
    event: (e) => events.push(EventPayload.parse(e)),
    log: (level, msg, extra) => logs.push(`${level} ${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}`),
  });
  const sim = opts.sim ? new SimulatedMachine(driver, clock, { ...DEFAULT_SIMULATOR, seed: 7 }) : undefined;
  sim?.start();
  machine.connected();
  const released = () => Object.values(driver.outputsSnapshot()).every((v) => !v);
  return { clock, driver, safe, machine, statuses, events, logs, sim, released };
}

async function startTurn(s: ReturnType<typeof setup>, player = 'alice', moveSeconds = 10) {
  const p = s.machine.startTurn({ player, moveSeconds, name: player.toUpperCase() });
  await s.clock.advance(timings.coinPulseMs);
  return p;
}

async function uriOf(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return (e as ClawError).uri; }
  return 'resolved';
}

t.test('command rules', async (t) => {
  const move = { player: 'alice', phase: 'move' as const };
  t.equal(classifyCommand(undefined, 'alice', 'upOn'), 'no_turn');
  t.equal(classifyCommand(move, 'bob', 'upOn'), 'not_player');
  t.equal(classifyCommand(move, undefined, 'upOn'), 'not_player', 'an undisclosed publisher is nobody');
  t.equal(classifyCommand(move, 'alice', undefined), 'invalid');
  t.equal(classifyCommand({ player: 'alice', phase: 'drop' }, 'alice', 'upOn'), 'wrong_phase');
  t.equal(classifyCommand(move, 'alice', 'drop'), 'accept');
  t.same(actionOf('leftOn'), { kind: 'hold', dir: 'left' });
  t.same(actionOf('rightOff'), { kind: 'release', dir: 'right' });
  t.same(actionOf('drop'), { kind: 'drop' });
  t.equal(parseCommand({ command: 'downOn' }), 'downOn');
  t.equal(parseCommand({ command: 'fire' }), undefined);
  t.equal(parseCommand(null), undefined);
});

t.test('a whole turn: coin, move, drop, drop cycle, prize window, lose, ready', async (t) => {
  const s = setup();
  t.same(s.statuses.map((x) => x.state), ['ready']);
  const coinAt = s.clock.now();
  const result = await startTurn(s);
  t.equal(result.topic, machineUris('m1').control('alice'));
  t.equal(result.endsAt, coinAt + timings.coinPulseMs + 10_000, 'endsAt: move phase after the coin pulse');
  t.same(s.statuses.at(-1), { state: 'controlled', player: 'ALICE', authid: 'alice', since: coinAt });
  t.same(s.events[0], { type: 'turn_started', machine: 'm1', player: 'ALICE', authid: 'alice', at: coinAt });
  t.ok(s.driver.writes.some((w) => w.name === 'coin' && w.asserted), 'the coin line was pulsed');

  s.machine.command({ command: 'rightOn' }, 'alice');
  t.equal(s.driver.output('right'), true);
  s.machine.command({ command: 'rightOff' }, 'alice');
  t.equal(s.driver.output('right'), false);
  s.machine.command({ command: 'drop' }, 'alice');
  t.equal(s.driver.output('drop'), true, 'drop pulse');
  t.equal(s.machine.currentTurn?.phase, 'drop');
  s.machine.command({ command: 'leftOn' }, 'alice');
  t.equal(s.driver.output('left'), false, 'no steering once dropped');
  t.equal(s.machine.stats.ignored.wrong_phase, 1);
  const dropAt = s.clock.now();
  await s.clock.advance((timings.dropCycleSeconds + timings.prizeWindowSeconds) * 1000 - 1);
  t.equal(s.machine.state, 'controlled', 'still watching the prize sensor');
  await s.clock.advance(1);
  t.equal(s.machine.state, 'ready');
  t.same(s.events.at(-1), { type: 'turn_ended', machine: 'm1', player: 'ALICE', authid: 'alice', result: 'lose', at: dropAt + (timings.dropCycleSeconds + timings.prizeWindowSeconds) * 1000 });
  t.ok(s.released());
  t.equal(s.clock.pending, 0, 'no timers left');
});

t.test('auto-drop at the end of the move phase, and a win from a debounced prize pulse', async (t) => {
  const s = setup();
  await startTurn(s, 'bob', 5);
  s.machine.command({ command: 'upOn' }, 'bob');
  // keep holding up with refreshes until the move phase ends by itself
  for (let i = 0; i < 25; i++) { await s.clock.advance(200); s.machine.command({ command: 'upOn' }, 'bob'); }
  t.equal(s.machine.currentTurn?.phase, 'drop', 'dropped automatically after moveSeconds');
  t.equal(s.driver.output('up'), false, 'directions released for the drop');
  await s.clock.advance(timings.dropPulseMs);
  // a bounce shorter than the debounce does not count
  s.driver.setInput('prize', true);
  await s.clock.advance(timings.prizeDebounceMs - 5);
  s.driver.setInput('prize', false);
  await s.clock.advance(100);
  t.equal(s.machine.state, 'controlled', 'a glitch is not a prize');
  s.driver.setInput('prize', true);
  await s.clock.advance(timings.prizeDebounceMs);
  t.equal(s.machine.state, 'ready');
  t.equal(s.events.at(-1)?.result, 'win');
  s.driver.setInput('prize', false);
});

t.test('commands from anyone but the current player, or outside a turn, are ignored and counted', async (t) => {
  const s = setup();
  s.machine.command({ command: 'upOn' }, 'alice');
  t.equal(s.machine.stats.ignored.no_turn, 1);
  await startTurn(s);
  s.machine.command({ command: 'upOn' }, 'mallory');
  s.machine.command({ command: 'drop' }, undefined);
  s.machine.command({ command: 'selfDestruct' }, 'alice');
  t.equal(s.machine.stats.ignored.not_player, 2);
  t.equal(s.machine.stats.ignored.invalid, 1);
  t.ok(s.released(), 'nothing moved');
  t.equal(s.machine.currentTurn?.phase, 'move');
});

t.test('a thrown error inside a command handler releases every output', async (t) => {
  const s = setup();
  await startTurn(s);
  s.machine.command({ command: 'upOn' }, 'alice');
  t.equal(s.driver.output('up'), true);
  const realSet = s.driver.set.bind(s.driver);
  s.driver.set = (name: OutputName, asserted: boolean) => {
    if (name === 'left' && asserted) throw new Error('simulated driver fault');
    realSet(name, asserted);
  };
  s.machine.command({ command: 'leftOn' }, 'alice');
  t.ok(s.released(), 'up was released by the error path');
  t.equal(s.machine.stats.commandErrors, 1);
  t.ok(s.logs.some((l) => l.startsWith('error command failed')));
  t.equal(s.machine.state, 'controlled', 'the turn goes on');
  s.machine.command({ command: 'downOn' }, 'alice');
  t.equal(s.driver.output('down'), true, 'and steering still works');
});

t.test('end_turn releases everything and ends the turn with its reason', async (t) => {
  const s = setup();
  await startTurn(s);
  s.machine.command({ command: 'leftOn' }, 'alice');
  t.same(s.machine.endTurn({ reason: 'skipped' }), { machine: 'm1', ended: true });
  t.ok(s.released());
  t.equal(s.events.at(-1)?.result, 'skipped');
  t.equal(s.machine.state, 'ready');
  t.same(s.machine.endTurn({ reason: 'timeout' }), { machine: 'm1', ended: false }, 'no turn: nothing to end');
  t.throws(() => s.machine.endTurn({}), ClawError);
  t.equal(s.clock.pending, 0);
});

t.test('turn ids: start_turn\'s turn is echoed in events and status; end_turn and release for another turn change nothing', async (t) => {
  const s = setup();
  const p = s.machine.startTurn({ player: 'alice', moveSeconds: 10, name: 'Ann', turn: 41 });
  await s.clock.advance(timings.coinPulseMs);
  await p;
  t.match(s.statuses.at(-1), { state: 'controlled', player: 'Ann', authid: 'alice', turn: 41 });
  t.match(s.events[0], { type: 'turn_started', player: 'Ann', authid: 'alice', turn: 41 });
  s.machine.command({ command: 'leftOn' }, 'alice');
  t.same(s.machine.releaseControl({ player: 'alice', turn: 40 }), { machine: 'm1', released: false }, 'a release for an older turn');
  t.equal(s.driver.output('left'), true, 'still held');
  t.same(s.machine.endTurn({ reason: 'skipped', turn: 40 }), { machine: 'm1', ended: false }, 'an end_turn for an older turn');
  t.equal(s.machine.state, 'controlled', 'the turn goes on');
  t.equal(s.driver.output('left'), true, 'and nothing was released');
  t.throws(() => s.machine.endTurn({ reason: 'skipped', turn: 'x' }), ClawError, 'a turn that is not a positive integer');
  t.same(s.machine.releaseControl({ player: 'alice', turn: 41 }), { machine: 'm1', released: true });
  t.equal(s.driver.output('left'), false);
  t.same(s.machine.endTurn({ reason: 'skipped', turn: 41 }), { machine: 'm1', ended: true });
  t.match(s.events.at(-1), { type: 'turn_ended', authid: 'alice', turn: 41, result: 'skipped' });
  t.same(s.statuses.at(-1), { state: 'ready', since: s.clock.now() }, 'ready carries no player, authid or turn');
});

t.test('start_turn refusals', async (t) => {
  const s = setup();
  t.equal(await uriOf(s.machine.startTurn({ player: 'Not Valid', moveSeconds: 5 })), ClawErrors.invalidArgument);
  t.equal(await uriOf(s.machine.startTurn({ player: 'a', moveSeconds: -1 })), ClawErrors.invalidArgument);
  await startTurn(s);
  t.equal(await uriOf(s.machine.startTurn({ player: 'bob', moveSeconds: 5 })), ClawErrors.machineBusy);
  s.machine.disconnected();
  t.equal(await uriOf(s.machine.startTurn({ player: 'bob', moveSeconds: 5 })), ClawErrors.machineOffline);
});

t.test('losing the router mid-turn releases everything and abandons the turn', async (t) => {
  const s = setup();
  await startTurn(s);
  s.machine.command({ command: 'rightOn' }, 'alice');
  s.machine.disconnected();
  t.ok(s.released());
  t.equal(s.machine.state, 'offline');
  t.equal(s.machine.currentTurn, undefined);
  s.machine.command({ command: 'rightOn' }, 'alice');
  t.ok(s.released(), 'no commands while offline');
  s.machine.connected();
  t.equal(s.machine.state, 'ready');
});

t.test('connected(): ready only once all lines are released', async (t) => {
  const s = setup();
  s.machine.disconnected();
  let broken = true;
  const realSet = s.driver.set.bind(s.driver);
  s.driver.set = (name: OutputName, asserted: boolean) => { if (broken && name === 'coin') throw new Error('EIO'); realSet(name, asserted); };
  s.driver.releaseAll = () => { for (const n of ['up', 'down', 'left', 'right', 'drop', 'coin'] as const) s.driver.set(n, false); };
  s.machine.connected();
  t.equal(s.machine.state, 'maintenance', 'a line that cannot be released keeps the machine out of service');
  await s.clock.advance(3000);
  t.equal(s.machine.state, 'maintenance');
  broken = false;
  await s.clock.advance(1000);
  t.equal(s.machine.state, 'ready', 'ready as soon as the release succeeds');
});

t.test('with the simulated cabinet: a centred drop wins, an empty box loses', async (t) => {
  const s = setup({ sim: true });
  const sim = s.sim!;
  sim.clearPrizes();
  sim.placePrize({ x: 0.2, y: 0 });
  await startTurn(s, 'carol', 30);
  s.machine.command({ command: 'rightOn' }, 'carol');
  // at 0.4 box/s, 0.2 takes 500 ms; refresh like a player page
  for (let i = 0; i < 2; i++) { await s.clock.advance(200); s.machine.command({ command: 'rightOn' }, 'carol'); }
  await s.clock.advance(100);
  s.machine.command({ command: 'rightOff' }, 'carol');
  t.ok(Math.abs(sim.snapshot().x - 0.2) < 0.01, `claw over the prize (x=${sim.snapshot().x})`);
  s.machine.command({ command: 'drop' }, 'carol');
  await s.clock.advance(20_000);
  t.equal(s.events.at(-1)?.result, 'win');
  t.equal(sim.delivered, 1);
  t.equal(sim.grabs[0]?.caught, true);
  t.equal(s.machine.state, 'ready');

  sim.clearPrizes();
  await startTurn(s, 'dave', 1);
  await s.clock.advance(20_000);
  t.equal(s.events.at(-1)?.result, 'lose', 'auto-drop on nothing');
  t.same(sim.snapshot().phase, 'idle');
  sim.stop();
});

t.test('the turn-ended log line counts that turn\'s dead-man releases (what monitoring alerts on)', async (t) => {
  const s = setup();
  await startTurn(s);
  s.machine.command({ command: 'upOn' }, 'alice');
  await s.clock.advance(timings.holdTimeoutMs + 10); // the page stopped refreshing: the dead man releases
  s.machine.command({ command: 'leftOn' }, 'alice');
  s.machine.command({ command: 'leftOff' }, 'alice'); // a released hold is no dead-man release
  s.machine.command({ command: 'drop' }, 'alice');
  await s.clock.advance((timings.dropCycleSeconds + timings.prizeWindowSeconds) * 1000 + timings.dropPulseMs);
  t.match(s.logs.filter((l) => l.startsWith('info turn ended')), [/"result":"lose","deadManReleases":1/]);
  await startTurn(s, 'bob');
  s.machine.command({ command: 'drop' }, 'bob');
  await s.clock.advance((timings.dropCycleSeconds + timings.prizeWindowSeconds) * 1000 + timings.dropPulseMs);
  t.match(s.logs.filter((l) => l.startsWith('info turn ended'))[1], /"deadManReleases":0/, 'counted per turn');
});
