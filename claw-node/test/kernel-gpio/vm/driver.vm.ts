// The claw node's real GPIO drivers on a real kernel GPIO chip (gpio-sim,
// inside the test VM), each through the same checks: LibgpiodDriver
// (node-libgpiod on libgpiod 1.6, chardev uAPI v1) and CdevDriver (the uAPI v2
// ioctls through koffi, no libgpiod; edges from the kernel). Every level is
// read from outside the process that holds the lines, through gpio-sim's sysfs
// attributes; what the holder sees as input is set through gpio-sim's pull
// attribute. Then the holder is killed with SIGKILL and the levels are read
// again: what a relay board would see when the node dies.
// Run by vm/main.sh inside the VM (not by the host's tap: no gpio-sim there).
import t from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CdevDriver, probeCdev } from '../../../src/gpio/cdev-driver.js';
import type { GpioDriver, InputSpec, OutputSpec } from '../../../src/gpio/driver.js';
import { GpioUnavailableError } from '../../../src/gpio/driver.js';
import { LibgpiodDriver, loadLibgpiod } from '../../../src/gpio/libgpiod-driver.js';
import { createSimChip, gpioget, gpioinfo, outDir, type Pull } from './sim-chip.js';

/** One output line of the matrix: active-low or not, the board's pull, asserted when the holder dies or not. */
interface OutRow { offset: number; driver: number; spec: OutputSpec; pull: Pull; assertedAtKill: boolean }

const LINE_NAMES = ['al-pu-on', 'al-pu-off', 'al-pd-on', 'al-pd-off', 'ah-pu-on', 'ah-pu-off', 'ah-pd-on', 'ah-pd-off', 'in-al-pu', 'in-ah-asis', 'in-ah-pd', 'free'];
const FREE = 11;
type Kind = 'libgpiod' | 'gpio-cdev';
const KINDS: Kind[] = ['libgpiod', 'gpio-cdev'];
const make = (kind: Kind): GpioDriver => (kind === 'gpio-cdev' ? new CdevDriver() : new LibgpiodDriver());
/** gpio-sim's configfs names are unique per driver kind (chips of one kind's tests never linger into the next). */
const tag = (kind: Kind) => (kind === 'gpio-cdev' ? 'v2' : 'v1');

