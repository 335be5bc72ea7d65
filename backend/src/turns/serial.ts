// One task at a time per key (a machine): an owner's work for one machine
// (its refresh, timers, node events, presence changes) never interleaves
// with another task for the same machine, while machines run side by side.
// A task that throws is handed to `failed` and the chain goes on.
export class KeyedSerial {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly failed: (key: string, err: unknown) => void) {}

  run(key: string, task: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(key) ?? Promise.resolve()).then(task).catch((e: unknown) => this.failed(key, e));
    this.chains.set(key, next);
    void next.then(() => { if (this.chains.get(key) === next) this.chains.delete(key); });
    return next;
  }

  /** Resolves when every task queued so far has run. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
  }
}
