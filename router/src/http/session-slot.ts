// The in-process session an HTTP path acts through: opened on first use and
// opened again if it ended (a `wamp.session.kill`, say), so the bridge keeps
// working without a router restart.
import type { LocalSession } from '../local-session.js';

export class SessionSlot {
  private session: LocalSession | undefined;
  private opening: Promise<LocalSession> | undefined;

  constructor(private readonly open: () => Promise<LocalSession>) {}

  get(): Promise<LocalSession> {
    if (this.session?.isOpen) return Promise.resolve(this.session);
    this.opening ??= this.open().then(
      (s) => { this.session = s; this.opening = undefined; return s; },
      (e: unknown) => { this.opening = undefined; throw e; },
    );
    return this.opening;
  }

  close(): void {
    if (this.session?.isOpen) this.session.close();
    this.session = undefined;
  }
}