for (const kind of KINDS) {
  t.test(`${kind} on gpio-sim, watched from outside, holder killed with SIGKILL`, async (t) => {
    let version: string;
    if (kind === 'libgpiod') {
      const lib = loadLibgpiod();
      t.match(lib.version, /^1\./, `node-libgpiod on libgpiod ${lib.version}`);
      version = `libgpiod ${lib.version}`;
    } else {
      t.equal(probeCdev(), true, 'koffi loads and the kernel answers uAPI v2');
      version = 'uAPI v2 through koffi';
    }
    const sim = createSimChip(`clawgate-drv-${tag(kind)}`, `clawgate-drv-${tag(kind)}`, LINE_NAMES);
    t.teardown(() => sim.remove());

    const out = (offset: number, driver: number, name: OutputSpec['name'], activeLow: boolean, pull: Pull, assertedAtKill: boolean): OutRow =>
      ({ offset, driver, spec: { name, chip: sim.chip, line: offset, activeLow }, pull, assertedAtKill });
    const rows: OutRow[] = [
      out(0, 0, 'up', true, 'pull-up', true), out(1, 0, 'down', true, 'pull-up', false),
      out(2, 0, 'left', true, 'pull-down', true), out(3, 0, 'right', true, 'pull-down', false),
      out(4, 0, 'drop', false, 'pull-up', true), out(5, 0, 'coin', false, 'pull-up', false),
      out(6, 1, 'up', false, 'pull-down', true), out(7, 1, 'down', false, 'pull-down', false),
    ];
    const inputs: { driver: number; spec: InputSpec; outsidePull: Pull }[] = [
      { driver: 0, spec: { name: 'prize', chip: sim.chip, line: 8, activeLow: true, bias: 'pull-up' }, outsidePull: 'pull-down' },
      { driver: 1, spec: { name: 'prize', chip: sim.chip, line: 9, activeLow: false, bias: 'as-is' }, outsidePull: 'pull-down' },
      { driver: 2, spec: { name: 'prize', chip: sim.chip, line: 10, activeLow: false, bias: 'pull-down' }, outsidePull: 'pull-up' },
    ];

    // The board's pulls, before anyone holds a line: the level is the pull.
    for (const r of rows) sim.setPull(r.offset, r.pull);
    for (const i of inputs) sim.setPull(i.spec.line, i.outsidePull);
    const before = sim.values();
    t.same(rows.map((r) => before[r.offset]), rows.map((r) => (r.pull === 'pull-up' ? 1 : 0)), 'unrequested lines sit at their pull');

    // The holder: a separate process with three drivers.
    const plan = {
      kind,
      pollMs: 5,
      drivers: [0, 1, 2].map((d) => ({
        outputs: rows.filter((r) => r.driver === d).map((r) => r.spec),
        inputs: inputs.filter((i) => i.driver === d).map((i) => i.spec),
      })),
    };
    const holder = await startHolder(plan);
    t.teardown(() => { if (holder.child.exitCode === null && holder.child.signalCode === null) holder.child.kill('SIGKILL'); });

    // Claimed: every output released (requested inactive), whatever the pull.
    const claimed = sim.values();
    t.same(rows.map((r) => claimed[r.offset]), rows.map((r) => (r.spec.activeLow ? 1 : 0)), 'claimed outputs are released: active-low lines high, active-high lines low');
    const infoClaimed = gpioinfo(sim.chip);
    for (const r of rows) {
      const i = infoClaimed[r.offset]!;
      t.same({ consumer: i.consumer, direction: i.direction, activeLow: i.activeLow, used: i.flags.includes('used') },
        { consumer: 'clawgate', direction: 'output', activeLow: r.spec.activeLow, used: true }, `gpioinfo line ${r.offset}: ${i.raw}`);
    }
    t.same(infoClaimed[8]!.flags, ['used', 'pull-up'], `input with bias pull-up: ${infoClaimed[8]!.raw}`);
    t.equal(infoClaimed[8]!.direction, 'input');
    t.equal(sim.pull(8), 'pull-up', "the bias request set gpio-sim's pull (the outside pull-down was overridden)");
    t.equal(sim.pull(10), 'pull-down', 'bias pull-down likewise');
    t.equal(sim.pull(9), 'pull-down', 'bias as-is leaves the outside pull alone');
    t.equal(infoClaimed[FREE]!.consumer, undefined, 'the control line is unused');

    // Assert some: the kernel inverts active-low lines.
    for (const r of rows) if (r.assertedAtKill) await holder.cmd({ set: [r.driver, r.spec.name, true] });
    const asserted = sim.values();
    t.same(rows.map((r) => asserted[r.offset]), rows.map((r) => (r.assertedAtKill === !r.spec.activeLow ? 1 : 0)), 'asserted: active-low lines low, active-high lines high; the others unchanged');

    // A driven output keeps its level whatever the outside pull does.
    sim.setPull(0, 'pull-down'); sim.setPull(4, 'pull-down');
    t.same([sim.value(0), sim.value(4)], [0, 1], 'a driven line ignores a change of pull');
    sim.setPull(0, 'pull-up'); sim.setPull(4, 'pull-up');
    await holder.cmd({ set: [0, 'down', true] });
    t.equal(sim.value(1), 0, 'active-low down asserted');
    await holder.cmd({ set: [0, 'down', false] });
    t.equal(sim.value(1), 1, 'and released');

    // Inputs: the outside world moves the line, the holder reads logical levels and sees edges.
    await holder.cmd({ watch: [0, 'prize'] });
    t.equal((await holder.cmd({ read: [0, 'prize'] })).value, false, 'active-low prize, pulled up: not asserted');
    const beforeEdge = process.hrtime.bigint();
    sim.setPull(8, 'pull-down');
    const afterEdge = process.hrtime.bigint();
    t.equal(sim.value(8), 0);
    t.equal((await holder.cmd({ read: [0, 'prize'] })).value, true, 'pulled down from outside: asserted');
    const ts = await holder.edge(0, 'prize', true);
    sim.setPull(8, 'pull-up');
    t.equal((await holder.cmd({ read: [0, 'prize'] })).value, false);
    await holder.edge(0, 'prize', false);
    if (kind === 'gpio-cdev') {
      t.ok(ts !== null && BigInt(ts) >= beforeEdge && BigInt(ts) <= afterEdge,
        `edges from the kernel, both ways; the event's CLOCK_MONOTONIC timestamp (${ts}) falls inside the pull change (${beforeEdge}..${afterEdge})`);
    } else {
      t.equal(ts, null, 'edges seen by the driver\'s poller, both ways (no kernel timestamp)');
    }
    t.equal((await holder.cmd({ read: [1, 'prize'] })).value, false, 'active-high as-is input at pull-down');
    sim.setPull(9, 'pull-up');
    t.equal((await holder.cmd({ read: [1, 'prize'] })).value, true, 'pulled up: asserted');
    t.equal((await holder.cmd({ read: [2, 'prize'] })).value, false, 'bias pull-down input reads low');

    // From outside, a held line cannot be requested; a free one can.
    const busy = gpioget(sim.chip, 0);
    t.notOk(busy.ok, `gpioget on a held line fails (${busy.ok ? '' : busy.error})`);
    t.match(busy, { ok: false, error: /busy/i });
    t.same(gpioget(sim.chip, FREE), { ok: true, value: 0 }, 'gpioget on the free line works');

    // SIGKILL: no handler runs; the kernel closes the line fds as the process dies.
    const atKill = sim.values();
    const exited = new Promise<void>((resolve) => holder.child.once('exit', () => resolve()));
    holder.child.kill('SIGKILL');
    await exited;
    const killed = sim.values();
    const infoKilled = gpioinfo(sim.chip);
    await new Promise((r) => setTimeout(r, 500));
    const later = sim.values();
    t.same(killed, later, 'nothing changes after the exit is seen (the release happened before)');
    t.same(rows.map((r) => killed[r.offset]), rows.map((r) => (r.pull === 'pull-up' ? 1 : 0)),
      'after SIGKILL every output is at its pull (gpio-sim\'s free(): value = pull), asserted or not, active-low or not');
    t.same(inputs.map((i) => killed[i.spec.line]), inputs.map((i) => (sim.pull(i.spec.line) === 'pull-up' ? 1 : 0)), 'inputs too');
    for (const r of rows) t.equal(infoKilled[r.offset]!.consumer, undefined, `line ${r.offset} unused after the kill: ${infoKilled[r.offset]!.raw}`);
    t.same(gpioget(sim.chip, 0), { ok: true, value: 1 }, 'and can be requested again from outside');

    const table = rows.map((r) => ({
      offset: r.offset, line: LINE_NAMES[r.offset], activeLow: r.spec.activeLow, pull: r.pull, assertedAtKill: r.assertedAtKill,
      before: before[r.offset], claimed: claimed[r.offset], atKill: atKill[r.offset], afterKill: killed[r.offset],
      directionAfterKill: infoKilled[r.offset]!.direction, gpioinfoAfterKill: infoKilled[r.offset]!.raw,
    }));
    writeFileSync(join(outDir(), `driver-levels-${kind}.json`), `${JSON.stringify({ driver: kind, chip: sim.chip, kernel: process.env.KGPIO_KERNEL, version, rows: table }, null, 2)}\n`);
  });

  t.test(`${kind} on gpio-sim: close() and releaseAll(), chip by name, label, path and number`, async (t) => {
    const sim = createSimChip(`clawgate-close-${tag(kind)}`, `clawgate-close-${tag(kind)}`, ['a', 'b', 'c', 'd']);
    t.teardown(() => sim.remove());
    sim.setPull(0, 'pull-up');
    sim.setPull(3, 'pull-up');
    const num = Number(sim.chip.replace('gpiochip', ''));
    const d = make(kind);
    d.claimOutputs([
      { name: 'up', chip: sim.label, line: 0, activeLow: true },
      { name: 'down', chip: `/dev/${sim.chip}`, line: 1, activeLow: false },
      { name: 'left', chip: num, line: 2, activeLow: false },
    ]);
    d.claimInputs([{ name: 'prize', chip: sim.chip, line: 3, activeLow: true, bias: 'pull-up' }]);
    t.same(sim.values(), [1, 0, 0, 1], 'claimed by label, path, number and name, all released');
    d.set('up', true); d.set('down', true); d.set('left', true);
    t.same(sim.values(), [0, 1, 1, 1]);
    d.releaseAll();
    t.same(sim.values(), [1, 0, 0, 1], 'releaseAll de-asserts every output');
    d.set('up', true);
    t.equal(sim.value(0), 0);
    d.close();
    t.same(gpioinfo(sim.chip).map((i) => i.consumer), [undefined, undefined, undefined, undefined], 'close() gives every line back');
    t.same(sim.values(), [1, 0, 0, 1], 'close() released the asserted line first; the freed lines sit at their pull');
  });

  t.test(`${kind} on gpio-sim: real errors are clear start errors`, async (t) => {
    const sim = createSimChip(`clawgate-err-${tag(kind)}`, `clawgate-err-${tag(kind)}`, ['a', 'b']);
    t.teardown(() => sim.remove());
    const first = make(kind);
    t.teardown(() => first.close());
    first.claimOutputs([{ name: 'drop', chip: sim.chip, line: 1, activeLow: true }]);
    const second = make(kind);
    t.throws(() => second.claimOutputs([{ name: 'coin', chip: sim.chip, line: 1, activeLow: true }]),
      { name: 'GpioLineBusyError', holder: 'clawgate', message: new RegExp(`output "coin": line 1 on chip "${sim.chip}" is already in use by "clawgate"`) });
    try { second.claimOutputs([{ name: 'coin', chip: sim.chip, line: 1, activeLow: true }]); t.fail('should throw'); } catch (e) {
      t.type(e, GpioUnavailableError, 'a busy line is a GPIO start error (the CLI\'s exit 3)');
    }
    t.throws(() => second.claimOutputs([{ name: 'coin', chip: sim.chip, line: 2, activeLow: true }]),
      { message: new RegExp(`line 2 does not exist on ${sim.chip} \\(it has 2 lines\\)`) });
    t.throws(() => second.claimInputs([{ name: 'prize', chip: 'gpiochip99', line: 0, activeLow: false, bias: 'as-is' }]),
      { message: new RegExp(`GPIO chip "gpiochip99" \\(input "prize"\\) does not exist\\. Chips present: .*${sim.chip}`) });
    t.type(new GpioUnavailableError('x'), Error);
  });
}

