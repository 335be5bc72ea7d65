// A stand-in for the kernel's GPIO character devices behind the gpio-cdev
// driver's system-call interface (the GPIO chip is the boundary we cannot
// reach on this machine; the real kernel is tested in kernel-gpio/). It
// decodes the uAPI v2 structs as gpiolib-cdev does, keeps each line's
// electrical level, consumer and flags, queues edge events with timestamps,
// and refuses what the kernel refuses (EBUSY, ENXIO without an edge
// interrupt, ENOTTY on a kernel without uAPI v2). A blocking read on the main
// thread would stall the node's safety timers: here it throws.
import type { CdevSyscalls } from '../src/gpio/cdev-syscalls.js';
import { SyscallError } from '../src/gpio/cdev-syscalls.js';
import { AttrId, EventId, Ioctl, LineFlag, Offset, Size } from '../src/gpio/cdev-uapi.js';

interface FakeLine {
  name: string;
  /** Electrical level; for an input what the outside world drives, else its bias (or 0). */
  physical: 0 | 1;
  /** What the outside drives the line to, when anything does. */
  driven?: 0 | 1;
  request?: FakeRequest;
  flags: bigint;
}
interface FakeChip { path: string; name: string; label: string; lines: FakeLine[]; edgeIrq: boolean }
interface FakeRequest { fd: number; chip: FakeChip; offsets: number[]; consumer: string; flags: bigint; events: Buffer[]; nonBlocking: boolean }

export interface FakeChipSpec { label: string; lines: number; edgeIrq?: boolean }

export interface FakeKernel {
  sys: CdevSyscalls;
  /** Electrical level of a line (what a relay board sees). */
  level(chip: string, offset: number): 0 | 1;
  /** The outside world drives an input (a sensor), or lets go (undefined). */
  drive(chip: string, offset: number, level: 0 | 1 | undefined): void;
  consumer(chip: string, offset: number): string | undefined;
  flags(chip: string, offset: number): bigint | undefined;
  /** Another process holds a line. */
  hold(chip: string, offset: number, consumer: string): void;
  /** Open file descriptors (chips and requests). */
  openFds(): number;
  /** Timestamp of the next event (ns); advanced by each event. */
  clockNs: bigint;
  /** Every ioctl request number, in order. */
  ioctls: number[];
}

