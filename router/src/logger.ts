// Structured JSON logs (pino). One root logger per router; tests pass a
// silent one.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(level: string = process.env.CLAWGATE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'clawgate-router' } });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
