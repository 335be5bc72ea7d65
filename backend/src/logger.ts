// Structured logs: pino JSON lines on stdout, as the router and claw node.
// What a client controls (names, payloads, error texts from peers) goes into
// a line only through preview(), and lines a client can trigger at will go
// through a LogThrottle, so no client can make the log grow faster than we
// decide.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ name: 'clawgate-backend', level });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export { PREVIEW_CHARS, preview } from '@clawgate/runtime';

/**
 * At most one line per `intervalMs` for one kind of event; the events in
 * between are counted and reported with the next line (`suppressed`).
 */
export class LogThrottle {
  private last = -Infinity;
  private suppressed = 0;

  constructor(private readonly intervalMs: number) {}

  /** Calls `write(suppressedSinceLastLine)` if a line is due now; otherwise counts the event. */
  maybe(now: number, write: (suppressed: number) => void): void {
    if (now - this.last < this.intervalMs) { this.suppressed++; return; }
    this.last = now;
    const n = this.suppressed;
    this.suppressed = 0;
    write(n);
  }
}
