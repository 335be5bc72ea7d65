// The body of a claw-node worker thread (see node-thread.ts for why the nodes
// run in threads). It starts the nodes it was given, stamps and reports their
// drivers' line changes, answers the launcher's questions and stops each node
// when told; the thread ends when its last node has stopped. Everything the
// safety layer needs (the hold timers, the GPIO writes, the WebSocket to the
// router) lives on this thread.
import { parentPort, workerData } from 'node:worker_threads';
import { startClawNode, type ClawNode, type SimulatedDriver } from '@clawgate/claw-node';
import { openGpioTrace, preciseNow, type GpioTraceWriter } from './gpio-trace.js';
import type { FromNode, ToNode, NodeWorkerData } from './node-thread.js';

if (parentPort === null) throw new Error('node-worker.ts runs as a worker thread (see node-thread.ts)');
const port = parentPort;
const data = workerData as NodeWorkerData;
const post = (m: FromNode): void => port.postMessage(m);

/** The simulated driver tells about output changes; a real chip's driver does not (no trace then). */
function outputsOf(node: ClawNode): SimulatedDriver | undefined {
  const d = node.driver as Partial<SimulatedDriver>;
  return typeof d.onOutput === 'function' ? node.driver as SimulatedDriver : undefined;
}

const nodes = new Map<string, ClawNode>();
const watching = new Set<string>();
const stopping = new Set<string>();
let trace: GpioTraceWriter | undefined;
let live = data.nodes.length;

/** A node is done (stopped, or never started): the thread ends after its last. */
function done(): void {
  if (--live > 0) return;
  trace?.close();
  port.close();
}

// A bug in this thread ends it; release every line first, like the claw
// node's CLI does before it exits (the released lines reach the trace too).
const fatal = (e: unknown): void => {
  const message = e instanceof Error ? e.stack ?? e.message : String(e);
  for (const [machine, node] of nodes) post({ type: 'fatal', machine, message, released: node.releaseNow() });
  process.exit(1);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

async function start(config: NodeWorkerData['nodes'][number]): Promise<void> {
  const machine = String((config as { machine?: unknown }).machine);
  let node: ClawNode;
  try {
    node = await startClawNode(config);
  } catch (e) {
    post({ type: 'failed', machine, message: (e as Error).message });
    done();
    return;
  }
  nodes.set(machine, node);
  const driver = outputsOf(node);
  driver?.onOutput((line, asserted) => {
    const change = { machine, line, asserted, at: preciseNow() };
    trace?.write(change);
    if (watching.has(machine)) post({ type: 'line', change });
  });
  post({ type: 'started', machine, traced: driver !== undefined });
}

port.on('message', (m: ToNode) => {
  const node = nodes.get(m.machine);
  if (node === undefined) return;
  switch (m.type) {
    case 'watch':
      if (m.on) watching.add(m.machine); else watching.delete(m.machine);
      break;
    case 'stats':
      post({ type: 'reply', id: m.id, value: node.stats() });
      break;
    case 'lines':
      post({ type: 'reply', id: m.id, value: node.lines() });
      break;
    case 'stop':
      if (stopping.has(m.machine)) return;
      stopping.add(m.machine);
      node.stop().then(() => {
        post({ type: 'stopped', machine: m.machine });
        done();
      }, fatal);
      break;
  }
});

try {
  trace = data.gpioTrace !== undefined ? openGpioTrace(data.gpioTrace) : undefined;
} catch (e) {
  for (const c of data.nodes) post({ type: 'failed', machine: String((c as { machine?: unknown }).machine), message: `--gpio-trace: ${(e as Error).message}` });
  port.close();
}
if (trace !== undefined || data.gpioTrace === undefined) for (const c of data.nodes) void start(c);
