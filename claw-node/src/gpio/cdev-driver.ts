// Real GPIO through the kernel's GPIO character device, uAPI v2 (Linux >=
// 5.10), called directly (cdev-syscalls.ts): no libgpiod, so it is the same on
// systems with libgpiod 1.x (Debian 12 / Raspberry Pi OS bookworm) and 2.x
// (Debian 13 / trixie), whose C APIs are incompatible.
//
// One line request per line (its own fd): outputs requested as outputs with
// their inactive value (claiming never pulses a relay), inputs with their bias
// and edge detection on both edges. Active-low is applied by the kernel, so
// everything here is logical. Edge events (with the kernel's timestamps) are
// read as they arrive; a chip without edge interrupts falls back to sampling
// the input every pollMs.
import type { InputName, OutputName } from '@clawgate/protocol';
import { GpioLineBusyError, GpioUnavailableError, type Bias, type EdgeListener, type GpioDriver, type InputSpec, type LineSpec, type OutputSpec, type Unwatch } from './driver.js';
import { loadCdevSyscalls, SyscallError, type CdevSyscalls } from './cdev-syscalls.js';
import {
  Ioctl, LineFlag, Size, decodeChipInfo, decodeLineEvents, decodeLineInfo, decodeLineRequestFd, decodeLineValues,
  encodeLineInfoQuery, encodeLineRequest, encodeLineValues, type ChipInfo, type LineInfo,
} from './cdev-uapi.js';
import { CONSUMER } from './libgpiod-driver.js';

export interface CdevOptions {
  /** Input sampling period for lines whose chip cannot report edges (ms). */
  pollMs?: number;
  /** The consumer label the lines are requested with (default `clawgate`). */
  consumer?: string;
  /** Injected system calls (tests); libc through koffi otherwise. */
  sys?: CdevSyscalls;
  /** Told once per input that falls back to sampling, and when edge events stop. */
  warn?: (msg: string) => void;
}

interface Chip { path: string; fd: number; info: ChipInfo }
interface Input {
  spec: InputSpec;
  fd: number;
  /** Edges come from the kernel; otherwise the level is sampled. */
  edges: boolean;
  level: boolean;
  listeners: Set<EdgeListener>;
  sampler?: NodeJS.Timeout;
}

function code(e: unknown): string {
  return e instanceof SyscallError ? e.code : String((e as { code?: unknown }).code ?? (e as Error).message);
}

const BIAS: Record<Bias, bigint> = { 'as-is': 0n, disable: LineFlag.BIAS_DISABLED, 'pull-up': LineFlag.BIAS_PULL_UP, 'pull-down': LineFlag.BIAS_PULL_DOWN };
/** Errors of a request with edge detection on a line that has no interrupt. */
const NO_EDGE_IRQ = new Set(['ENXIO', 'ENODEV', 'EOPNOTSUPP', 'ENOTSUP', 'errno 524']);

export class CdevDriver implements GpioDriver {
  readonly kind = 'gpio-cdev' as const;
  private readonly sys: CdevSyscalls;
  private readonly pollMs: number;
  private readonly consumer: string;
  private readonly warn: (msg: string) => void;
  private readonly outputs = new Map<OutputName, number>();
  private readonly inputs = new Map<InputName, Input>();
  private readonly byFd = new Map<number, Input>();
  private stopEvents: (() => void) | undefined;
  private readonly events = Buffer.alloc(Size.lineEvent * 16);

  constructor(opts: CdevOptions = {}) {
    if (opts.sys) this.sys = opts.sys;
    else {
      try { this.sys = loadCdevSyscalls(); } catch (e) { throw new GpioUnavailableError((e as Error).message); }
    }
    this.pollMs = opts.pollMs ?? 2;
    this.consumer = opts.consumer ?? CONSUMER;
    this.warn = opts.warn ?? (() => {});
  }

  claimOutputs(specs: readonly OutputSpec[]): void {
    this.withChips((chip) => {
      for (const s of specs) {
        const flags = LineFlag.OUTPUT | (s.activeLow ? LineFlag.ACTIVE_LOW : 0n);
        // Requested with its inactive value, so claiming never pulses a relay.
        const fd = this.request(chip(s.chip, `output "${s.name}"`), s, `output "${s.name}"`, { flags, outputValues: 0n });
        this.outputs.set(s.name, fd);
      }
    });
  }

  claimInputs(specs: readonly InputSpec[]): void {
    this.withChips((chip) => {
      for (const s of specs) {
        const what = `input "${s.name}"`;
        const c = chip(s.chip, what);
        const flags = LineFlag.INPUT | (s.activeLow ? LineFlag.ACTIVE_LOW : 0n) | BIAS[s.bias];
        let fd: number;
        let edges = true;
        try {
          fd = this.request(c, s, what, { flags: flags | LineFlag.EDGE_RISING | LineFlag.EDGE_FALLING });
        } catch (e) {
          if (!(e instanceof EdgeUnsupported)) throw e;
          edges = false;
          this.warn(`${what}: ${c.info.name} cannot report edges on line ${s.line} (${e.code}); sampling it every ${this.pollMs} ms`);
          fd = this.request(c, s, what, { flags });
        }
        if (edges) this.sys.setNonBlocking(fd);
        const input: Input = { spec: s, fd, edges, level: false, listeners: new Set() };
        input.level = this.readFd(fd);
        this.inputs.set(s.name, input);
        if (edges) this.byFd.set(fd, input);
      }
    });
    this.restartEvents();
  }

