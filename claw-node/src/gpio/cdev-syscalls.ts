// The few system calls the gpio-cdev driver makes, behind a narrow interface:
// the real one calls libc through koffi (an FFI whose prebuilt binary comes in
// its npm package: nothing is compiled on the board, and libgpiod is not
// needed at all); tests put a simulated chip behind the same interface.
//
// Waiting for edge events must not block the main thread (the safety timers
// run there), and a GPIO line fd cannot join libuv's event loop, so
// watchReadable() runs poll(2) on a libuv worker thread (koffi's async calls)
// together with an eventfd that wakes it. A pending poll would make
// process.exit() wait for that thread forever (Node joins its thread pool on
// exit), so the poll also returns at least once a second, and an 'exit'
// listener wakes it at once.
import { closeSync, constants as fsConstants, openSync, readSync, readdirSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';

export interface CdevSyscalls {
  /** Paths of the GPIO character devices present (`/dev/gpiochip*`), in number order. */
  listChips(): string[];
  /** Opens a chip; throws a SyscallError (code ENOENT, EACCES, ...). */
  open(path: string): number;
  close(fd: number): void;
  /** ioctl(fd, request, arg); throws a SyscallError with the errno's name. */
  ioctl(fd: number, request: number, arg: Buffer): void;
  /** Sets O_NONBLOCK, so that read() never blocks the calling thread. */
  setNonBlocking(fd: number): void;
  /** Reads what is queued, without blocking: the byte count, 0 when nothing is. */
  read(fd: number, buf: Buffer): number;
  /**
   * Calls onReadable (on the main thread) with the fds that have data, each
   * time some do, until the returned function is called. The waiting happens
   * off the main thread.
   */
  watchReadable(fds: readonly number[], onReadable: (ready: number[]) => void, onError: (e: Error) => void): () => void;
}

export class SyscallError extends Error {
  override readonly name = 'SyscallError';
  constructor(readonly syscall: string, readonly code: string, readonly errno: number) {
    super(`${syscall}: ${code}`);
  }
}

/** The errno's name (EBUSY, ...) from its number, as Node's own errors give it. */
export function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(osConstants.errno)) if (n === errno) return name;
  return `errno ${errno}`;
}

/** The parts of koffi used here (its own typings exist only where it is installed). */
export interface KoffiModule {
  version?: string;
  load(path: string): { func(declaration: string): KoffiFunction };
  errno(): number;
}
type KoffiFunction = ((...args: unknown[]) => number) & { async(...args: unknown[]): void };

export const KOFFI_HINT =
  'The gpio-cdev driver needs the optional package koffi (prebuilt, nothing to compile; on armhf it needs glibc >= 2.34, i.e. Raspberry Pi OS bookworm or later). ' +
  'Reinstall the claw node with its optional dependencies (`npm install`, not `--omit=optional`), or use `driver: libgpiod` with node-libgpiod on a libgpiod 1.x system. ' +
  'To run without GPIO, set `driver: simulated`.';

/** asm-generic values (x86, arm, arm64); Node's fs.constants has no O_CLOEXEC. */
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const POLLIN = 0x1;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
/** The longest a waiting poll lasts before it is re-armed (bounds any exit path we did not foresee). */
const POLL_TIMEOUT_MS = 1000;

