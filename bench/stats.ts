/** Small statistics helpers for the benchmark (no dependency, exact on the samples given). */

/** A growable list of float samples (latencies in ms), cheap to append to. */
export class Samples {
  private data = new Float64Array(1024);
  private size = 0;

  add(value: number): void {
    if (this.size === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }

  get count(): number {
    return this.size;
  }

  /** Percentiles (0-100) by nearest rank; null when there are no samples. */
  summary(): LatencySummary | null {
    if (this.size === 0) {
      return null;
    }
    const sorted = this.data.slice(0, this.size).sort();
    const at = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
    let sum = 0;
    for (const v of sorted) {
      sum += v;
    }
    return {
      count: sorted.length,
      mean: sum / sorted.length,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      max: sorted[sorted.length - 1],
    };
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function median(values: (number | null | undefined)[]): number | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) {
    return null;
  }
  v.sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function sum(values: (number | null | undefined)[]): number {
  return values.reduce<number>((acc, v) => acc + (typeof v === 'number' ? v : 0), 0);
}
