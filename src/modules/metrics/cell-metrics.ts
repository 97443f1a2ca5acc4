import { Counter, CounterConfiguration, Histogram, HistogramConfiguration } from 'prom-client';

/** One label set of a `CellCounter`: a plain number. */
export class CounterCell {
  value = 0;

  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(amount = 1): void {
    this.value += amount;
  }
}

/** One label set of a `CellHistogram`: observations per bucket (not cumulative), sum, count. */
export class HistogramCell {
  /** The last slot is +Inf. */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly upperBounds: readonly number[],
  ) {
    this.buckets = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    let b = 0;
    while (b < bounds.length && value > bounds[b]) {
      b++;
    }
    this.buckets[b]++;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.buckets.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** The cells of one metric, one per label set, created on first use and kept. */
class Cells<C> {
  private readonly byKey = new Map<string, C>();

  constructor(
    private readonly metric: string,
    private readonly labelNames: readonly string[],
    private readonly create: (labels: Record<string, string>) => C,
  ) {}

  get(values: readonly string[]): C {
    const key = values.join('\u0000');
    let cell = this.byKey.get(key);
    if (cell === undefined) {
      if (values.length !== this.labelNames.length) {
        throw new Error(`${this.metric}: expected labels ${this.labelNames.join(', ')}`);
      }
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]));
      cell = this.create(labels);
      this.byKey.set(key, cell);
    }
    return cell;
  }

  values(): IterableIterator<C> {
    return this.byKey.values();
  }
}

/**
 * A prom-client Counter fed through cells (`cell(...labelValues)`, resolved once by the
 * caller): on the request path an increment is one addition, where prom-client's own child
 * validates and hashes its labels on every call (~0.1–0.3 µs, several per request). The
 * samples are built when scraped. For metrics with a few label sets incremented on every
 * request; use `cell()` only, not `inc()`/`labels()`.
 */
export class CellCounter<L extends string> extends Counter<L> {
  private readonly cells: Cells<CounterCell>;

  constructor(config: CounterConfiguration<L>) {
    super(config);
    this.cells = new Cells(config.name, config.labelNames ?? [], (l) => new CounterCell(l));
  }

  cell(...labelValues: string[]): CounterCell {
    return this.cells.get(labelValues);
  }

  override async get() {
    const metric = await super.get();
    const values = [...metric.values];
    for (const cell of this.cells.values()) {
      values.push({ labels: cell.labels as Partial<Record<L, string>>, value: cell.value });
    }
    return { ...metric, values };
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before the cells exist.
    for (const cell of this.cells?.values() ?? []) {
      cell.value = 0;
    }
  }
}

/** A bucket sample in prom-client's internal shape (`le` in labels, the rest shared). */
interface BucketSample {
  labels: { le?: number | string };
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
}

/** What a histogram series tallies: observations per bucket (the last slot +Inf), sum, count. */
export interface HistogramTally {
  readonly buckets: Float64Array;
  readonly sum: number;
  readonly count: number;
}

/**
 * A histogram's scrape result in prom-client's internal shape (what `getForPromString` returns),
 * built from tallies kept as plain numbers: cumulative buckets, `+Inf`, `_sum` and `_count` per
 * series. Shared by every histogram that keeps its own cells.
 */
export function histogramScrape(
  name: string,
  help: string,
  upperBounds: readonly number[],
  series: Iterable<{ labels: Readonly<Record<string, string>>; tally: HistogramTally }>,
) {
  const values: BucketSample[] = [];
  const bucket = `${name}_bucket`;
  for (const { labels: sharedLabels, tally } of series) {
    let cumulative = 0;
    for (let i = 0; i < upperBounds.length; i++) {
      cumulative += tally.buckets[i];
      values.push({
        labels: { le: upperBounds[i] },
        sharedLabels,
        value: cumulative,
        metricName: bucket,
      });
    }
    values.push(
      { labels: { le: '+Inf' }, sharedLabels, value: tally.count, metricName: bucket },
      { labels: {}, sharedLabels, value: tally.sum, metricName: `${name}_sum` },
      { labels: {}, sharedLabels, value: tally.count, metricName: `${name}_count` },
    );
  }
  return Promise.resolve({
    name,
    help,
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    values,
  });
}

/**
 * A prom-client Histogram fed through cells, like `CellCounter`: an observation is a bucket
 * search and three additions. The registry serialises histograms through `getForPromString`
 * and `get()` splays its samples (prom-client 15 internals, as `HttpDurationHistogram`), so
 * that is the one method that builds them. Use `cell()` only, not `observe()`/`labels()`.
 */
export class CellHistogram<L extends string> extends Histogram<L> {
  private readonly cells: Cells<HistogramCell>;
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: readonly number[];

  constructor(config: HistogramConfiguration<L> & { buckets: number[] }) {
    super(config);
    this.metricName = config.name;
    this.metricHelp = config.help;
    this.bounds = [...config.buckets];
    this.cells = new Cells(
      config.name,
      config.labelNames ?? [],
      (l) => new HistogramCell(l, this.bounds),
    );
  }

  cell(...labelValues: string[]): HistogramCell {
    return this.cells.get(labelValues);
  }

  getForPromString() {
    const series = [...this.cells.values()].map((cell) => ({ labels: cell.labels, tally: cell }));
    return histogramScrape(this.metricName, this.metricHelp, this.bounds, series);
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before the cells exist.
    for (const cell of this.cells?.values() ?? []) {
      cell.reset();
    }
  }
}