  set(name: OutputName, asserted: boolean): void {
    const fd = this.outputs.get(name);
    if (fd === undefined) throw new Error(`output "${name}" was not claimed`);
    this.sys.ioctl(fd, Ioctl.V2_LINE_SET_VALUES, encodeLineValues(asserted ? 1n : 0n, 1n));
  }

  read(name: InputName): boolean {
    const input = this.inputs.get(name);
    if (input === undefined) throw new Error(`input "${name}" was not claimed`);
    return this.readFd(input.fd);
  }

  watch(name: InputName, onEdge: EdgeListener): Unwatch {
    const input = this.inputs.get(name);
    if (input === undefined) throw new Error(`input "${name}" was not claimed`);
    // What is queued happened before this watch: it goes to the earlier listeners only,
    // and the new one starts from the level as it is now.
    if (input.edges) this.drain(input);
    this.deliver(input, this.readFd(input.fd), undefined);
    input.listeners.add(onEdge);
    if (!input.edges && input.sampler === undefined) {
      input.sampler = setInterval(() => {
        let now: boolean;
        try { now = this.readFd(input.fd); } catch { return; }
        this.deliver(input, now, undefined);
      }, this.pollMs);
      input.sampler.unref();
    }
    return () => {
      input.listeners.delete(onEdge);
      if (input.listeners.size === 0 && input.sampler !== undefined) { clearInterval(input.sampler); input.sampler = undefined; }
    };
  }

  releaseAll(): void {
    const failures: string[] = [];
    for (const name of this.outputs.keys()) {
      try { this.set(name, false); } catch (e) { failures.push(`${name}: ${(e as Error).message}`); }
    }
    if (failures.length) throw new Error(`could not release ${failures.join('; ')}`);
  }

  close(): void {
    this.stopEvents?.();
    this.stopEvents = undefined;
    for (const input of this.inputs.values()) if (input.sampler) clearInterval(input.sampler);
    try { this.releaseAll(); } finally {
      // Closing a request's fd gives its line back to the kernel.
      for (const fd of [...this.outputs.values(), ...[...this.inputs.values()].map((i) => i.fd)]) {
        try { this.sys.close(fd); } catch { /* the process exit closes it anyway */ }
      }
      this.outputs.clear();
      this.inputs.clear();
      this.byFd.clear();
    }
  }

  // --- internals

  private readFd(fd: number): boolean {
    const values = encodeLineValues(0n, 1n);
    this.sys.ioctl(fd, Ioctl.V2_LINE_GET_VALUES, values);
    return (decodeLineValues(values) & 1n) === 1n;
  }

  private deliver(input: Input, level: boolean, timestampNs: bigint | undefined): void {
    if (level === input.level) return;
    input.level = level;
    for (const l of [...input.listeners]) l(level, timestampNs);
  }

  /** Everything the kernel queued for this input, in order; then the level as it is now (a full queue drops events). */
  private drain(input: Input): void {
    for (;;) {
      const n = this.sys.read(input.fd, this.events);
      for (const ev of decodeLineEvents(this.events, n)) this.deliver(input, ev.rising, ev.timestampNs);
      if (n < this.events.length) break;
    }
    this.deliver(input, this.readFd(input.fd), undefined);
  }

  private restartEvents(): void {
    this.stopEvents?.();
    this.stopEvents = undefined;
    const fds = [...this.byFd.keys()];
    if (fds.length === 0) return;
    this.stopEvents = this.sys.watchReadable(fds, (ready) => {
      for (const fd of ready) {
        const input = this.byFd.get(fd);
        if (input) this.drain(input);
      }
    }, (e) => this.warn(`GPIO edge events stopped: ${e.message}`));
  }

  /** Runs fn with a chip resolver; the chips opened meanwhile are closed after (the line requests keep what they need). */
  private withChips(fn: (chip: (id: string | number, what: string) => Chip) => void): void {
    const open = new Map<string, Chip>();
    try {
      fn((id, what) => {
        const key = String(id);
        let c = open.get(key);
        if (c === undefined) { c = this.openChip(id, what); open.set(key, c); }
        return c;
      });
    } finally {
      for (const c of open.values()) { try { this.sys.close(c.fd); } catch { /* nothing to do */ } }
    }
  }

  private chipInfo(fd: number): ChipInfo {
    const buf = Buffer.alloc(Size.chipInfo);
    this.sys.ioctl(fd, Ioctl.GET_CHIPINFO, buf);
    return decodeChipInfo(buf);
  }

