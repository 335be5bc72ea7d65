// `clawgate-claw test`, the wiring check:
// - the step language and its limits (steps.ts);
// - the check on the simulated driver with a fake clock: the exact GPIO trace
//   (every write, in order, at its simulated instant) — jogs refreshed past the
//   dead man's timeout, pulses with their lengths and gaps, the interlock, abort;
// - the command on a stand-in kernel chip (gpio-cdev): lines held as
//   "clawgate-test", and the refusal while the claw node is in service;
// - the real CLI process, scripted and interactive (stdin piped).
// On a real kernel chip: kernel-gpio/vm/wiring.vm.ts.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { OutputName } from '@clawgate/protocol';
import { parseConfig } from '../src/config.js';
import { FakeClock } from '../src/fake-clock.js';
import { createDriver } from '../src/gpio/create-driver.js';
import { SimulatedDriver } from '../src/gpio/simulated-driver.js';
import { refusal, runTestCommand, TestExit, type TestIo } from '../src/wiring/command.js';
import { MAX_JOG_MS, parseSteps, StepError } from '../src/wiring/steps.js';
import { WiringTest } from '../src/wiring/wiring-test.js';
import { fakeKernel } from './fake-gpio-kernel.js';

const timings = { holdTimeoutMs: 300, coinPulseMs: 100, coinGapMs: 400, dropPulseMs: 150, dropGapMs: 1000 };

