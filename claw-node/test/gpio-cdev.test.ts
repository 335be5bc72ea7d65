// The gpio-cdev driver (the kernel's GPIO uAPI v2 through koffi):
// - the struct layouts and ioctl numbers against the kernel's own header
//   (<linux/gpio.h>, compiled with gcc);
// - the real system calls through koffi on this machine (no GPIO chip here:
//   errors, non-blocking reads, the off-thread poll waking on data, and
//   process.exit not waiting for it);
// - the driver on a stand-in chip (fake-gpio-kernel.ts): request flags,
//   levels, edge events, the sampling fallback, every start error, release;
// - `driver: auto` choosing between gpio-cdev and libgpiod.
// The driver on a real kernel chip: kernel-gpio/ (npm run test:kernel-gpio).
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, writeFileSync, closeSync, constants as fsConstants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CdevDriver } from '../src/gpio/cdev-driver.js';
import { loadCdevSyscalls, SyscallError, type CdevSyscalls } from '../src/gpio/cdev-syscalls.js';
import { Ioctl, LineFlag, Offset, Size, encodeLineRequest } from '../src/gpio/cdev-uapi.js';
import { chooseAutoDriver, createDriver, resolveDriverKind } from '../src/gpio/create-driver.js';
import { GpioLineBusyError, GpioUnavailableError, type InputSpec } from '../src/gpio/driver.js';
import type { LibgpiodModule } from '../src/gpio/libgpiod-driver.js';
import { parseConfig } from '../src/config.js';
import { FakeClock } from '../src/fake-clock.js';
import { PrizeDetector } from '../src/machine/prize-detector.js';
import { startClawNode } from '../src/node.js';
import { silentLogger } from '../src/logger.js';
import { fakeKernel } from './fake-gpio-kernel.js';

const LABEL = 'pinctrl-test';
const wiring = {
  outputs: {
    up: { chip: LABEL, line: 4, activeLow: true }, down: { chip: LABEL, line: 5, activeLow: true },
    left: { chip: LABEL, line: 6, activeLow: true }, right: { chip: LABEL, line: 7, activeLow: true },
    drop: { chip: LABEL, line: 8, activeLow: true }, coin: { chip: 'gpiochip1', line: 2, activeLow: false },
  },
  inputs: { prize: { chip: LABEL, line: 17, activeLow: true, bias: 'pull-up' } },
};
const config = parseConfig({ router: { url: 'ws://127.0.0.1:1/claw', auth: 'anonymous' }, machine: 'm1', driver: 'gpio-cdev', wiring, logLevel: 'silent' });
const twoChips = () => fakeKernel([{ label: 'other-chip', lines: 8 }, { label: LABEL, lines: 54 }]);
// gpiochip0 is "other-chip", gpiochip1 is LABEL: coin (gpiochip1 line 2) is on the labelled chip too.