/** Loads koffi and libc's ioctl/fcntl/eventfd/poll, or throws with what to install. */
export function loadCdevSyscalls(require: (id: string) => unknown = createRequire(import.meta.url)): CdevSyscalls {
  let koffi: KoffiModule;
  let fn: { ioctl: KoffiFunction; fcntl: KoffiFunction; eventfd: KoffiFunction; poll: KoffiFunction };
  try {
    koffi = require('koffi') as KoffiModule;
    const libc = koffi.load('libc.so.6');
    fn = {
      ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
      fcntl: libc.func('int fcntl(int fd, int cmd, ...)'),
      eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
      poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    };
  } catch (e) {
    throw new Error(`koffi could not be loaded (${(e as Error).message.split('\n')[0]}). ${KOFFI_HINT}`);
  }
  const fail = (syscall: string): never => {
    const errno = koffi.errno();
    throw new SyscallError(syscall, errnoName(errno), errno);
  };
  const nodeCall = <T>(syscall: string, f: () => T): T => {
    try { return f(); } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new SyscallError(syscall, err.code ?? 'unknown', typeof err.errno === 'number' ? -err.errno : 0);
    }
  };

  return {
    listChips() {
      let names: string[];
      try { names = readdirSync('/dev'); } catch { return []; }
      return names.filter((n) => /^gpiochip\d+$/.test(n))
        .sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)))
        .map((n) => `/dev/${n}`);
    },
    open: (path) => nodeCall('open', () => openSync(path, 'r+')),
    close: (fd) => closeSync(fd),
    ioctl(fd, request, arg) {
      if (fn.ioctl(fd, request, 'void *', arg) < 0) fail('ioctl');
    },
    setNonBlocking(fd) {
      const flags = fn.fcntl(fd, F_GETFL);
      if (flags < 0) fail('fcntl');
      if (fn.fcntl(fd, F_SETFL, 'int', flags | fsConstants.O_NONBLOCK) < 0) fail('fcntl');
    },
    read(fd, buf) {
      try { return readSync(fd, buf, 0, buf.length, null); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
        throw e;
      }
    },
    watchReadable(fds, onReadable, onError) {
      const wake = fn.eventfd(0, O_CLOEXEC | fsConstants.O_NONBLOCK);
      if (wake < 0) fail('eventfd');
      const all = [wake, ...fds];
      const pollfds = Buffer.alloc(8 * all.length); // struct pollfd { int fd; short events; short revents; }
      all.forEach((fd, i) => { pollfds.writeInt32LE(fd, 8 * i); pollfds.writeInt16LE(POLLIN, 8 * i + 4); });
      let stopped = false;
      const poke = () => { try { writeSync(wake, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])); } catch { /* already woken */ } };
      const onExit = () => { stopped = true; poke(); };
      process.on('exit', onExit);
      const arm = () => {
        for (let i = 0; i < all.length; i++) pollfds.writeInt16LE(0, 8 * i + 6);
        fn.poll.async(pollfds, all.length, POLL_TIMEOUT_MS, (err: unknown, n: number) => {
          if (stopped) { closeSync(wake); return; }
          if (err) { onError(err as Error); stopped = true; process.off('exit', onExit); closeSync(wake); return; }
          const ready: number[] = [];
          let broken: number | undefined;
          if (n > 0) {
            for (let i = 0; i < all.length; i++) {
              const revents = pollfds.readInt16LE(8 * i + 6);
              if (revents === 0) continue;
              if (i === 0) { try { readSync(wake, Buffer.alloc(8)); } catch { /* drained */ } continue; }
              if (revents & POLLIN) ready.push(all[i]!);
              else if (revents & (POLLERR | POLLHUP | POLLNVAL)) broken = all[i];
            }
          }
          if (broken !== undefined) {
            stopped = true;
            process.off('exit', onExit);
            closeSync(wake);
            onError(new Error(`poll: line fd ${broken} reports an error; edge events stopped`));
            return;
          }
          // Re-armed only after the handler has read what woke it (else the next poll
          // could see the same data and wake us again for nothing), and in a finally:
          // an error thrown there cannot leave the lines unwatched.
          try {
            if (ready.length) onReadable(ready);
          } finally {
            if (stopped) closeSync(wake); // stopped by the handler: no poll pending to close it
            else arm();
          }
        });
      };
      arm();
      return () => {
        if (stopped) return;
        stopped = true;
        process.off('exit', onExit);
        poke(); // the pending poll returns; its callback closes the eventfd
      };
    },
  };
}
