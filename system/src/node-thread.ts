// The simulated claw nodes on worker threads of their own.
//
// Why threads: a node's safety timers (the hold timeout that releases a
// direction nobody refreshed, the drop cycle) must fire on time whatever the
// internet does to the router. In one event loop with the router, anything
// that stalls the router (a message that takes seconds to decode, a flood)
// stalls them too: a `leftOn` once stayed asserted for 6.9 s against a 600 ms
// hold timeout. On a thread of its own a node keeps its own event loop and
// timers, and still talks to the router over a real loopback WebSocket, as a
// cabinet's board does.
//
// Why threads and not processes: the same isolation of the event loop, at a
// fraction of the cost (a thread with a node costs ~30 MiB and ~0.5 s to
// start from dist/, a whole Node process more), the launcher stays one
// process (one pid, one Ctrl-C, one stdout), and configs and answers cross as
// structured-clone messages instead of a pipe protocol. A thread does not
// isolate against a crash of the process itself; here all of it is our own
// code, and a node that throws ends only its thread (after releasing its
// lines, see node-worker.ts).
//
// How many: one thread per node up to MAX_NODE_THREADS, then the nodes share
// them round-robin (node i on thread i mod the pool). Nodes are light (a few
// timers, one WebSocket, the simulator's tick), so a few share a loop without
// delaying each other noticeably, and `--machines 50` costs 4 threads, not
// 50 (~1.5 GiB).
import { Worker } from 'node:worker_threads';
import type { ClawNode, ClawNodeConfigInput } from '@clawgate/claw-node';
import type { LinesPayload } from '@clawgate/protocol';
import type { LineChange } from './gpio-trace.js';

export const MAX_NODE_THREADS = 4;

/** What a node thread is started with (structured-cloned). */
export interface NodeWorkerData {
  nodes: ClawNodeConfigInput[];
  /** Append line changes to this file (see gpio-trace.ts). */
  gpioTrace?: string | undefined;
}

export type NodeStats = ReturnType<ClawNode['stats']>;

/** Launcher → node thread, about one of its nodes. */
export type ToNode =
  | { type: 'watch'; machine: string; on: boolean }
  | { type: 'stats'; machine: string; id: number }
  | { type: 'lines'; machine: string; id: number }
  | { type: 'stop'; machine: string };

/** Node thread → launcher. */
export type FromNode =
  | { type: 'started'; machine: string; traced: boolean }
  | { type: 'failed'; machine: string; message: string }
  | { type: 'line'; change: LineChange }
  | { type: 'reply'; id: number; value: unknown }
  | { type: 'fatal'; machine: string; message: string; released: boolean }
  | { type: 'stopped'; machine: string };

/** A claw node running on a worker thread, as the launcher and embedders see it. */
export interface ClawNodeThread {
  /** The machine id. */
  readonly id: string;
  /** The worker thread it runs on (shared by several nodes past MAX_NODE_THREADS). */
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
  /** Releases everything, publishes `offline`, leaves the router; its thread ends with its last node. Idempotent. */
  stop(): Promise<void>;
}

