// A gpio-sim chip seen from outside the claw node, with the kernel's own
// interfaces only: configfs to create it, gpio-sim's sysfs attributes to read
// every line's level and to set the simulated pull (the "outside world"), and
// libgpiod's command-line tools for what the chardev reports (gpioinfo does
// not request lines, so it can run while the node holds them).
// Runs inside the test VM (vm/main.sh), as root.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CONFIGFS = '/sys/kernel/config/gpio-sim';

export type Pull = 'pull-up' | 'pull-down';

export interface SimChip {
  /** gpio-sim's configfs name. */
  readonly name: string;
  /** The platform device (gpio-sim.N). */
  readonly dev: string;
  /** The chardev's name (gpiochipN). */
  readonly chip: string;
  readonly label: string;
  readonly lines: number;
  /** The electrical level of a line, as gpio-sim's sysfs shows it (what the relay board would see). */
  value(line: number): 0 | 1;
  pull(line: number): Pull;
  /** What the outside world does to the line (a switch, a pull resistor); a line driven as output keeps its level. */
  setPull(line: number, pull: Pull): void;
  /** All levels, offset order. */
  values(): (0 | 1)[];
  remove(): void;
}

const write = (path: string, value: string | number) => writeFileSync(path, `${value}\n`);
const read = (path: string) => readFileSync(path, 'utf8').trim();

/** Creates and enables a one-bank gpio-sim chip; `names[i]` names line i. */
export function createSimChip(name: string, label: string, names: readonly string[]): SimChip {
  if (!existsSync(CONFIGFS)) throw new Error(`${CONFIGFS} missing: gpio-sim not loaded or configfs not mounted`);
  const dir = join(CONFIGFS, name);
  const bank = join(dir, 'gpio-bank0');
  mkdirSync(dir);
  mkdirSync(bank);
  write(join(bank, 'num_lines'), names.length);
  write(join(bank, 'label'), label);
  names.forEach((n, i) => {
    mkdirSync(join(bank, `line${i}`));
    write(join(bank, `line${i}`, 'name'), n);
  });
  write(join(dir, 'live'), 1);
  const dev = read(join(dir, 'dev_name'));
  const chip = read(join(bank, 'chip_name'));
  const attr = (line: number, a: 'value' | 'pull') => `/sys/devices/platform/${dev}/${chip}/sim_gpio${line}/${a}`;
  // One open fd per value attribute, read again from offset 0 (sysfs calls show() on
  // every read at 0): one syscall a line, so sampling every few ms stays cheap.
  const fds = names.map((_, i) => openSync(attr(i, 'value'), 'r'));
  const buf = Buffer.alloc(4);
  const value = (line: number): 0 | 1 => { readSync(fds[line]!, buf, 0, buf.length, 0); return buf[0] === 0x31 ? 1 : 0; };
  return {
    name, dev, chip, label, lines: names.length,
    value,
    pull: (line) => read(attr(line, 'pull')) as Pull,
    setPull: (line, pull) => write(attr(line, 'pull'), pull),
    values: () => names.map((_, i) => value(i)),
    remove() {
      for (const fd of fds) closeSync(fd);
      write(join(dir, 'live'), 0);
      for (const e of readdirSync(bank)) if (e.startsWith('line')) rmdirSync(join(bank, e));
      rmdirSync(bank);
      rmdirSync(dir);
    },
  };
}

export interface LineInfo {
  name: string;
  consumer: string | undefined;
  direction: 'input' | 'output';
  activeLow: boolean;
  /** Flags gpioinfo prints in brackets (used, pull-up, ...). */
  flags: string[];
  raw: string;
}

/** What the chardev says about each line (libgpiod 1.6's gpioinfo; requests nothing). */
export function gpioinfo(chip: string): LineInfo[] {
  const out = execFileSync('gpioinfo', [chip], { encoding: 'utf8' });
  const lines: LineInfo[] = [];
  // `\tline   3:      "name" "consumer" output active-low [used pull-up]`
  const re = /^\s+line\s+(\d+):\s+("([^"]*)"|unnamed)\s+("([^"]*)"|unused)\s+(input|output)\s+(active-high|active-low)\s*(\[([^\]]*)\])?/;
  for (const l of out.split('\n')) {
    const m = re.exec(l);
    if (!m) continue;
    lines[Number(m[1])] = {
      name: m[3] ?? '',
      consumer: m[5],
      direction: m[6] as 'input' | 'output',
      activeLow: m[7] === 'active-low',
      flags: m[9] ? m[9].split(/\s+/) : [],
      raw: l.trim(),
    };
  }
  return lines;
}

/** gpioget from outside: requests the line as input for a moment (so only for lines nobody holds). */
export function gpioget(chip: string, line: number): { ok: true; value: number } | { ok: false; error: string } {
  const r = spawnSync('gpioget', [chip, String(line)], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true, value: Number(r.stdout.trim()) };
  return { ok: false, error: (r.stderr || `exit ${r.status}`).trim() };
}

/** Where the VM writes what the host collects (vm/main.sh sets it). */
export function outDir(): string {
  const d = process.env.KGPIO_OUT;
  if (!d) throw new Error('KGPIO_OUT is not set (run through vm/main.sh inside the VM)');
  return d;
}

/** The cabinet's view: every level change of every line, sampled from sysfs. */
export interface Sample { at: number; levels: (0 | 1)[] }
export function sampler(sim: SimChip, everyMs = 5) {
  const samples: Sample[] = [{ at: Date.now(), levels: sim.values() }];
  const timer = setInterval(() => {
    const levels = sim.values();
    if (levels.some((v, i) => v !== samples.at(-1)!.levels[i])) samples.push({ at: Date.now(), levels });
  }, everyMs);
  return {
    samples,
    stop: () => clearInterval(timer),
    /** Completed low pulses (active-low: asserted) of a line after `since`, with their widths. */
    lowPulses(line: number, since = 0): { start: number; ms: number }[] {
      const out: { start: number; ms: number }[] = [];
      let start: number | undefined;
      for (const s of samples) {
        if (s.at < since) continue;
        if (s.levels[line] === 0 && start === undefined) start = s.at;
        if (s.levels[line] === 1 && start !== undefined) { out.push({ start, ms: s.at - start }); start = undefined; }
      }
      return out;
    },
  };
}
