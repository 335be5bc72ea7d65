// A histogram of durations by one label, counted in plain arrays. It replaces
// prom-client's Histogram on the call path: that one validates and hashes the
// label set on every observation, which cost more than the dealer's own work
// per call (bench/router-path.js). Here an observation is a short scan of
// the bounds and three increments; the Prometheus form is built only when
// scraped. It is registered into a prom-client Registry as it is (the
// registry needs `name` and `get()`), so the exposition format stays
// prom-client's.

interface Series {
  /** Per bucket, not cumulative; the last slot counts values above every bound (+Inf). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One sample line as prom-client's registry formats it. */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export class LatencyHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<L, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    /** Upper bounds in seconds, ascending. */
    private readonly bounds: readonly number[],
  ) {}

  observe(label: L, seconds: number): void {
    let s = this.series.get(label);
    if (s === undefined) {
      s = { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(label, s);
    }
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    s.counts[i]! += 1;
    s.sum += seconds;
    s.count += 1;
  }

  /** What prom-client's Registry reads at each scrape: cumulative buckets, sum and count per label. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    for (const [label, s] of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
        values.push({ labels: { le, [this.labelName]: label }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { [this.labelName]: label }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}
