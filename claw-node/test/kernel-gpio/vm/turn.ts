// A full turn of the real claw node (the clawgate-claw CLI, its own process,
// with `driver: libgpiod` or `driver: auto`, which picks gpio-cdev here) on a gpio-sim chip, inside the test VM, against the real
// router on the VM's loopback, driven by a backend and a player over
// WebSocket. This process is also the cabinet: it samples every line's level
// through gpio-sim's sysfs (never through the node) and "drops a prize" by
// pulling the sensor line low. Then the node is killed with SIGKILL, and
// stopped with SIGTERM, in the middle of a held direction.
// Wiring as docs/claw-node.md recommends: active-low relay inputs on pins with
// pull-ups, an active-low prize sensor with the pull-up bias.
// turn.vm.ts and turn-cdev.vm.ts run it, one driver each, from vm/main.sh
// inside the VM (not by the host's tap: no gpio-sim there).
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventPayload, OUTPUTS, StatusPayload, machineUris, type OutputName } from '@clawgate/protocol';
import { connect, eventually, player, sleep, startRouter, HOLD_TIMEOUT_MS, type Client } from '../../helpers.js';
import { createSimChip, gpioinfo, outDir, sampler } from './sim-chip.js';

const MACHINE = 'kvm1';
const LABEL = 'clawgate-cabinet';
const LINE: Record<OutputName | 'prize', number> = { up: 0, down: 1, left: 2, right: 3, drop: 4, coin: 5, prize: 6 };
const TIMINGS = { coinPulseMs: 150, coinGapMs: 500, dropPulseMs: 200, dropGapMs: 1000, holdTimeoutMs: HOLD_TIMEOUT_MS, dropCycleSeconds: 3, prizeWindowSeconds: 3, prizeDebounceMs: 30 };
// Under software emulation a cold node takes tens of seconds to start.
const SLOW = 120_000;

interface Watch { statuses: StatusPayload[]; events: EventPayload[] }
async function backend(port: number): Promise<Client & Watch> {
  const c = await connect(port, 'backend');
  const uris = machineUris(MACHINE);
  const w: Watch = { statuses: [], events: [] };
  await c.session.subscribe(uris.status, (args) => { w.statuses.push(StatusPayload.parse(args?.[0])); }, { get_retained: true });
  await c.session.subscribe(uris.events, (args) => { w.events.push(EventPayload.parse(args?.[0])); });
  return Object.assign(c, w);
}

interface NodeProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The pid of the process that holds the lines (from its log). */
  pid(): Promise<number>;
}

/**
 * The clawgate-claw CLI as its own process, started as a service would start it:
 * `node bin/clawgate-claw.js`. The bin runs the compiled dist/ when it is fresh,
 * else it starts a second process that runs the sources (tsx); then the pid that
 * holds the lines is that child's, which is why pid() reads it from the log.
 */