t.test('steps: the language and its limits', async (t) => {
  t.same(parseSteps('up:250, coin  prize:3 wait:0 right', 400), [
    { kind: 'jog', dir: 'up', ms: 250 }, { kind: 'pulse', name: 'coin' }, { kind: 'watch', seconds: 3 },
    { kind: 'wait', ms: 0 }, { kind: 'jog', dir: 'right', ms: 400 },
  ]);
  t.same(parseSteps('all', 100).map((s) => s.kind === 'jog' ? `${s.dir}:${s.ms}` : s.kind === 'pulse' ? s.name : s.kind),
    ['up:100', 'down:100', 'left:100', 'right:100', 'coin', 'drop', 'read']);
  t.same(parseSteps('  '), []);
  t.same(parseSteps('PRIZE'), [{ kind: 'read' }], 'case does not matter');
  for (const [text, msg] of [
    [`up:${MAX_JOG_MS + 1}`, /"up:10001": 10001 ms is out of range \(1-10000\)/],
    ['up:0', /out of range/],
    ['left:1.5', /"1\.5" is not a whole number/],
    ['down:', /a number is missing/],
    ['coin:3', /"coin:3" is not a step/],
    ['wait', /"wait" is not a step/],
    ['jump', /"jump" is not a step\. steps \(separated/],
    ['up:1:2', /one ":" at most/],
    ['prize:0', /out of range \(1-300\)/],
    [Array(201).fill('coin').join(' '), /more than 200 steps/],
  ] as const) t.throws(() => parseSteps(text), { name: 'StepError', message: msg }, text);
  t.type(new StepError('x'), Error);
});

/** Every write that reached the simulated lines, with its instant relative to t0. */
function traced(clock: FakeClock, driver: SimulatedDriver) {
  const t0 = clock.now();
  const trace: string[] = [];
  driver.onOutput((name, asserted) => trace.push(`${clock.now() - t0} ${name} ${asserted ? 'on' : 'off'}`));
  return trace;
}

async function runOn(clock: FakeClock, check: WiringTest, text: string, jogMs = 200): Promise<boolean> {
  const done = check.run(parseSteps(text, jogMs));
  let result: boolean | undefined;
  void done.then((r) => { result = r; });
  for (let i = 0; i < 1000 && result === undefined; i++) await clock.advance(10);
  return done;
}

t.test('the check on the simulated driver: exact GPIO trace through the safety layer', async (t) => {
  const clock = new FakeClock();
  const driver = new SimulatedDriver();
  driver.claimOutputs((['up', 'down', 'left', 'right', 'drop', 'coin'] as OutputName[]).map((name) => ({ name, chip: 0, line: 0, activeLow: false })));
  driver.claimInputs([{ name: 'prize', chip: 0, line: 0, activeLow: false, bias: 'as-is' }]);
  const trace = traced(clock, driver);
  const said: string[] = [];
  const traceLines: string[] = [];
  const check = new WiringTest(driver, { timings, clock, say: (l) => said.push(l), trace: (l) => traceLines.push(l) });
  t.ok(await runOn(clock, check, 'up down:1000 coin coin drop prize'), 'every step passed');
  t.same(trace, [
    '0 up on', '200 up off',
    '200 down on', '1200 down off', // 1000 ms, past the 300 ms dead man: refreshed, never dropped
    '1200 coin on', '1300 coin off',
    '1700 coin on', '1800 coin off', // the second coin waits out coinGapMs (400 ms)
    '1800 drop on', '1950 drop off',
  ], 'what reached the lines, at the simulated instants');
  const downWrites = driver.writes.filter((w) => w.name === 'down').map((w) => w.asserted);
  t.same(downWrites.slice(0, 11), [...Array(10).fill(true), false],
    'the 1000 ms jog re-asserted its line (hold refreshes) every 100 ms (a third of the hold timeout), as a player does, then released it');
  t.ok(downWrites.slice(11).every((a) => a === false), 'later writes only release (the drop releases every direction)');
  t.match(said, [/^up: on for 200 ms$/, /^down: on for 1000 ms$/, /^coin: one 100 ms pulse/, /^coin: one 100 ms pulse \(done 500 ms after/, /^drop: one 150 ms pulse/, 'prize: not asserted']);
  t.match(traceLines[0], /^\+\s+0 ms up on$/);
  t.equal(traceLines.length, 10);

  driver.setInput('prize', true);
  said.length = 0;
  const watching = runOn(clock, check, 'prize prize:2');
  await clock.advance(0);
  setTimeout(() => driver.setInput('prize', false), 0);
  t.ok(await watching);
  t.match(said, ['prize: asserted', /prize: watching for 2 s \(now asserted\)/, /prize: released at \+\d+ ms/, 'prize: 1 edge in 2 s']);
});

t.test('the check: abort releases everything at once and ends the step', async (t) => {
  const clock = new FakeClock();
  const driver = new SimulatedDriver();
  driver.claimOutputs((['up', 'down', 'left', 'right', 'drop', 'coin'] as OutputName[]).map((name) => ({ name, chip: 0, line: 0, activeLow: false })));
  driver.claimInputs([{ name: 'prize', chip: 0, line: 0, activeLow: false, bias: 'as-is' }]);
  const check = new WiringTest(driver, { timings, clock, say: () => {} });
  const done = check.run(parseSteps('left:5000 right'));
  await clock.advance(1000);
  t.equal(driver.output('left'), true, 'jogging');
  t.equal(check.abort(), true, 'released');
  t.equal(driver.output('left'), false);
  t.equal(await done, false, 'the run reports it did not finish');
  await clock.advance(10_000);
  t.equal(driver.output('right'), false, 'later steps never run');
  check.close();
  t.throws(() => driver.set('up', true), /closed/, 'close() gives the lines back');
});

const LABEL = 'pinctrl-test';
const wiring = {
  outputs: Object.fromEntries((['up', 'down', 'left', 'right', 'drop', 'coin'] as const).map((n, i) => [n, { chip: LABEL, line: 4 + i, activeLow: true }])),
  inputs: { prize: { chip: LABEL, line: 17, activeLow: true, bias: 'pull-up' } },
};
const cdevConfig = parseConfig({ router: { url: 'ws://127.0.0.1:1/claw', auth: 'anonymous' }, machine: 'm1', driver: 'gpio-cdev', wiring, timings: { ...timings, holdTimeoutMs: 5000 }, logLevel: 'silent' });

function io(input = new PassThrough()): TestIo & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l), input, interactive: false, onInterrupt: () => () => {} };
}