t.test('uAPI v2 layout and ioctl numbers match <linux/gpio.h>', { skip: !existsSync('/usr/include/linux/gpio.h') || !hasGcc() ? 'gcc or linux/gpio.h (linux-libc-dev) missing' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpio-uapi-'));
  const fields: [string, string][] = [
    ['Size.chipInfo', 'sizeof(struct gpiochip_info)'], ['Size.lineAttribute', 'sizeof(struct gpio_v2_line_attribute)'],
    ['Size.lineConfigAttribute', 'sizeof(struct gpio_v2_line_config_attribute)'], ['Size.lineConfig', 'sizeof(struct gpio_v2_line_config)'],
    ['Size.lineRequest', 'sizeof(struct gpio_v2_line_request)'], ['Size.lineInfo', 'sizeof(struct gpio_v2_line_info)'],
    ['Size.lineValues', 'sizeof(struct gpio_v2_line_values)'], ['Size.lineEvent', 'sizeof(struct gpio_v2_line_event)'],
    ['Offset.chipInfo.label', 'offsetof(struct gpiochip_info, label)'], ['Offset.chipInfo.lines', 'offsetof(struct gpiochip_info, lines)'],
    ['Offset.lineConfig.numAttrs', 'offsetof(struct gpio_v2_line_config, num_attrs)'], ['Offset.lineConfig.attrs', 'offsetof(struct gpio_v2_line_config, attrs)'],
    ['Offset.lineRequest.consumer', 'offsetof(struct gpio_v2_line_request, consumer)'], ['Offset.lineRequest.config', 'offsetof(struct gpio_v2_line_request, config)'],
    ['Offset.lineRequest.numLines', 'offsetof(struct gpio_v2_line_request, num_lines)'], ['Offset.lineRequest.eventBufferSize', 'offsetof(struct gpio_v2_line_request, event_buffer_size)'],
    ['Offset.lineRequest.fd', 'offsetof(struct gpio_v2_line_request, fd)'],
    ['Offset.lineInfo.consumer', 'offsetof(struct gpio_v2_line_info, consumer)'], ['Offset.lineInfo.offset', 'offsetof(struct gpio_v2_line_info, offset)'],
    ['Offset.lineInfo.numAttrs', 'offsetof(struct gpio_v2_line_info, num_attrs)'], ['Offset.lineInfo.flags', 'offsetof(struct gpio_v2_line_info, flags)'],
    ['Offset.lineInfo.attrs', 'offsetof(struct gpio_v2_line_info, attrs)'],
    ['Offset.lineEvent.id', 'offsetof(struct gpio_v2_line_event, id)'], ['Offset.lineEvent.offset', 'offsetof(struct gpio_v2_line_event, offset)'],
    ['Offset.lineEvent.seqno', 'offsetof(struct gpio_v2_line_event, seqno)'], ['Offset.lineEvent.lineSeqno', 'offsetof(struct gpio_v2_line_event, line_seqno)'],
    ['Ioctl.GET_CHIPINFO', 'GPIO_GET_CHIPINFO_IOCTL'], ['Ioctl.V2_GET_LINEINFO', 'GPIO_V2_GET_LINEINFO_IOCTL'],
    ['Ioctl.V2_GET_LINE', 'GPIO_V2_GET_LINE_IOCTL'], ['Ioctl.V2_LINE_SET_CONFIG', 'GPIO_V2_LINE_SET_CONFIG_IOCTL'],
    ['Ioctl.V2_LINE_GET_VALUES', 'GPIO_V2_LINE_GET_VALUES_IOCTL'], ['Ioctl.V2_LINE_SET_VALUES', 'GPIO_V2_LINE_SET_VALUES_IOCTL'],
    ['LineFlag.ACTIVE_LOW', 'GPIO_V2_LINE_FLAG_ACTIVE_LOW'], ['LineFlag.INPUT', 'GPIO_V2_LINE_FLAG_INPUT'], ['LineFlag.OUTPUT', 'GPIO_V2_LINE_FLAG_OUTPUT'],
    ['LineFlag.EDGE_RISING', 'GPIO_V2_LINE_FLAG_EDGE_RISING'], ['LineFlag.EDGE_FALLING', 'GPIO_V2_LINE_FLAG_EDGE_FALLING'],
    ['LineFlag.BIAS_PULL_UP', 'GPIO_V2_LINE_FLAG_BIAS_PULL_UP'], ['LineFlag.BIAS_PULL_DOWN', 'GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN'],
    ['LineFlag.BIAS_DISABLED', 'GPIO_V2_LINE_FLAG_BIAS_DISABLED'],
  ];
  const c = `#include <stdio.h>\n#include <stddef.h>\n#include <linux/gpio.h>\nint main(void) {\n${fields.map(([k, v]) => `  printf("%s %llu\\n", "${k}", (unsigned long long)(${v}));`).join('\n')}\n  return 0;\n}\n`;
  writeFileSync(join(dir, 'uapi.c'), c);
  execFileSync('gcc', ['-o', join(dir, 'uapi'), join(dir, 'uapi.c')]);
  const kernel = Object.fromEntries(execFileSync(join(dir, 'uapi'), { encoding: 'utf8' }).trim().split('\n').map((l) => { const [k, v] = l.split(' '); return [k!, BigInt(v!)]; }));
  const ours: Record<string, unknown> = { Size, Offset, Ioctl, LineFlag };
  for (const [k] of fields) {
    const v = k.split('.').reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], ours);
    t.equal(BigInt(v as number | bigint), kernel[k], `${k} = ${kernel[k]}`);
  }
});

