// pino, as in the router: JSON lines on stdout (journald keeps them).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'clawgate-claw'): Logger {
  return pino({ name, level });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Longest text from a peer (an error message, a close reason) that a log line carries. */
export const PREVIEW_CHARS = 200;

/** `text` cut to `max` characters, marked when cut: what peers send never grows a log line unbounded. */
export function preview(text: unknown, max = PREVIEW_CHARS): string {
  const s = typeof text === 'string' ? text : String(text);
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
}