t.test('the command on a (stand-in) kernel chip: consumer clawgate-test, refused while the node is in service', async (t) => {
  const k = fakeKernel([{ label: LABEL, lines: 32 }]);
  const levels: number[][] = [];
  const sys = { ...k.sys, ioctl: (fd: number, req: number, arg: Buffer) => { k.sys.ioctl(fd, req, arg); levels.push([4, 5, 6, 7, 8, 9].map((o) => k.level(LABEL, o))); } };
  const a = io();
  const run = runTestCommand(cdevConfig, { script: 'coin', jogMs: 50, trace: false }, a, { cdev: sys });
  t.equal(k.consumer(LABEL, 4), 'clawgate-test', 'the check holds the lines as "clawgate-test"');
  t.throws(() => createDriver(cdevConfig, { cdev: k.sys }), { name: 'GpioLineBusyError', holder: 'clawgate-test' }, 'a node cannot start meanwhile');
  t.equal(await run, TestExit.ok, a.errLines.join('\n'));
  t.ok(levels.some((l) => l[5] === 0), 'the coin relay (active-low) went low');
  t.same([4, 5, 6, 7, 8, 9].map((o) => k.level(LABEL, o)), [1, 1, 1, 1, 1, 1], 'every relay released after');
  t.equal(k.openFds(), 0, 'lines given back');

  // The node is in service: it holds its lines as "clawgate".
  k.hold(LABEL, 8, 'clawgate');
  const b = io();
  t.equal(await runTestCommand(cdevConfig, { script: 'all', jogMs: 50, trace: false }, b, { cdev: k.sys }), TestExit.inService);
  t.match(b.errLines.join('\n'), /refusing to run: the claw node is in service \(output "drop", line 8 on "pinctrl-test", is held by "clawgate"\)\. Take the machine out of service first \(on the board: sudo systemctl stop clawgate-claw\)/);
  t.same(b.outLines, [], 'nothing ran');
  t.equal(k.openFds(), 1, 'only the node\'s line is held: the check gave back what it had claimed');

  const k2 = fakeKernel([{ label: LABEL, lines: 32 }]);
  k2.hold(LABEL, 4, 'clawgate-test');
  const c = io();
  t.equal(await runTestCommand(cdevConfig, { script: 'all', jogMs: 50, trace: false }, c, { cdev: k2.sys }), TestExit.inService);
  t.match(c.errLines.join('\n'), /another wiring check holds the lines/);
  const k3 = fakeKernel([{ label: LABEL, lines: 32 }]);
  k3.hold(LABEL, 4, 'gpio-daemon');
  const d = io();
  t.equal(await runTestCommand(cdevConfig, { script: 'all', jogMs: 50, trace: false }, d, { cdev: k3.sys }), TestExit.gpio, 'another program on a line: a GPIO error, not "in service"');
  t.match(d.errLines.join('\n'), /already in use by "gpio-daemon"/);
  t.equal(refusal(new Error('x')), undefined);
});

t.test('the command: interactive steps from a stream, a bad step does not end it', async (t) => {
  const k = fakeKernel([{ label: LABEL, lines: 32 }]);
  const input = new PassThrough();
  const a = io(input);
  const run = runTestCommand(cdevConfig, { jogMs: 30, trace: true }, a, { cdev: k.sys });
  input.write('up\nbogus\nhelp\n');
  input.end('coin prize\nquit\n');
  t.equal(await run, TestExit.ok);
  const out = a.outLines.join('\n');
  t.match(out, /trace \+\s*\d+ ms up on[\s\S]*up: on for \d+ ms[\s\S]*coin: one 100 ms pulse[\s\S]*prize: not asserted[\s\S]*bye: every output released/);
  t.match(a.errLines.join('\n'), /"bogus" is not a step/);
  t.equal(k.openFds(), 0);
});

const bin = fileURLToPath(new URL('../bin/clawgate-claw.js', import.meta.url));
function cli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import=tsx', '--conditions=@clawgate/source', bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr })); // 'close': all of its output read
    child.stdin.end(stdin ?? '');
  });
}

t.test('clawgate-claw test: the real CLI, scripted and interactive, on the simulated driver', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'claw-wiring-'));
  const cfg = join(dir, 'sim.json');
  writeFileSync(cfg, JSON.stringify({ router: { url: 'ws://127.0.0.1:1/claw', auth: 'anonymous' }, machine: 'm1', driver: 'simulated', timings, logLevel: 'silent' }));
  const [scripted, bad, piped, badJog] = await Promise.all([
    cli(['test', '--config', cfg, '--script', 'all right:700', '--jog-ms', '120', '--trace']),
    cli(['test', '--config', cfg, '--script', 'up:99999']),
    cli(['test', '--config', cfg], 'left:50\nquit\n'),
    cli(['test', '--config', cfg, '--jog-ms', '0']),
  ]);
  t.equal(scripted.code, 0, scripted.stderr);
  const trace = scripted.stdout.split('\n').filter((l) => l.startsWith('trace ')).map((l) => l.replace(/^trace \+\s*\d+ ms /, ''));
  t.same(trace, ['up on', 'up off', 'down on', 'down off', 'left on', 'left off', 'right on', 'right off', 'coin on', 'coin off', 'drop on', 'drop off', 'right on', 'right off'],
    'the GPIO trace: each direction, one coin and one drop pulse, then a 700 ms jog past the 300 ms dead man, one on and one off');
  t.match(scripted.stdout, /right: on for (7\d\d|[89]\d\d|\d{4}) ms/);
  t.match(scripted.stdout, /done: every step passed; every output released/);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /"up:99999": 99999 ms is out of range/);
  t.equal(piped.code, 0, piped.stderr);
  t.match(piped.stdout, /left: on for \d+ ms[\s\S]*bye: every output released/);
  t.equal(badJog.code, 2);
  t.match(badJog.stderr, /--jog-ms must be a whole number from 1 to 10000/);
});
