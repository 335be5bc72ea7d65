// Structured logs: pino JSON lines on stdout, as the router and claw node.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ name: 'clawgate-backend', level });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