export function fakeKernel(chips: FakeChipSpec[], opts: { v2?: boolean; accessible?: boolean } = {}): FakeKernel {
  const byPath = new Map<string, FakeChip>();
  chips.forEach((c, i) => {
    const path = `/dev/gpiochip${i}`;
    byPath.set(path, { path, name: `gpiochip${i}`, label: c.label, edgeIrq: c.edgeIrq ?? true, lines: Array.from({ length: c.lines }, (_, n) => ({ name: `L${n}`, physical: 0, flags: 0n })) });
  });
  const fds = new Map<number, { chip?: FakeChip; request?: FakeRequest }>();
  let nextFd = 100;
  const watchers = new Set<{ fds: readonly number[]; cb: (ready: number[]) => void; scheduled: boolean }>();
  const fail = (code: string): never => { throw new SyscallError('ioctl', code, 0); };
  const chipOf = (p: string) => {
    const c = byPath.get(p.startsWith('/') ? p : `/dev/${p}`) ?? [...byPath.values()].find((x) => x.label === p);
    if (!c) throw new Error(`no fake chip ${p}`);
    return c;
  };
  const cstr = (b: Buffer, at: number) => { const f = b.subarray(at, at + 32); const z = f.indexOf(0); return f.subarray(0, z < 0 ? 32 : z).toString(); };
  const putStr = (b: Buffer, at: number, s: string) => { Buffer.from(s).subarray(0, 31).copy(b, at); };
  const logical = (line: FakeLine) => (line.physical ^ ((line.flags & LineFlag.ACTIVE_LOW) ? 1 : 0)) as 0 | 1;

  const notify = () => {
    for (const w of watchers) {
      if (w.scheduled) continue;
      const ready = w.fds.filter((fd) => (fds.get(fd)?.request?.events.length ?? 0) > 0);
      if (ready.length === 0) continue;
      w.scheduled = true;
      setImmediate(() => {
        w.scheduled = false;
        if (!watchers.has(w)) return;
        const now = w.fds.filter((fd) => (fds.get(fd)?.request?.events.length ?? 0) > 0);
        if (now.length) w.cb(now);
      });
    }
  };

  const k: FakeKernel = {
    clockNs: 1_000_000_000n,
    ioctls: [],
    sys: {
      listChips: () => [...byPath.keys()],
      open(path) {
        const c = byPath.get(path);
        if (!c) throw new SyscallError('open', 'ENOENT', 2);
        if (opts.accessible === false) throw new SyscallError('open', 'EACCES', 13);
        const fd = nextFd++;
        fds.set(fd, { chip: c });
        return fd;
      },
      close(fd) {
        const f = fds.get(fd);
        if (!f) throw new SyscallError('close', 'EBADF', 9);
        fds.delete(fd);
        if (f.request) {
          // gpio-sim style: a freed line keeps no request; the flags go, the level stays
          for (const o of f.request.offsets) { const l = f.request.chip.lines[o]!; l.request = undefined; l.flags = 0n; }
        }
      },
      ioctl(fd, request, arg) {
        k.ioctls.push(request);
        const f = fds.get(fd);
        if (!f) return fail('EBADF');
        if (f.chip) {
          const chip = f.chip;
          if (request === Ioctl.GET_CHIPINFO) {
            putStr(arg, Offset.chipInfo.name, chip.name);
            putStr(arg, Offset.chipInfo.label, chip.label);
            arg.writeUInt32LE(chip.lines.length, Offset.chipInfo.lines);
            return;
          }
          if (opts.v2 === false) return fail('ENOTTY');
          if (request === Ioctl.V2_GET_LINEINFO) {
            const o = arg.readUInt32LE(Offset.lineInfo.offset);
            const line = chip.lines[o];
            if (!line) return fail('EINVAL');
            putStr(arg, Offset.lineInfo.name, line.name);
            if (line.request) putStr(arg, Offset.lineInfo.consumer, line.request.consumer);
            arg.writeBigUInt64LE(line.request ? line.flags | LineFlag.USED : 0n, Offset.lineInfo.flags);
            return;
          }
          if (request === Ioctl.V2_GET_LINE) {
            const R = Offset.lineRequest;
            const n = arg.readUInt32LE(R.numLines);
            const offsets = Array.from({ length: n }, (_, i) => arg.readUInt32LE(R.offsets + 4 * i));
            const flags = arg.readBigUInt64LE(R.config);
            const numAttrs = arg.readUInt32LE(R.config + Offset.lineConfig.numAttrs);
            let outValues = 0n;
            for (let i = 0; i < numAttrs; i++) {
              const at = R.config + Offset.lineConfig.attrs + i * Size.lineConfigAttribute;
              const id = arg.readUInt32LE(at);
              if (id === AttrId.OUTPUT_VALUES) outValues = arg.readBigUInt64LE(at + 8) & arg.readBigUInt64LE(at + 16);
              else if (id === AttrId.FLAGS) return fail('EINVAL'); // not used by the driver
            }
            if ((flags & LineFlag.INPUT) && (flags & LineFlag.OUTPUT)) return fail('EINVAL');
            for (const o of offsets) {
              if (o >= chip.lines.length) return fail('EINVAL');
              if (chip.lines[o]!.request) return fail('EBUSY');
            }
            if ((flags & (LineFlag.EDGE_RISING | LineFlag.EDGE_FALLING)) && !chip.edgeIrq) return fail('ENXIO');
            const req: FakeRequest = { fd: nextFd++, chip, offsets, consumer: cstr(arg, R.consumer), flags, events: [], nonBlocking: false };
            fds.set(req.fd, { request: req });
            offsets.forEach((o, i) => {
              const line = chip.lines[o]!;
              line.request = req;
              line.flags = flags;
              if (flags & LineFlag.OUTPUT) {
                const v = Number((outValues >> BigInt(i)) & 1n);
                line.physical = (v ^ ((flags & LineFlag.ACTIVE_LOW) ? 1 : 0)) as 0 | 1;
              } else if (line.driven === undefined) {
                line.physical = flags & LineFlag.BIAS_PULL_UP ? 1 : flags & LineFlag.BIAS_PULL_DOWN ? 0 : line.physical;
              }
            });
            arg.writeInt32LE(req.fd, R.fd);
            return;
          }
          return fail('ENOTTY');
        }
        const req = f.request!;
        if (request === Ioctl.V2_LINE_GET_VALUES) {
          const mask = arg.readBigUInt64LE(8);
          let bits = 0n;
          req.offsets.forEach((o, i) => { if ((mask >> BigInt(i)) & 1n) bits |= BigInt(logical(req.chip.lines[o]!)) << BigInt(i); });
          arg.writeBigUInt64LE(bits, 0);
          return;
        }
        if (request === Ioctl.V2_LINE_SET_VALUES) {
          if (!(req.flags & LineFlag.OUTPUT)) return fail('EPERM');
          const bits = arg.readBigUInt64LE(0);
          const mask = arg.readBigUInt64LE(8);
          req.offsets.forEach((o, i) => {
            if (!((mask >> BigInt(i)) & 1n)) return;
            const line = req.chip.lines[o]!;
            line.physical = (Number((bits >> BigInt(i)) & 1n) ^ ((req.flags & LineFlag.ACTIVE_LOW) ? 1 : 0)) as 0 | 1;
          });
          return;
        }
        return fail('ENOTTY');
      },
      setNonBlocking(fd) {
        const r = fds.get(fd)?.request;
        if (!r) throw new SyscallError('fcntl', 'EBADF', 9);
        r.nonBlocking = true;
      },
      read(fd, buf) {
        const r = fds.get(fd)?.request;
        if (!r) throw new SyscallError('read', 'EBADF', 9);
        if (r.events.length === 0) {
          if (!r.nonBlocking) throw new Error('a blocking read on an empty line request would stall the main thread');
          return 0;
        }
        let n = 0;
        while (r.events.length && n + Size.lineEvent <= buf.length) { r.events.shift()!.copy(buf, n); n += Size.lineEvent; }
        return n;
      },
      watchReadable(watched, cb) {
        const w = { fds: watched, cb, scheduled: false };
        watchers.add(w);
        notify();
        return () => { watchers.delete(w); };
      },
    },
    level: (chip, offset) => chipOf(chip).lines[offset]!.physical,
    consumer: (chip, offset) => chipOf(chip).lines[offset]!.request?.consumer,
    flags: (chip, offset) => { const l = chipOf(chip).lines[offset]!; return l.request ? l.flags : undefined; },
    drive(chip, offset, level) {
      const line = chipOf(chip).lines[offset]!;
      line.driven = level;
      if (line.request && (line.flags & LineFlag.OUTPUT)) return; // a driven output keeps its level
      const before = logical(line);
      line.physical = level ?? (line.flags & LineFlag.BIAS_PULL_UP ? 1 : 0);
      const after = logical(line);
      const r = line.request;
      if (r && before !== after && (r.flags & (after ? LineFlag.EDGE_RISING : LineFlag.EDGE_FALLING))) {
        const ev = Buffer.alloc(Size.lineEvent);
        k.clockNs += 1_000_000n;
        ev.writeBigUInt64LE(k.clockNs, Offset.lineEvent.timestampNs);
        ev.writeUInt32LE(after ? EventId.RISING_EDGE : EventId.FALLING_EDGE, Offset.lineEvent.id);
        ev.writeUInt32LE(offset, Offset.lineEvent.offset);
        r.events.push(ev);
        notify();
      }
    },
    hold(chip, offset, consumer) {
      const c = chipOf(chip);
      const req: FakeRequest = { fd: nextFd++, chip: c, offsets: [offset], consumer, flags: LineFlag.INPUT, events: [], nonBlocking: false };
      fds.set(req.fd, { request: req });
      c.lines[offset]!.request = req;
      c.lines[offset]!.flags = LineFlag.INPUT;
    },
    openFds: () => fds.size,
  };
  return k;
}
