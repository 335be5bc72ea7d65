// Deletes guest rows nobody uses any more: not seen (POST /api/session) for
// guests.expireAfterSeconds, not in any queue (which includes a running turn),
// and with no session on the router now. Each sweep walks the candidates
// oldest first in steps of guests.sweepBatch rows, one short transaction per
// step, yielding to the event loop between steps, so a million stale rows
// never hold the loop for long. Sweeps run every guests.sweepIntervalSeconds,
// and only while the backend is connected: presence is unknown otherwise.
import type { Repository } from '../db/repository.js';
import type { Logger } from '../logger.js';

export interface SweepOptions {
  expireAfterSeconds: number;
  sweepIntervalSeconds: number;
  sweepBatch: number;
}

export interface SweepContext {
  /** False while presence is unknown (not connected to the router): nothing is swept then. */
  ready(): boolean;
  /** A session with this authid is on the router now. */
  present(authid: string): boolean;
}

export class GuestSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  /** Rows deleted since start. */
  deleted = 0;

  constructor(
    private readonly repo: Repository,
    private readonly o: SweepOptions,
    private readonly ctx: SweepContext,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One whole sweep (all steps); resolves with the rows it deleted. A sweep already running is joined. */
  sweep(): Promise<number> {
    this.running ??= this.run().finally(() => { this.running = undefined; });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => { void this.sweep().finally(() => this.schedule()); }, this.o.sweepIntervalSeconds * 1000);
    this.timer.unref();
  }

  private async run(): Promise<number> {
    const cutoff = this.now() - this.o.expireAfterSeconds * 1000;
    let cursor = { updatedAt: -1, authid: '' };
    let deleted = 0;
    for (;;) {
      if (this.stopped || !this.ctx.ready()) break;
      const rows = await this.repo.staleGuests(cutoff, cursor, this.o.sweepBatch);
      if (rows.length === 0) break;
      cursor = rows[rows.length - 1]!;
      const gone = rows.filter((r) => !this.ctx.present(r.authid));
      deleted += await this.repo.tx(async (t) => {
        let n = 0;
        for (const r of gone) if (await t.deleteGuest(r.authid, cutoff)) n++;
        return n;
      });
      if (rows.length < this.o.sweepBatch) break;
      await new Promise<void>((r) => setImmediate(r));
    }
    this.deleted += deleted;
    if (deleted > 0) this.log.info({ deleted, olderThan: new Date(cutoff).toISOString() }, 'unused guest rows deleted');
    return deleted;
  }
}