export interface NodeThreadOptions {
  gpioTrace?: string | undefined;
  /** A node ended on its own (a bug in its thread): what it said. */
  onFailure?: (machine: string, message: string) => void;
  /** Threads at most (default MAX_NODE_THREADS). */
  maxThreads?: number;
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

const machineOf = (config: ClawNodeConfigInput): string => String((config as { machine?: unknown }).machine);

/**
 * Starts every node on the threads (at most `maxThreads`); resolves with one
 * handle per config, in order, once all have started; rejects with the first
 * node's error otherwise (the others stopped again).
 */
export async function startNodeThreads(configs: ClawNodeConfigInput[], o: NodeThreadOptions = {}): Promise<ClawNodeThread[]> {
  const threads = Math.max(1, Math.min(configs.length, o.maxThreads ?? MAX_NODE_THREADS));
  const groups = Array.from({ length: threads }, (_, t) => configs.filter((_c, i) => i % threads === t));
  const started = await Promise.allSettled(groups.map((g) => startThread(g, o)));
  const handles = started.flatMap((s) => (s.status === 'fulfilled' ? s.value.handles : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(handles.map((h) => h.stop()));
    throw failed.reason;
  }
  const byId = new Map(handles.map((h) => [h.id, h]));
  return configs.map((c) => byId.get(machineOf(c))!);
}

/** One thread with its nodes: resolves once all of them started, rejects (thread ended) when one did not. */
async function startThread(configs: ClawNodeConfigInput[], o: NodeThreadOptions): Promise<{ handles: ClawNodeThread[] }> {
  const { file, eval: isEval } = workerEntry();
  const workerData: NodeWorkerData = { nodes: configs, gpioTrace: o.gpioTrace };
  const machines = configs.map(machineOf);
  const worker = new Worker(file, { eval: isEval, workerData, name: `claw nodes ${machines.join(', ')}` });

  const listeners = new Map(machines.map((m) => [m, new Set<(c: LineChange) => void>()]));
  const replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const stopped = new Map(machines.map((m) => [m, deferred()]));
  const stopping = new Set<string>();
  let nextId = 1;
  let exited = false;
  let running = false;
  const reported = new Set<string>();
  const failed = (machine: string, message: string): void => {
    if (reported.has(machine) || stopping.has(machine)) return;
    reported.add(machine);
    o.onFailure?.(machine, message);
  };
  const exit = new Promise<void>((r) => worker.once('exit', () => {
    exited = true;
    for (const p of replies.values()) p.reject(new Error(`claw node thread ${worker.threadId} ended`));
    replies.clear();
    if (running) for (const m of machines) failed(m, 'its thread ended');
    r();
  }));

  let startError: Error | undefined;
  const pending = new Set(machines);
  const allStarted = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: FromNode) => {
      switch (m.type) {
        case 'started': pending.delete(m.machine); if (pending.size === 0) resolve(); break;
        case 'failed': startError ??= new Error(m.message); reject(startError); break;
        case 'line': for (const l of listeners.get(m.change.machine) ?? []) l(m.change); break;
        case 'reply': replies.get(m.id)?.resolve(m.value); replies.delete(m.id); break;
        case 'fatal': failed(m.machine, `${m.message}${m.released ? ' (its outputs were released)' : ''}`); break;
        case 'stopped': stopped.get(m.machine)?.resolve(); break;
      }
    });
    worker.on('error', (e) => {
      startError ??= e;
      reject(e); // while starting: the start rejects with it
      if (running) for (const m of machines) failed(m, e.stack ?? e.message);
    });
    void exit.then(() => reject(startError ?? new Error(`the claw nodes' thread (${machines.join(', ')}) ended before they started`)));
  });
  await allStarted.catch(async (e: unknown) => {
    // Stop what did start (it may be connected already), then end the thread.
    for (const m of machines) if (!pending.has(m)) worker.postMessage({ type: 'stop', machine: m } satisfies ToNode);
    await Promise.race([exit, sleep(STOP_TIMEOUT_MS)]);
    await worker.terminate();
    throw e;
  });
  running = true;

  const ask = <T>(machine: string, type: 'stats' | 'lines'): Promise<T> => {
    if (exited || stopping.has(machine)) return Promise.reject(new Error(`claw node ${machine} is not running`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      replies.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ type, machine, id } satisfies ToNode);
    });
  };

  const handles = machines.map((machine): ClawNodeThread => {
    const ls = listeners.get(machine)!;
    let stop: Promise<void> | undefined;
    return {
      id: machine,
      threadId: worker.threadId,
      onLine(listener) {
        if (ls.size === 0 && !exited) worker.postMessage({ type: 'watch', machine, on: true } satisfies ToNode);
        ls.add(listener);
        return () => {
          ls.delete(listener);
          if (ls.size === 0 && !exited) worker.postMessage({ type: 'watch', machine, on: false } satisfies ToNode);
        };
      },
      stats: () => ask<NodeStats>(machine, 'stats'),
      lines: () => ask<LinesPayload>(machine, 'lines'),
      stop: () => (stop ??= (async () => {
        if (exited) return;
        stopping.add(machine);
        worker.postMessage({ type: 'stop', machine } satisfies ToNode);
        await Promise.race([stopped.get(machine)!.promise, exit, sleep(STOP_TIMEOUT_MS)]);
        // The thread ends by itself after its last node; one that does not is ended.
        if (machines.every((m) => stopping.has(m))) await Promise.race([exit, sleep(1000).then(() => worker.terminate())]);
      })()),
    };
  });
  return { handles };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
