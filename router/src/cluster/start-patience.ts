// A node's start asks JetStream for its buckets, watches and streams. For some
// tens of seconds after a NATS server of a cluster dies, JetStream answers
// some of those requests late or not at all: the streams the dead server led
// elect new leaders, and nats-server 2.9 can still place a new consumer (a
// watch) on the dead server. Each such request then fails with a timeout,
// and another try usually lands elsewhere. So a starting node tries again
// what timed out, until its start's deadline, rather than failing its start
// (measured: a node started right after a kill -9 of one of three servers
// needed 10–60 s of whole-start retries; docs/cluster.md "Replicas").
import { TimeoutError } from '@nats-io/transport-node';
import type { Logger } from '../logger.js';

/** How long a node's start keeps trying JetStream requests that time out. */
export const START_PATIENCE_MS = 60_000;

/** The deadline a start's JetStream requests share, and where their retries are logged. */
export interface StartPatience {
  readonly log: Logger;
  /** Until when (ms since the epoch) a request of the start that timed out is tried again; 0 after the start. */
  readonly startDeadline: number;
}

/** Did JetStream not answer in time (or say it can't yet)? Anything else is not retried. */
export function isJetStreamTimeout(e: unknown): boolean {
  if (e instanceof TimeoutError) return true;
  const message = (e as Error)?.message ?? '';
  return /\btimeout\b|timed out|temporarily unavailable/i.test(message);
}

/** Pauses between tries: "temporarily unavailable" comes back at once, and must not become a busy loop. */
const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 2000;

/**
 * Runs `op`; while it times out and the start's deadline (or `deadline`, for
 * work after the start: a NATS outage's aftermath) has not passed, runs it
 * again after a pause.
 */
export async function patiently<T>(host: StartPatience, what: string, op: () => Promise<T>, deadline = host.startDeadline): Promise<T> {
  let pause = FIRST_PAUSE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      const left = deadline - Date.now();
      if (!isJetStreamTimeout(e) || left <= 0) throw e;
      host.log.warn({ what, attempt, err: (e as Error).message }, 'JetStream did not answer in time (a NATS server lost, or just back?): trying again');
      await new Promise((r) => setTimeout(r, Math.min(pause, left)).unref());
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }
}