t.test('a line request encodes as the kernel reads it', async (t) => {
  const b = encodeLineRequest({ offsets: [17], consumer: 'a-consumer-label-longer-than-31-bytes', flags: LineFlag.OUTPUT | LineFlag.ACTIVE_LOW, outputValues: 0n });
  t.equal(b.length, Size.lineRequest);
  t.equal(b.readUInt32LE(0), 17);
  t.equal(b.subarray(256, 288).indexOf(0), 31, 'consumer cut to 31 bytes and NUL-terminated');
  t.equal(b.readBigUInt64LE(288), LineFlag.OUTPUT | LineFlag.ACTIVE_LOW);
  t.equal(b.readUInt32LE(288 + 8), 1, 'one attribute: the output values');
  t.same([b.readUInt32LE(288 + 32), b.readBigUInt64LE(288 + 40), b.readBigUInt64LE(288 + 48)], [2, 0n, 1n], 'OUTPUT_VALUES 0 for line 0 (mask 1)');
  t.equal(b.readUInt32LE(560), 1, 'num_lines');
  t.throws(() => encodeLineRequest({ offsets: [], consumer: 'x', flags: 0n }), RangeError);
});

// --- the real system calls, through koffi

let sys: CdevSyscalls | undefined;
let koffiMissing: string | false = false;
try { sys = loadCdevSyscalls(); } catch (e) {
  // koffi is an optional dependency with a prebuilt binary for this platform: CI must have it.
  if (process.env.CI) throw e;
  koffiMissing = (e as Error).message;
}

t.test('koffi: the system calls, without a GPIO chip', { skip: koffiMissing }, async (t) => {
  const s = sys!;
  t.throws(() => s.open('/dev/gpiochip-none'), { name: 'SyscallError', code: 'ENOENT' });
  const devNull = s.open('/dev/null');
  try {
    t.throws(() => s.ioctl(devNull, Ioctl.GET_CHIPINFO, Buffer.alloc(Size.chipInfo)), { name: 'SyscallError', code: 'ENOTTY' }, "a device that is not a GPIO chip answers ENOTTY (errno read through koffi)");
  } finally { s.close(devNull); }
  t.same(s.listChips().filter((p) => !/^\/dev\/gpiochip\d+$/.test(p)), [], 'listChips lists gpiochip devices only');

  // A FIFO stands in for a line request fd: non-blocking read, and the off-thread poll.
  const dir = mkdtempSync(join(tmpdir(), 'cdev-sys-'));
  const fifo = join(dir, 'events');
  execFileSync('mkfifo', [fifo]);
  const fd = openSync(fifo, fsConstants.O_RDWR);
  t.teardown(() => closeSync(fd));
  s.setNonBlocking(fd);
  t.equal(s.read(fd, Buffer.alloc(8)), 0, 'nothing queued: read returns 0 at once instead of blocking');
  const seen: number[][] = [];
  const stop = s.watchReadable([fd], (ready) => {
    seen.push(ready);
    const n = s.read(fd, Buffer.alloc(64));
    t.equal(n, 5, 'the handler reads what woke it');
  }, (e) => t.fail(e.message));
  await new Promise((r) => setTimeout(r, 100));
  t.same(seen, [], 'no data, no call (the poll waits on a worker thread)');
  writeFileSync(fifo, 'event');
  const deadline = Date.now() + 10_000;
  while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.same(seen, [[fd]], 'called once data arrived');
  stop();
  writeFileSync(fifo, 'later');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(seen.length, 1, 'nothing after stop()');
});

t.test('koffi: a pending poll does not hold up process.exit()', { skip: koffiMissing }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cdev-exit-'));
  const fifo = join(dir, 'never');
  execFileSync('mkfifo', [fifo]);
  const src = new URL('../src/gpio/cdev-syscalls.ts', import.meta.url).href;
  const script = `import { openSync, constants } from 'node:fs';
    const { loadCdevSyscalls } = await import(${JSON.stringify(src)});
    const s = loadCdevSyscalls();
    const fd = openSync(${JSON.stringify(fifo)}, constants.O_RDWR);
    s.watchReadable([fd], () => {}, () => {});
    setTimeout(() => { console.log('exiting'); process.exit(7); }, 200);`;
  const started = Date.now();
  const child = spawn(process.execPath, ['--import=tsx', '--conditions=@clawgate/source', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  let exitedAt = 0;
  const code = await new Promise<number | null>((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (c) => { exitedAt = Date.now(); clearTimeout(killer); resolve(c); });
  });
  t.equal(code, 7, `exited with its own code, not killed (${out.trim()})`);
  const sinceExitCall = exitedAt - started;
  t.comment(`process started and exited in ${sinceExitCall} ms`);
});

