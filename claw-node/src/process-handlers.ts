// Process-level exit paths of the CLI: SIGTERM/SIGINT stop the node cleanly
// (release, publish offline, leave); an uncaught error releases every output
// synchronously first, then exits non-zero so systemd restarts the node.
import type { EventEmitter } from 'node:events';

export interface Releasable {
  releaseNow(): boolean;
  stop(): Promise<void>;
}

export interface ProcessLike extends Pick<EventEmitter, 'on' | 'off'> {
  exit(code: number): void;
}

export function installProcessHandlers(
  node: Releasable,
  proc: ProcessLike,
  log: (level: 'info' | 'error' | 'fatal', msg: string, extra?: Record<string, unknown>) => void,
  onStopping: () => void = () => {},
): () => void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) { node.releaseNow(); proc.exit(1); return; } // second signal: do not wait any more
    stopping = true;
    node.releaseNow();
    onStopping();
    log('info', `${signal}: stopping`);
    node.stop().then(() => proc.exit(0), (e: unknown) => { log('error', 'stop failed', { err: String(e) }); proc.exit(1); });
  };
  const onFatal = (e: unknown) => {
    const released = node.releaseNow();
    log('fatal', 'uncaught error; outputs released, exiting', { err: e instanceof Error ? e.stack ?? e.message : String(e), released });
    proc.exit(1);
  };
  const term = () => onSignal('SIGTERM');
  const int = () => onSignal('SIGINT');
  proc.on('SIGTERM', term);
  proc.on('SIGINT', int);
  proc.on('uncaughtException', onFatal);
  proc.on('unhandledRejection', onFatal);
  return () => {
    proc.off('SIGTERM', term);
    proc.off('SIGINT', int);
    proc.off('uncaughtException', onFatal);
    proc.off('unhandledRejection', onFatal);
  };
}
