// One simulated claw node in its own worker thread.
//
// Why a thread: a node's safety timers (the hold timeout that releases a
// direction nobody refreshed, the drop cycle) must fire on time whatever the
// internet does to the router. In one event loop with the router, anything
// that stalls the router (a message that takes seconds to decode, a flood)
// stalls them too: a `leftOn` once stayed asserted for 6.9 s against a 600 ms
// hold timeout. On its own thread the node keeps its own event loop and
// timers, and still talks to the router over a real loopback WebSocket, as a
// cabinet's board does.
//
// Why a thread and not a process: same isolation of the event loop, a
// fraction of the cost (a thread shares the process's code and heap limits:
// ~10 MiB and ~0.1–0.3 s to start, against a whole Node process each), the
// launcher stays one process (one pid, one Ctrl-C, one stdout), and the
// node's config and answers cross as structured-clone messages instead of a
// pipe protocol. A thread does not isolate against a crash of the process
// itself; here all of it is our own code, and a node that throws ends only its
// thread (after releasing its lines, see node-worker.ts).
import { Worker } from 'node:worker_threads';
import type { ClawNode, ClawNodeConfigInput } from '@clawgate/claw-node';
import type { LinesPayload } from '@clawgate/protocol';
import type { LineChange } from './gpio-trace.js';

/** What a node's worker is started with (structured-cloned). */
export interface NodeWorkerData {
  config: ClawNodeConfigInput;
  /** Append line changes to this file (see gpio-trace.ts). */
  gpioTrace?: string | undefined;
}

export type NodeStats = ReturnType<ClawNode['stats']>;

/** Launcher → node thread. */
export type ToNode =
  | { type: 'watch'; on: boolean }
  | { type: 'stats'; id: number }
  | { type: 'lines'; id: number }
  | { type: 'stop' };

/** Node thread → launcher. */
export type FromNode =
  | { type: 'started'; traced: boolean }
  | { type: 'failed'; message: string }
  | { type: 'line'; change: LineChange }
  | { type: 'reply'; id: number; value: unknown }
  | { type: 'fatal'; message: string; released: boolean }
  | { type: 'stopped' };

/** A claw node running in a worker thread, as the launcher and embedders see it. */
export interface ClawNodeThread {
  /** The machine id. */
  readonly id: string;
  readonly threadId: number;
  /**
   * Line changes at the node's GPIO driver, timestamped in the node's own
   * thread (`at`: epoch ms, sub-ms). They arrive through this thread's event
   * loop, so late when it is busy; the timestamps are not.
   */
  onLine(listener: (change: LineChange) => void): () => void;
  /** The node's counters (commands accepted and ignored, turns, dead-man releases). */
  stats(): Promise<NodeStats>;
  /** Its current lines, as it would publish them. */
  lines(): Promise<LinesPayload>;
  /** Releases everything, publishes `offline`, leaves the router, ends the thread. Idempotent. */
  stop(): Promise<void>;
}

export interface NodeThreadOptions {
  gpioTrace?: string | undefined;
  /** The thread ended on its own (a bug in the node): what it said. */
  onFailure?: (machine: string, message: string) => void;
}

/** How long a stopping node may take to release, publish `offline` and leave before its thread is ended anyway. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * The worker's entry. From the TypeScript sources (tsx, the `@clawgate/source`
 * condition) a worker does not inherit the tsx loader on Node 20, whether it
 * came from `--import tsx` or from tsx's register() in bin/clawgate.js, so
 * the thread registers it itself before importing the .ts entry; the export
 * conditions are inherited with process.execArgv. From dist/ the compiled
 * entry beside this file runs as it is.
 */
function workerEntry(): { file: URL | string; eval: boolean } {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return { file: new URL('./node-worker.js', self), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./node-worker.ts', self).href;
  return { file: `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, eval: true };
}

export async function startNodeThread(config: ClawNodeConfigInput, o: NodeThreadOptions = {}): Promise<ClawNodeThread> {
  const id = String((config as { machine?: unknown }).machine);
  const { file, eval: isEval } = workerEntry();
  const workerData: NodeWorkerData = { config, gpioTrace: o.gpioTrace };
  const worker = new Worker(file, { eval: isEval, workerData, name: `claw-node ${id}` });

  const listeners = new Set<(c: LineChange) => void>();
  const replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let stopped: () => void = () => {};
  const stoppedMsg = new Promise<void>((r) => { stopped = r; });
  let exited = false;
  const exit = new Promise<void>((r) => worker.once('exit', () => {
    exited = true;
    for (const p of replies.values()) p.reject(new Error(`claw node ${id} ended`));
    replies.clear();
    r();
  }));
  let startError: Error | undefined;
  let running = false;
  let reported = false;
  const failed = (message: string): void => { if (!reported) { reported = true; o.onFailure?.(id, message); } };

  const started = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: FromNode) => {
      switch (m.type) {
        case 'started': resolve(); break;
        case 'failed': reject(new Error(m.message)); break;
        case 'line': for (const l of listeners) l(m.change); break;
        case 'reply': replies.get(m.id)?.resolve(m.value); replies.delete(m.id); break;
        case 'fatal': failed(`${m.message}${m.released ? ' (its outputs were released)' : ''}`); break;
        case 'stopped': stopped(); break;
      }
    });
    worker.on('error', (e) => {
      startError = e;
      reject(e); // while starting: startNodeThread rejects with it
      if (running) failed(e.stack ?? e.message);
    });
    void exit.then(() => reject(startError ?? new Error(`the claw node ${id}'s thread ended before it started`)));
  });
  await started.catch(async (e: unknown) => { await worker.terminate(); throw e; });
  running = true;
  let stopping: Promise<void> | undefined;
  void exit.then(() => { if (stopping === undefined) failed('its thread ended'); });

  const ask = <T>(type: 'stats' | 'lines'): Promise<T> => {
    if (exited) return Promise.reject(new Error(`claw node ${id} is not running`));
    const reqId = nextId++;
    return new Promise<T>((resolve, reject) => {
      replies.set(reqId, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ type, id: reqId } satisfies ToNode);
    });
  };

  return {
    id,
    threadId: worker.threadId,
    onLine(listener) {
      if (listeners.size === 0 && !exited) worker.postMessage({ type: 'watch', on: true } satisfies ToNode);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && !exited) worker.postMessage({ type: 'watch', on: false } satisfies ToNode);
      };
    },
    stats: () => ask<NodeStats>('stats'),
    lines: () => ask<LinesPayload>('lines'),
    stop: () => (stopping ??= (async () => {
      if (exited) return;
      worker.postMessage({ type: 'stop' } satisfies ToNode);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stoppedMsg, exit, new Promise<void>((r) => { timer = setTimeout(r, STOP_TIMEOUT_MS); })]);
      clearTimeout(timer);
      await worker.terminate();
    })()),
  };
}
