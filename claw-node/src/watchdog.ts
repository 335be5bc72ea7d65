// systemd integration without a native module: `systemd-notify` (part of
// systemd) sends READY=1, STATUS= and WATCHDOG=1 for us. Because it is a
// child process, the unit needs NotifyAccess=all (docs/claw-node.md). The
// watchdog ping comes from a timer on our event loop, so a wedged loop stops
// the pings and systemd restarts the node (and the kernel's strict_gpiod
// behaviour returns the lines to inputs when the process dies).
import { execFile } from 'node:child_process';

export interface SystemdEnv { NOTIFY_SOCKET?: string; WATCHDOG_USEC?: string; WATCHDOG_PID?: string }

/** The ping interval systemd asks for (half of WatchdogSec), or undefined when no watchdog is set for us. */
export function watchdogIntervalMs(env: SystemdEnv, pid: number): number | undefined {
  if (!env.NOTIFY_SOCKET || !env.WATCHDOG_USEC) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  return Math.max(100, Math.floor(usec / 2000));
}

/** Sends one notification; may return a promise that settles when it has been sent. */
export type Notify = (...assignments: string[]) => unknown;

export function systemdNotify(log: (msg: string) => void): Notify {
  return (...assignments) => new Promise<void>((resolve) => {
    execFile('systemd-notify', assignments, { timeout: 5000 }, (err) => {
      if (err) log(`systemd-notify ${assignments.join(' ')} failed: ${err.message}`);
      resolve();
    });
  });
}

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  readonly enabled: boolean;
  // Each notification is a child process of its own, and children can finish
  // out of order on a loaded machine (a ping once reached systemd before
  // READY=1): they are sent one after another. A ping is skipped while the
  // last one is still on its way, so a hung systemd-notify (5 s timeout) never
  // piles them up.
  private chain: Promise<unknown> = Promise.resolve();
  private pinging = false;

  constructor(private readonly notify: Notify, private readonly env: SystemdEnv = process.env, private readonly pid = process.pid) {
    this.enabled = Boolean(env.NOTIFY_SOCKET);
  }

  /** READY=1 once, then WATCHDOG=1 at the interval systemd asked for. */
  start(): void {
    if (!this.enabled) return;
    this.send('--ready', 'STATUS=started');
    const every = watchdogIntervalMs(this.env, this.pid);
    if (every !== undefined) {
      this.timer = setInterval(() => {
        if (this.pinging) return;
        this.pinging = true;
        void this.send('WATCHDOG=1').then(() => { this.pinging = false; });
      }, every);
      this.timer.unref();
    }
  }

  status(text: string): void {
    if (this.enabled) this.send(`STATUS=${text}`);
  }

  stop(): void {
    clearInterval(this.timer);
    // At once, not behind a ping on its way: the process may be about to exit.
    if (this.enabled) this.notify('STOPPING=1');
  }

  private send(...assignments: string[]): Promise<unknown> {
    this.chain = this.chain.then(() => this.notify(...assignments)).catch(() => undefined);
    return this.chain;
  }
}