  /** Chip by number, path, name (gpiochipN) or label, as libgpiod's lookup does. */
  private openChip(id: string | number, what: string): Chip {
    const s = String(id);
    const path = /^\d+$/.test(s) ? `/dev/gpiochip${s}` : s.startsWith('/') ? s : /^gpiochip\d+$/.test(s) ? `/dev/${s}` : undefined;
    if (path !== undefined) {
      let fd: number;
      try { fd = this.sys.open(path); } catch (e) { throw this.chipError(s, what, code(e)); }
      try { return { path, fd, info: this.chipInfo(fd) }; } catch (e) {
        this.sys.close(fd);
        throw this.chipError(s, what, code(e));
      }
    }
    for (const p of this.sys.listChips()) {
      let fd: number;
      try { fd = this.sys.open(p); } catch { continue; }
      try {
        const info = this.chipInfo(fd);
        if (info.label === s) return { path: p, fd, info };
      } catch { /* not a GPIO chip we can ask */ }
      this.sys.close(fd);
    }
    throw this.chipError(s, what, 'ENOENT');
  }

  private chipError(id: string, what: string, errno: string): GpioUnavailableError {
    const why = errno === 'ENOENT' ? 'does not exist'
      : errno === 'EACCES' ? 'is not accessible (add the user to the gpio group, see docs/claw-node.md)'
        : errno === 'ENOTTY' ? 'is not a GPIO character device'
          : `cannot be opened (${errno})`;
    return new GpioUnavailableError(
      `GPIO chip "${id}" (${what}) ${why}. Chips present: ${this.describeChips()}. ` +
      'Check the wiring config, or set `driver: simulated` on a machine without GPIO.',
    );
  }

  private describeChips(): string {
    const out: string[] = [];
    for (const p of this.sys.listChips()) {
      let label = '';
      try {
        const fd = this.sys.open(p);
        try { const i = this.chipInfo(fd); label = ` [${i.label}, ${i.lines} lines]`; } finally { this.sys.close(fd); }
      } catch { /* listing is only a hint */ }
      out.push(`${p.replace('/dev/', '')}${label}`);
    }
    return out.length ? out.join(', ') : 'none (no /dev/gpiochip* on this machine)';
  }

  private lineInfo(chip: Chip, offset: number): LineInfo | undefined {
    try {
      const buf = encodeLineInfoQuery(offset);
      this.sys.ioctl(chip.fd, Ioctl.V2_GET_LINEINFO, buf);
      return decodeLineInfo(buf);
    } catch { return undefined; }
  }

  private request(chip: Chip, spec: LineSpec, what: string, config: { flags: bigint; outputValues?: bigint }): number {
    if (spec.line < 0 || spec.line >= chip.info.lines) {
      throw new GpioUnavailableError(`${what}: line ${spec.line} does not exist on ${chip.info.name} (it has ${chip.info.lines} lines)`);
    }
    const req = encodeLineRequest({ offsets: [spec.line], consumer: this.consumer, ...config });
    try {
      this.sys.ioctl(chip.fd, Ioctl.V2_GET_LINE, req);
    } catch (e) {
      const c = code(e);
      if (c === 'EBUSY') {
        const holder = this.lineInfo(chip, spec.line)?.consumer;
        throw new GpioLineBusyError(what, spec.chip, spec.line, holder || undefined);
      }
      if (c === 'ENOTTY') {
        throw new GpioUnavailableError(`${what}: this kernel has no GPIO character-device uAPI v2 (Linux 5.10 or later). Use \`driver: libgpiod\` (node-libgpiod, libgpiod 1.x).`);
      }
      if (NO_EDGE_IRQ.has(c) && (config.flags & (LineFlag.EDGE_RISING | LineFlag.EDGE_FALLING)) !== 0n) throw new EdgeUnsupported(c);
      throw new GpioUnavailableError(`${what}: line ${spec.line} on chip "${spec.chip}" could not be requested (${c})`);
    }
    return decodeLineRequestFd(req);
  }
}

class EdgeUnsupported extends Error {
  constructor(readonly code: string) { super(code); }
}

/**
 * Whether this machine can use gpio-cdev: koffi loads, and the kernel answers
 * uAPI v2 (asked on the first chip; with no chip at all the claim will say so).
 * A reason string when it cannot.
 */
export function probeCdev(load: () => CdevSyscalls = loadCdevSyscalls): true | string {
  let sys: CdevSyscalls;
  try { sys = load(); } catch (e) { return (e as Error).message; }
  const first = sys.listChips()[0];
  if (first === undefined) return true;
  let fd: number;
  try { fd = sys.open(first); } catch { return true; }
  try {
    sys.ioctl(fd, Ioctl.V2_GET_LINEINFO, encodeLineInfoQuery(0));
    return true;
  } catch (e) {
    return code(e) === 'ENOTTY' ? 'this kernel has no GPIO character-device uAPI v2 (Linux 5.10 or later)' : true;
  } finally {
    sys.close(fd);
  }
}