interface Holder {
  child: ChildProcessWithoutNullStreams;
  cmd(c: Record<string, unknown>): Promise<{ ok: boolean; value?: boolean; error?: string }>;
  /** Resolves (with the kernel's timestamp, gpio-cdev only) when the holder reported this edge, or rejects after 10 s. */
  edge(driver: number, name: string, asserted: boolean): Promise<string | null>;
}

async function startHolder(plan: unknown): Promise<Holder> {
  const script = fileURLToPath(new URL('./holder.ts', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, script, JSON.stringify(plan)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const waiting = new Map<number, (r: { ok: boolean; value?: boolean; error?: string }) => void>();
  const edges: { key: string; ts: string | null }[] = [];
  const edgeWaiters: { key: string; resolve: (ts: string | null) => void }[] = [];
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; });
  child.once('exit', (code, signal) => readyReject(new Error(`holder exited (${code ?? signal}) before ready: ${stderr}`)));
  createInterface({ input: child.stdout }).on('line', (l) => {
    const m = JSON.parse(l) as { ready?: boolean; id?: number; ok: boolean; edge?: [number, string, boolean]; ts?: string | null };
    if (m.ready) readyResolve();
    else if (m.edge) {
      const key = m.edge.join(':');
      const w = edgeWaiters.findIndex((x) => x.key === key);
      if (w >= 0) edgeWaiters.splice(w, 1)[0]!.resolve(m.ts ?? null);
      else edges.push({ key, ts: m.ts ?? null });
    } else if (m.id !== undefined) waiting.get(m.id)?.(m);
  });
  const timer = setTimeout(() => readyReject(new Error('holder not ready within 120 s')), 120_000);
  await ready.finally(() => clearTimeout(timer));
  let next = 1;
  return {
    child,
    cmd(c) {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, (r) => (r.ok ? resolve(r) : reject(new Error(r.error))));
        child.stdin.write(`${JSON.stringify({ id, ...c })}\n`);
      });
    },
    edge(driver, name, asserted) {
      const key = [driver, name, asserted].join(':');
      const seen = edges.findIndex((e) => e.key === key);
      if (seen >= 0) return Promise.resolve(edges.splice(seen, 1)[0]!.ts);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`edge ${key} not seen within 10 s`)), 10_000);
        edgeWaiters.push({ key, resolve: (ts) => { clearTimeout(t); resolve(ts); } });
      });
    },
  };
}
