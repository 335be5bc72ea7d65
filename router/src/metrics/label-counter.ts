// A counter keyed by one label value, with a bound on how many distinct
// values it keeps. Label values such as error URIs come from clients
// (a callee picks its own error URIs), so without a bound a peer could grow
// the router's memory and every scrape without limit.

/** The label value that collects everything past the bound. */
export const OTHER_LABEL = 'other';

export class LabelCounter {
  private readonly counts = new Map<string, number>();

  constructor(readonly maxLabels = 200) {}

  inc(label: string, by = 1): void {
    const current = this.counts.get(label);
    if (current !== undefined) { this.counts.set(label, current + by); return; }
    const key = this.counts.size < this.maxLabels ? label : OTHER_LABEL;
    this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }

  get(label: string): number {
    return this.counts.get(label) ?? 0;
  }

  entries(): [string, number][] {
    return [...this.counts.entries()];
  }

  toObject(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