// --- the driver on a stand-in chip

const prize = (over: Partial<InputSpec> = {}): InputSpec => ({ name: 'prize', ...wiring.inputs.prize, bias: 'pull-up', ...over });

t.test('gpio-cdev driver: request flags, consumer, inactive outputs, logical levels', async (t) => {
  const k = twoChips();
  const driver = createDriver(config, { cdev: k.sys }) as CdevDriver;
  t.equal(driver.kind, 'gpio-cdev');
  for (const o of [4, 5, 6, 7, 8]) {
    t.equal(k.consumer(LABEL, o), 'clawgate', `line ${o}: consumer clawgate`);
    t.equal(k.flags(LABEL, o), LineFlag.OUTPUT | LineFlag.ACTIVE_LOW, `line ${o}: output, active-low`);
    t.equal(k.level(LABEL, o), 1, `line ${o}: requested inactive (active-low: high)`);
  }
  t.equal(k.flags('gpiochip1', 2), LineFlag.OUTPUT, 'coin by chip name: active-high output');
  t.equal(k.level('gpiochip1', 2), 0, 'inactive = low');
  t.equal(k.flags(LABEL, 17), LineFlag.INPUT | LineFlag.ACTIVE_LOW | LineFlag.BIAS_PULL_UP | LineFlag.EDGE_RISING | LineFlag.EDGE_FALLING, 'prize: input, active-low, pull-up, both edges');
  t.equal(k.level(LABEL, 17), 1, 'the pull-up holds the sensor line high');
  t.equal(driver.read('prize'), false, 'high on an active-low input: not asserted');
  driver.set('up', true);
  t.equal(k.level(LABEL, 4), 0, 'asserted active-low output: low');
  driver.set('coin', true);
  t.equal(k.level('gpiochip1', 2), 1);
  k.drive(LABEL, 17, 0);
  t.equal(driver.read('prize'), true, 'sensor pulls low: asserted');
  driver.releaseAll();
  t.same([4, 5, 6, 7, 8].map((o) => k.level(LABEL, o)), [1, 1, 1, 1, 1]);
  t.equal(k.level('gpiochip1', 2), 0);
  const before = k.openFds();
  t.equal(before, 7, 'one fd per line, the chips closed after the claim');
  driver.set('left', true);
  driver.close();
  t.equal(k.level(LABEL, 6), 1, 'close() released the asserted line before giving it back');
  t.equal(k.openFds(), 0, 'every line given back');
  t.equal(k.consumer(LABEL, 4), undefined);
});

t.test('gpio-cdev driver: edge events with kernel timestamps, and a watch starts from now', async (t) => {
  const k = twoChips();
  const driver = new CdevDriver({ sys: k.sys });
  driver.claimInputs([prize()]);
  // Edges before anyone watches are queued by the kernel; they are the past for a new watch.
  k.drive(LABEL, 17, 0);
  k.drive(LABEL, 17, 1);
  k.drive(LABEL, 17, 0);
  const seen: [boolean, bigint | undefined][] = [];
  const unwatch = driver.watch('prize', (a, ts) => seen.push([a, ts]));
  t.same(seen, [], 'queued history is not replayed to a new watch');
  t.equal(driver.read('prize'), true);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.same(seen, [], 'not even once the events are read');
  const t0 = k.clockNs;
  k.drive(LABEL, 17, 1);
  k.drive(LABEL, 17, 0);
  await waitFor(() => seen.length === 2);
  t.same(seen, [[false, t0 + 1_000_000n], [true, t0 + 2_000_000n]], 'each edge, in order, with its kernel timestamp');
  // A second watcher shares the stream.
  const second: boolean[] = [];
  const unwatch2 = driver.watch('prize', (a) => second.push(a));
  k.drive(LABEL, 17, 1);
  await waitFor(() => second.length === 1);
  t.same(second, [false]);
  t.equal(seen.length, 3);
  unwatch();
  unwatch2();
  driver.close();
  t.equal(k.openFds(), 0);
});

