import { Counter, Histogram, Registry } from 'prom-client';
import { CellCounter, CellHistogram } from 'src/modules/metrics/cell-metrics';

const BUCKETS = [0.01, 0.1, 1];
const OBSERVED = [
  ['a', 0.005],
  ['a', 0.1],
  ['b', 0.5],
  ['a', 3],
  ['b', 0.01],
] as const;

/** The exposition text of one metric fed the same values through prom-client and through cells. */
async function bothWays(
  feed: (
    native: { counter: Counter<'model'>; histogram: Histogram<'model'> },
    cells: { counter: CellCounter<'model'>; histogram: CellHistogram<'model'> },
  ) => void,
) {
  const nativeRegistry = new Registry();
  const cellRegistry = new Registry();
  const config = (registry: Registry) => ({
    labelNames: ['model'] as const,
    registers: [registry],
  });
  const native = {
    counter: new Counter({ name: 'c_total', help: 'c', ...config(nativeRegistry) }),
    histogram: new Histogram({ name: 'h', help: 'h', buckets: BUCKETS, ...config(nativeRegistry) }),
  };
  const cells = {
    counter: new CellCounter({ name: 'c_total', help: 'c', ...config(cellRegistry) }),
    histogram: new CellHistogram({
      name: 'h',
      help: 'h',
      buckets: BUCKETS,
      ...config(cellRegistry),
    }),
  };
  feed(native, cells);
  return {
    native: await nativeRegistry.metrics(),
    cells: await cellRegistry.metrics(),
    cells2: cells,
  };
}

describe('CellCounter and CellHistogram', () => {
  it('export exactly what prom-client exports for the same increments and observations', async () => {
    const { native, cells } = await bothWays((n, c) => {
      for (const [model, value] of OBSERVED) {
        n.counter.labels(model).inc(2);
        n.histogram.labels(model).observe(value);
        c.counter.cell(model).inc(2);
        c.histogram.cell(model).observe(value);
      }
    });
    expect(cells).toBe(native);
    expect(cells).toContain('h_bucket{le="0.1",model="a"} 2');
    expect(cells).toContain('c_total{model="b"} 4');
  });

  it('hand out one cell per label set, and zero them on reset', async () => {
    const { cells2 } = await bothWays(() => undefined);
    const cell = cells2.counter.cell('a');
    expect(cells2.counter.cell('a')).toBe(cell);
    cell.inc(5);
    cells2.histogram.cell('a').observe(0.5);
    cells2.counter.reset();
    cells2.histogram.reset();
    const values = (await cells2.counter.get()).values;
    expect(values).toEqual([{ labels: { model: 'a' }, value: 0 }]);
    expect(cells2.histogram.cell('a').count).toBe(0);
  });

  it('refuses a cell with the wrong number of label values', () => {
    const counter = new CellCounter({
      name: 'x_total',
      help: 'x',
      labelNames: ['model'],
      registers: [],
    });
    expect(() => counter.cell('a', 'b')).toThrow('x_total: expected labels model');
  });
});
