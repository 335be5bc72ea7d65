// `clawgate-claw test` (the wiring check) on a real kernel GPIO chip (gpio-sim,
// inside the test VM), with `driver: auto` (gpio-cdev here): refused while a
// real claw node process holds the lines; once the node is stopped, a scripted
// check jogs every direction, pulses coin and drop and watches the prize
// sensor, and this process — the cabinet — sees each relay move through
// gpio-sim's sysfs and moves the sensor through gpio-sim's pull.
// Run by vm/main.sh inside the VM (not by the host's tap: no gpio-sim there).
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OUTPUTS, type OutputName } from '@clawgate/protocol';
import { eventually, sleep } from '../../helpers.js';
import { createSimChip, gpioinfo, outDir, sampler } from './sim-chip.js';

const LABEL = 'clawgate-wiring';
const LINE: Record<OutputName | 'prize', number> = { up: 0, down: 1, left: 2, right: 3, drop: 4, coin: 5, prize: 6 };
const SLOW = 120_000;
const bin = fileURLToPath(new URL('../../../bin/clawgate-claw.js', import.meta.url));

interface Proc { child: ChildProcess; out: () => string; exited: Promise<number | null> }
function run(args: string[]): Proc {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

t.test('clawgate-claw test on gpio-sim: refused while the node is in service, then every line checked from outside', async (t) => {
  const sim = createSimChip('clawgate-wiring', LABEL, ['relay-up', 'relay-down', 'relay-left', 'relay-right', 'relay-drop', 'relay-coin', 'prize-sensor']);
  t.teardown(() => sim.remove());
  for (let i = 0; i < 7; i++) sim.setPull(i, 'pull-up');
  const cab = sampler(sim);
  t.teardown(cab.stop);
  const configPath = '/tmp/wiring.json';
  writeFileSync(configPath, JSON.stringify({
    router: { url: 'ws://127.0.0.1:9/claw', realm: 'claw', auth: 'anonymous' },
    machine: 'kvm-wiring',
    driver: 'auto',
    wiring: {
      outputs: Object.fromEntries(OUTPUTS.map((o) => [o, { chip: LABEL, line: LINE[o], activeLow: true }])),
      inputs: { prize: { chip: LABEL, line: LINE.prize, activeLow: true, bias: 'pull-up' } },
    },
    timings: { holdTimeoutMs: 2000, coinPulseMs: 150, coinGapMs: 500, dropPulseMs: 200, dropGapMs: 1000 },
    reconnect: { initialDelayMs: 1000, maxDelayMs: 5000 },
    logLevel: 'info',
  }));

  // In service: the node holds the lines (no router needed for that).
  const node = run(['--config', configPath]);
  t.teardown(() => { node.child.kill('SIGKILL'); });
  await eventually(() => node.out().includes('"claw node started"'), 'the node started', SLOW);
  t.same(gpioinfo(sim.chip).map((i) => i.consumer), Array(7).fill('clawgate'), 'the node holds every line as "clawgate"');
  const refused = run(['test', '--config', configPath, '--script', 'all']);
  t.equal(await refused.exited, 4, 'exit 4: refused');
  t.match(refused.out(), /refusing to run: the claw node is in service \(output "up", line 0 on "clawgate-wiring", is held by "clawgate"\)/);
  t.same(cab.samples.length, 1, 'no line moved');
  node.child.kill('SIGTERM');
  t.equal(await node.exited, 0, 'node stopped');

  // Out of service: the check.
  const t0 = Date.now();
  const check = run(['test', '--config', configPath, '--script', 'up:400 down:400 left:400 right:400 coin drop prize prize:6', '--trace']);
  t.teardown(() => { check.child.kill('SIGKILL'); });
  await eventually(() => check.out().includes('wiring check on machine'), 'the check started', SLOW);
  t.match(check.out(), /driver gpio-cdev/, 'driver auto chose gpio-cdev');
  await eventually(() => check.out().includes('prize: watching'), 'the prize watch', SLOW);
  // Only now (the relays are done): gpioinfo runs synchronously and would starve the sampler.
  t.same(gpioinfo(sim.chip).map((i) => i.consumer), Array(7).fill('clawgate-test'), 'the check holds every line as "clawgate-test"');
  sim.setPull(LINE.prize, 'pull-down'); // a prize falls through the sensor
  await sleep(300);
  sim.setPull(LINE.prize, 'pull-up');
  t.equal(await check.exited, 0, `exit 0\n${check.out()}`);
  const out = check.out();
  t.match(out, /up: on for \d+ ms[\s\S]*down: on for[\s\S]*left: on for[\s\S]*right: on for[\s\S]*coin: one 150 ms pulse[\s\S]*drop: one 200 ms pulse[\s\S]*prize: not asserted[\s\S]*prize: asserted at \+\d+ ms[\s\S]*prize: released at \+\d+ ms[\s\S]*prize: 2 edges in 6 s[\s\S]*done: every step passed/);
  for (const o of OUTPUTS) {
    const pulses = cab.lowPulses(LINE[o], t0);
    t.equal(pulses.length, 1, `${o}: one low (asserted) period seen on the line from outside (${pulses.map((p) => `${p.ms} ms`).join(', ')})`);
  }
  const order = OUTPUTS.map((o) => [o, cab.lowPulses(LINE[o], t0)[0]?.start ?? 0] as const).sort((a, b) => a[1] - b[1]).map(([o]) => o);
  t.same(order, ['up', 'down', 'left', 'right', 'coin', 'drop'], 'in the order of the script');
  const together = cab.samples.filter((s) => s.levels.slice(0, 6).filter((v) => v === 0).length > 1);
  t.same(together, [], 'never two relays on at once');
  t.same(sim.values(), [1, 1, 1, 1, 1, 1, 1], 'everything released');
  t.same(gpioinfo(sim.chip).map((i) => i.consumer), Array(7).fill(undefined), 'and given back');
  writeFileSync(join(outDir(), 'wiring-check.txt'), out);
});