t.test('gpio-cdev driver: a chip without edge interrupts is sampled every pollMs', async (t) => {
  const k = fakeKernel([{ label: LABEL, lines: 32, edgeIrq: false }]);
  const warnings: string[] = [];
  const driver = new CdevDriver({ sys: k.sys, pollMs: 1, warn: (m) => warnings.push(m) });
  driver.claimInputs([prize()]);
  t.match(warnings, [/input "prize": gpiochip0 cannot report edges on line 17 \(ENXIO\); sampling it every 1 ms/]);
  t.equal(k.flags(LABEL, 17), LineFlag.INPUT | LineFlag.ACTIVE_LOW | LineFlag.BIAS_PULL_UP, 'requested again without edge flags');
  const seen: boolean[] = [];
  const unwatch = driver.watch('prize', (a, ts) => { seen.push(a); t.equal(ts, undefined, 'no kernel timestamp when sampled'); });
  k.drive(LABEL, 17, 0);
  await waitFor(() => seen.length === 1);
  k.drive(LABEL, 17, 1);
  await waitFor(() => seen.length === 2);
  t.same(seen, [true, false]);
  unwatch();
  driver.close();
});

t.test('gpio-cdev driver: clear start errors', async (t) => {
  const k = twoChips();
  const cfg = (patch: Record<string, unknown>) => parseConfig({ ...config, wiring: { ...wiring, ...patch } });
  t.throws(() => createDriver(cfg({ outputs: { ...wiring.outputs, drop: { chip: 'pinctrl-none', line: 1 } } }), { cdev: k.sys }),
    { name: 'GpioUnavailableError', message: /GPIO chip "pinctrl-none" \(output "drop"\) does not exist\. Chips present: gpiochip0 \[other-chip, 8 lines\], gpiochip1 \[pinctrl-test, 54 lines\]/ });
  t.equal(k.openFds(), 0, 'lines claimed before the failure were given back');
  t.throws(() => createDriver(cfg({ outputs: { ...wiring.outputs, drop: { chip: 'gpiochip7', line: 1 } } }), { cdev: k.sys }), { message: /GPIO chip "gpiochip7" \(output "drop"\) does not exist/ });
  t.throws(() => createDriver(cfg({ inputs: { prize: { chip: LABEL, line: 99 } } }), { cdev: k.sys }), { message: /input "prize": line 99 does not exist on gpiochip1 \(it has 54 lines\)/ });
  for (const id of [1, '1', '/dev/gpiochip1', 'gpiochip1']) {
    const d = createDriver(cfg({ outputs: { ...wiring.outputs, up: { chip: id, line: 4, activeLow: true } } }), { cdev: k.sys });
    t.equal(k.consumer('gpiochip1', 4), 'clawgate', `chip by ${typeof id} ${id}`);
    d.close();
  }
  k.hold(LABEL, 8, 'clawgate');
  try { createDriver(config, { cdev: k.sys }); t.fail('should throw'); } catch (e) {
    t.type(e, GpioLineBusyError);
    t.type(e, GpioUnavailableError, 'a busy line is a GPIO start error (exit code 3)');
    t.match(e, { holder: 'clawgate', line: 8, message: 'output "drop": line 8 on chip "pinctrl-test" is already in use by "clawgate"' });
  }
  const locked = fakeKernel([{ label: LABEL, lines: 54 }], { accessible: false });
  t.throws(() => createDriver(config, { cdev: locked.sys }), { message: /GPIO chip "pinctrl-test" \(output "up"\) does not exist/ }, 'a label on chips we cannot open is not found');
  t.throws(() => createDriver(cfg({ outputs: { ...wiring.outputs, up: { chip: 'gpiochip0', line: 4 } } }), { cdev: locked.sys }), { message: /GPIO chip "gpiochip0" \(output "up"\) is not accessible \(add the user to the gpio group/ });
  const old = fakeKernel([{ label: LABEL, lines: 54 }, { label: 'x', lines: 8 }], { v2: false });
  t.throws(() => createDriver(config, { cdev: old.sys }), { message: /output "up": this kernel has no GPIO character-device uAPI v2 \(Linux 5\.10 or later\)\. Use `driver: libgpiod`/ });
  t.equal(old.openFds(), 0);
  t.throws(() => new CdevDriver({ sys: k.sys }).set('up', true), { message: /output "up" was not claimed/ });
});

t.test('driver: auto chooses gpio-cdev, else libgpiod, never the simulator', async (t) => {
  t.same(chooseAutoDriver(true, () => { throw new Error('not asked'); }), { kind: 'gpio-cdev' });
  t.same(chooseAutoDriver('no koffi', () => true), { kind: 'libgpiod' });
  const none = chooseAutoDriver('koffi could not be loaded (x).', () => 'node-libgpiod could not be loaded (y).');
  t.match(none, { error: /driver "auto": no GPIO driver can be used here\. gpio-cdev: koffi could not be loaded \(x\)\. libgpiod: node-libgpiod could not be loaded \(y\)\./ });

  const k = twoChips();
  t.equal(resolveDriverKind('auto', { cdev: k.sys }), 'gpio-cdev', 'a kernel with uAPI v2: gpio-cdev');
  const old = fakeKernel([{ label: LABEL, lines: 54 }], { v2: false });
  const fakeLib = { version: '1.6.3', getChipNames: () => [], Chip: class {}, Line: class {} } as unknown as LibgpiodModule;
  t.equal(resolveDriverKind('auto', { cdev: old.sys, libgpiod: fakeLib }), 'libgpiod', 'a kernel without uAPI v2: libgpiod');
  t.equal(old.openFds(), 0, 'the probe closed its chip');
  t.equal(resolveDriverKind('simulated', { cdev: k.sys }), 'simulated');
  t.equal(resolveDriverKind('libgpiod', { cdev: k.sys }), 'libgpiod', 'an explicit driver is taken as it is');
  const auto = createDriver({ ...config, driver: 'auto' }, { cdev: k.sys });
  t.equal(auto.kind, 'gpio-cdev');
  auto.close();
});

t.test('a node on gpio-cdev: the prize input reaches the lines topic payload, stop() gives the lines back', async (t) => {
  const k = twoChips();
  const node = await startClawNode({ ...config, driver: 'auto', reconnect: { initialDelayMs: 50, maxDelayMs: 100 } }, { cdev: k.sys, logger: silentLogger() });
  t.equal(node.driver.kind, 'gpio-cdev');
  t.equal(node.lines().inputs.prize, false);
  k.drive(LABEL, 17, 0);
  t.equal(node.lines().inputs.prize, true);
  t.ok(node.outputs.allReleased());
  await node.stop();
  t.equal(k.openFds(), 0);
  t.same([4, 5, 6, 7, 8].map((o) => k.level(LABEL, o)), [1, 1, 1, 1, 1], 'active-low relays off');
});

t.test('SyscallError carries the errno name', async (t) => {
  const e = new SyscallError('ioctl', 'EBUSY', 16);
  t.match(e, { code: 'EBUSY', errno: 16, message: 'ioctl: EBUSY' });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

function hasGcc(): boolean {
  try { execFileSync('gcc', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

t.test('prize detector on gpio-cdev: a pulse heard of only after it ended still counts, by the kernel timestamps', async (t) => {
  const k = twoChips();
  const driver = new CdevDriver({ sys: k.sys });
  driver.claimInputs([prize()]);
  const clock = new FakeClock();
  const detector = new PrizeDetector(driver, clock, 30);
  let prizes = 0;
  detector.start(() => { prizes++; });
  // Both edges queued before the driver reads any (the fake kernel wakes its reader on the next turn of the loop).
  k.drive(LABEL, 17, 0);
  k.clockNs += 10_000_000n; // asserted for 10 ms (+1 ms the fake adds): shorter than the debounce
  k.drive(LABEL, 17, 1);
  await waitFor(() => driver.read('prize') === false);
  await new Promise((r) => setImmediate(r));
  await clock.advance(100);
  t.equal(prizes, 0, 'an 11 ms blip is no prize, even heard late');
  k.drive(LABEL, 17, 0);
  k.clockNs += 300_000_000n; // a 300 ms pulse, over before the node hears of it
  k.drive(LABEL, 17, 1);
  await waitFor(() => prizes === 1);
  t.equal(prizes, 1, 'a 300 ms pulse heard of only after it ended is a prize');
  detector.start(() => { prizes++; });
  k.drive(LABEL, 17, 0);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  await clock.advance(30);
  t.equal(prizes, 2, 'and a pulse still going counts after the debounce, as with sampling');
  detector.stop();
  driver.close();
});