function startNode(configPath: string, logName: string): NodeProcess {
  const bin = fileURLToPath(new URL('../../../bin/clawgate-claw.js', import.meta.url));
  const child = spawn(process.execPath, [bin, '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logPath = join(outDir(), logName);
  const log = createWriteStream(logPath);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const pid = () => eventually(() => {
    const started = readFileSync(logPath, 'utf8').split('\n').find((l) => l.includes('"claw node started"'));
    return started ? (JSON.parse(started) as { pid: number }).pid : undefined;
  }, 'the node logged its start', SLOW);
  return { child, exited, pid };
}

/** `driver`: what the config says; `expect`: the driver the node must report it started with. */
export function turnTest(driver: 'libgpiod' | 'auto', expect: 'libgpiod' | 'gpio-cdev'): void {
  t.test(`a full turn of the real claw node on gpio-sim (driver: ${driver} -> ${expect}), then SIGKILL and SIGTERM mid-hold`, async (t) => {
    t.comment(`test process up for ${process.uptime().toFixed(1)} s (imports) when the test starts`);
    const sim = createSimChip(`clawgate-turn-${expect}`, LABEL, ['relay-up', 'relay-down', 'relay-left', 'relay-right', 'relay-drop', 'relay-coin', 'prize-sensor']);
    t.teardown(() => sim.remove());
    // The board: pull-ups on every relay input and on the sensor.
    for (let i = 0; i < 7; i++) sim.setPull(i, 'pull-up');
    const cab = sampler(sim);
    t.teardown(cab.stop);

    const r = await startRouter();
    t.teardown(() => r.stop());
    const config = {
      router: { url: `ws://127.0.0.1:${r.port}/claw`, realm: 'claw', auth: 'anonymous' },
      machine: MACHINE,
      driver,
      wiring: {
        outputs: Object.fromEntries(OUTPUTS.map((o) => [o, { chip: LABEL, line: LINE[o], activeLow: true }])),
        inputs: { prize: { chip: LABEL, line: LINE.prize, activeLow: true, bias: 'pull-up' } },
      },
      timings: TIMINGS,
      pollMs: 5,
      reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
      logLevel: 'info',
    };
    const configPath = `/tmp/kvm1-${expect}.json`;
    writeFileSync(configPath, JSON.stringify(config));

    const since = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    let tStart = Date.now();
    let node = startNode(configPath, `${expect}-node-1.log`);
    t.teardown(() => { node.child.kill('SIGKILL'); });
    const be = await backend(r.port);
    t.teardown(() => be.connection.close());
    const uris = machineUris(MACHINE);
    const last = () => be.statuses.at(-1)?.state;
    await eventually(() => last() === 'ready', 'node ready', SLOW);
    t.comment(`node process started and ready in ${since(tStart)}`);
    const startLine = readFileSync(join(outDir(), `${expect}-node-1.log`), 'utf8').split('\n').find((l) => l.includes('"claw node started"'));
    t.match(JSON.parse(startLine ?? '{}'), { driver: expect }, `the node started on the ${expect} driver`);
    t.same(sim.values(), [1, 1, 1, 1, 1, 1, 1], 'ready: every relay input high (released), the sensor high');
    const info = gpioinfo(sim.chip);
    t.same(info.map((i) => i.consumer), Array(7).fill('clawgate'), 'all seven lines held by "clawgate" (chip found by its label)');
    t.same(info.map((i) => i.direction), ['output', 'output', 'output', 'output', 'output', 'output', 'input']);

    // Turn 1: coin, steer, drop, and the cabinet delivers a prize.
    const t0 = Date.now();
    const started = await be.session.call(uris.startTurn, [{ player: 'alice', moveSeconds: 60, name: 'Alice' }]) as { topic: string };
    const coin = cab.lowPulses(LINE.coin, t0);
    // Widths are sampled from outside on a loaded, emulated machine: reported, not asserted
    // (the pulse lengths themselves are tested with a fake clock in safety.test.ts).
    t.equal(coin.length, 1, `one coin pulse on the coin relay (seen ${coin[0]?.ms} ms wide; configured ${TIMINGS.coinPulseMs})`);
    const alice = await player(r.port, 'alice');
    t.teardown(() => alice.close());
    const hold = (command: string) => {
      void alice.publish(started.topic, [{ command }]).catch(() => {});
      const timer = setInterval(() => { void alice.publish(started.topic, [{ command }]).catch(() => {}); }, 200);
      return () => clearInterval(timer);
    };
    let stop = hold('rightOn');
    await eventually(() => sim.value(LINE.right) === 0, 'right relay on', SLOW);
    await sleep(500);
    t.equal(sim.value(LINE.right), 0, 'held while refreshed');
    stop();
    await alice.publish(started.topic, [{ command: 'rightOff' }]);
    await eventually(() => sim.value(LINE.right) === 1, 'right relay off', SLOW);
    stop = hold('upOn');
    await eventually(() => sim.value(LINE.up) === 0, 'up relay on', SLOW);
    stop();
    stop = hold('downOn'); // the opposite direction: the interlock releases up first
    await eventually(() => sim.value(LINE.down) === 0, 'down relay on', SLOW);
    t.equal(sim.value(LINE.up), 1, 'up released when down was asserted');
    stop();
    const tDrop = Date.now();
    await alice.publish(started.topic, [{ command: 'drop' }]);
    const drop = await eventually(() => cab.lowPulses(LINE.drop, tDrop)[0], 'drop pulse', SLOW);
    t.pass(`a drop pulse on the drop relay (seen ${drop.ms} ms wide; configured ${TIMINGS.dropPulseMs})`);
    t.equal(sim.value(LINE.down), 1, 'the drop released the held direction');
    // The cabinet: a prize falls through the chute sensor.
    await sleep(300);
    sim.setPull(LINE.prize, 'pull-down');
    await sleep(300);
    sim.setPull(LINE.prize, 'pull-up');
    const ended = await eventually(() => be.events.find((e) => e.type === 'turn_ended'), 'turn_ended', SLOW);
    t.same({ player: ended.player, result: ended.result }, { player: 'Alice', result: 'win' }, 'the prize seen on the real input line wins the turn');
    await eventually(() => last() === 'ready', 'ready after the turn', SLOW);
    t.same(sim.values(), [1, 1, 1, 1, 1, 1, 1], 'everything released after the turn');
    const never = cab.samples.filter((s) => (s.levels[LINE.up] === 0 && s.levels[LINE.down] === 0) || (s.levels[LINE.left] === 0 && s.levels[LINE.right] === 0));
    t.same(never, [], 'the cabinet never saw opposite directions on together');
    alice.close();

    // Turn 2: SIGKILL while left is held. No handler runs; the kernel frees the lines.
    const bob = await player(r.port, 'bob');
    t.teardown(() => bob.close());
    const second = await be.session.call(uris.startTurn, [{ player: 'bob', moveSeconds: 60 }]) as { topic: string };
    const holdLeft = setInterval(() => { void bob.publish(second.topic, [{ command: 'leftOn' }]).catch(() => {}); }, 200);
    t.teardown(() => clearInterval(holdLeft));
    await eventually(() => sim.value(LINE.left) === 0, 'left relay on', SLOW);
    const pid = await node.pid();
    t.comment(`the node ran ${pid === node.child.pid ? 'from dist/' : 'from source (dist/ is stale): the bin started a child'}`);
    process.kill(pid, 'SIGKILL');
    const killed = await node.exited;
    const afterKill = sim.values();
    clearInterval(holdLeft);
    t.same(killed, pid === node.child.pid ? { code: null, signal: 'SIGKILL' } : { code: 128, signal: null }, 'the node died of SIGKILL');
    t.same(afterKill, [1, 1, 1, 1, 1, 1, 1], 'after SIGKILL the held relay input is back at its pull-up: released (gpio-sim models a freed line as its pull)');
    t.same(gpioinfo(sim.chip).map((i) => i.consumer), Array(7).fill(undefined), 'every line free');
    await eventually(() => last() === 'offline', 'offline (the testament)', SLOW);
    bob.close();

    // Turn 3: a new node process; SIGTERM while up is held: released, offline, exit 0.
    tStart = Date.now();
    node = startNode(configPath, `${expect}-node-2.log`);
    await eventually(() => last() === 'ready', 'the restarted node is ready', SLOW);
    t.comment(`second node process started and ready in ${since(tStart)}`);
    const carol = await player(r.port, 'carol');
    t.teardown(() => carol.close());
    const third = await be.session.call(uris.startTurn, [{ player: 'carol', moveSeconds: 60 }]) as { topic: string };
    const holdUp = setInterval(() => { void carol.publish(third.topic, [{ command: 'upOn' }]).catch(() => {}); }, 200);
    t.teardown(() => clearInterval(holdUp));
    await eventually(() => sim.value(LINE.up) === 0, 'up relay on', SLOW);
    node.child.kill('SIGTERM');
    const termed = await node.exited;
    clearInterval(holdUp);
    t.same(termed, { code: 0, signal: null }, 'SIGTERM: clean exit 0');
    t.match(readFileSync(join(outDir(), `${expect}-node-2.log`), 'utf8'), /SIGTERM: stopping/, 'the node handled SIGTERM (released, then stopped)');
    t.same(sim.values(), [1, 1, 1, 1, 1, 1, 1], 'all released after SIGTERM');
    await eventually(() => last() === 'offline', 'offline after the clean stop', SLOW);

    t.comment(`from the first start_turn to here: ${since(t0)}`);
    writeFileSync(join(outDir(), `turn-lines-${expect}.json`), `${JSON.stringify({ driver: expect, lines: LINE, coin, drop, samples: cab.samples }, null, 1)}\n`);
  });
}
