// The GPIO trace (`--gpio-trace <file>`): every line change at a simulated
// claw's driver, one JSON line each, appended by the node's own thread with
// the time taken there. A test or a benchmark outside the process reads it to
// see when a line really changed, even while the router's thread is stalled
// (the router's `lines` topic would only tell when the router got round to
// delivering it).
//
//   {"at":1765012345678.123,"machine":"claw-1","line":"left","asserted":true}
//
// `at` is epoch milliseconds with sub-millisecond digits
// (performance.timeOrigin + performance.now() in the node's thread), so it can
// be compared with Date.now() or a browser's event timestamps on the same host.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { OUTPUTS, type OutputName } from '@clawgate/protocol';

export interface LineChange {
  machine: string;
  line: OutputName;
  asserted: boolean;
  /** Epoch ms (sub-ms), taken in the node's thread when the driver changed the line. */
  at: number;
}

/** Now, as epoch ms with sub-millisecond digits, on this thread's clock. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface GpioTraceWriter {
  write(change: LineChange): void;
  close(): void;
}

/**
 * Appends to `file` (created if missing). Each change is one write(2) of one
 * short line on a descriptor opened with O_APPEND, so the nodes' threads can
 * share a file without interleaving. Synchronous: a line change is rare
 * (a keypress) and the write is a few microseconds, taken after the timestamp.
 */
export function openGpioTrace(file: string): GpioTraceWriter {
  let fd: number | undefined = openSync(file, 'a');
  return {
    write(change) {
      if (fd === undefined) return;
      writeSync(fd, `${JSON.stringify({ at: +change.at.toFixed(3), machine: change.machine, line: change.line, asserted: change.asserted })}\n`);
    },
    close() {
      if (fd === undefined) return;
      closeSync(fd);
      fd = undefined;
    },
  };
}

const isOutput = (v: unknown): v is OutputName => typeof v === 'string' && (OUTPUTS as readonly string[]).includes(v);

/** The complete lines of a trace (a line still being written at the end is left out). */
export function parseGpioTrace(text: string): LineChange[] {
  const out: LineChange[] = [];
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a partial line
  for (const l of lines) {
    if (l === '') continue;
    const v = JSON.parse(l) as Record<string, unknown>;
    if (typeof v.at !== 'number' || typeof v.machine !== 'string' || !isOutput(v.line) || typeof v.asserted !== 'boolean') {
      throw new Error(`not a GPIO trace line: ${l.slice(0, 200)}`);
    }
    out.push({ at: v.at, machine: v.machine, line: v.line, asserted: v.asserted });
  }
  return out;
}

/** Every change in the trace file so far; empty when it does not exist yet. */
export function readGpioTrace(file: string): LineChange[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return parseGpioTrace(text);
}
