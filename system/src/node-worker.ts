// The body of one claw node's worker thread (see node-thread.ts for why the
// nodes run in threads). It starts the node with the config it was given,
// stamps and reports its driver's line changes, answers the launcher's
// questions and stops when told. Everything the safety layer needs (the hold
// timers, the GPIO writes, the WebSocket to the router) lives on this thread.
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

async function main(): Promise<void> {
  let trace: GpioTraceWriter | undefined;
  let node: ClawNode;
  try {
    trace = data.gpioTrace !== undefined ? openGpioTrace(data.gpioTrace) : undefined;
    node = await startClawNode(data.config);
  } catch (e) {
    trace?.close();
    post({ type: 'failed', message: (e as Error).message });
    port.close();
    return;
  }

  // A bug in this thread ends only this thread; release first, like the claw
  // node's CLI does before it exits (the released lines reach the trace too).
  const fatal = (e: unknown): void => {
    const released = node.releaseNow();
    post({ type: 'fatal', message: e instanceof Error ? e.stack ?? e.message : String(e), released });
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);

  let watching = false;
  const driver = outputsOf(node);
  driver?.onOutput((line, asserted) => {
    const change = { machine: node.id, line, asserted, at: preciseNow() };
    trace?.write(change);
    if (watching) post({ type: 'line', change });
  });

  let stopping = false;
  port.on('message', (m: ToNode) => {
    switch (m.type) {
      case 'watch':
        watching = m.on;
        break;
      case 'stats':
        post({ type: 'reply', id: m.id, value: node.stats() });
        break;
      case 'lines':
        post({ type: 'reply', id: m.id, value: node.lines() });
        break;
      case 'stop':
        if (stopping) return;
        stopping = true;
        node.stop().then(() => {
          trace?.close();
          post({ type: 'stopped' });
          port.close();
        }, fatal);
        break;
    }
  });
  post({ type: 'started', traced: driver !== undefined });
}

void main();
