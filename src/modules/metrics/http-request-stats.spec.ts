import { Registry } from 'prom-client';
import {
  HttpDurationHistogram,
  HttpRequestStats,
  HttpRequestsCounter,
  UNMATCHED_ROUTE,
} from 'src/modules/metrics/http-request-stats';
import { parseMetrics } from 'test/support/metrics';

function setUp() {
  const stats = new HttpRequestStats(new Set(['/healthz']), [0.01, 0.1, 1]);
  const registry = new Registry();
  const counter = new HttpRequestsCounter({
    name: 'requests_total',
    help: 'h',
    labelNames: ['route', 'method', 'status_class'],
    registers: [registry],
  });
  const histogram = new HttpDurationHistogram({
    name: 'duration_seconds',
    help: 'h',
    labelNames: ['route', 'method'],
    buckets: [0.01, 0.1, 1],
    registers: [registry],
  });
  counter.feedFrom(stats);
  histogram.feedFrom(stats);
  return { stats, registry };
}

describe(HttpRequestStats.name, () => {
  it('gives one cell per route template, the unmatched cell for no route, and marks exempt routes', () => {
    const { stats } = setUp();
    expect(stats.cellFor('/healthz')).toBe(stats.cellFor('/healthz'));
    expect(stats.cellFor('/healthz').isShedExempt).toBe(true);
    expect(stats.cellFor('/c1/conversations/:id').isShedExempt).toBe(false);
    expect(stats.cellFor(undefined)).toBe(stats.unmatched);
    expect(stats.unmatched.route).toBe(UNMATCHED_ROUTE);
  });

  it('exports counts by status class and cumulative latency buckets in Prometheus text', async () => {
    const { stats, registry } = setUp();
    const cell = stats.cellFor('/v1/chat/completions');
    cell.record('POST', 200, false, 0.005);
    cell.record('POST', 201, false, 0.05);
    cell.record('POST', 503, false, 0.5);
    cell.record('POST', 200, true, 5);
    stats.cellFor(undefined).record('GET', 404, false, 0.001);

    const scrape = parseMetrics(await registry.metrics());
    const route = { route: '/v1/chat/completions', method: 'POST' };
    expect(scrape.samples.filter((s) => s.name === 'requests_total')).toEqual([
      { name: 'requests_total', labels: { ...route, status_class: '2xx' }, value: 2 },
      { name: 'requests_total', labels: { ...route, status_class: '5xx' }, value: 1 },
      { name: 'requests_total', labels: { ...route, status_class: 'aborted' }, value: 1 },
      {
        name: 'requests_total',
        labels: { route: 'unmatched', method: 'GET', status_class: '4xx' },
        value: 1,
      },
    ]);
    const buckets = scrape.samples
      .filter((s) => s.name === 'duration_seconds_bucket' && s.labels.route === route.route)
      .map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([
      ['0.01', 1],
      ['0.1', 2],
      ['1', 3],
      ['+Inf', 4],
    ]);
    expect(scrape.value('duration_seconds_count', route)).toBe(4);
    expect(scrape.value('duration_seconds_sum', route)).toBeCloseTo(5.555, 6);
  });

  it('exports nothing before any request', async () => {
    const { registry } = setUp();
    const scrape = parseMetrics(await registry.metrics());
    expect(scrape.samples).toEqual([]);
    expect(scrape.text).toContain('# TYPE requests_total counter');
    expect(scrape.text).toContain('# TYPE duration_seconds histogram');
  });
});
