// pino, as in the router: JSON lines on stdout (journald keeps them).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'clawgate-claw'): Logger {
  return pino({ name, level });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export { PREVIEW_CHARS, preview } from '@clawgate/runtime';
