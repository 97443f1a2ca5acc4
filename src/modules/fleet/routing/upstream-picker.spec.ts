import { loadConfig } from 'src/config/load-config';
import { systemClock } from 'src/common/time/clock';
import { UpstreamLoadBook } from 'src/modules/fleet/load/upstream-load.book';
import { PickCandidate, UpstreamPicker } from 'src/modules/fleet/routing/upstream-picker';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { CatalogUpstream } from 'src/kernel/catalog-model';
import { UpstreamHealthBook } from 'src/modules/models/upstream-health';

const upstream = (i: number): CatalogUpstream => ({
  id: `m#${i}`,
  url: `http://10.0.0.${i}:8000/v1`,
  format: 'openai',
  model: 'x',
  apiKeyEnv: null,
  apiKey: null,
});

function setup() {
  const config = loadConfig({ FLEET_SCRAPE_SECS: '5', FLEET_AFFINITY_QUEUE_MARGIN: '4' });
  const book = new UpstreamLoadBook(config);
  const health = new UpstreamHealthBook();
  const metrics = new MetricsService();
  const picker = new UpstreamPicker(config, book, health, metrics);
  const candidates: (PickCandidate & { inFlight: number })[] = [0, 1, 2].map((i) => ({
    upstream: upstream(i),
    inFlight: 0,
  }));
  const setLoads = (waiting: (number | null)[], kv = [0.1, 0.1, 0.1], at = systemClock()) =>
    waiting.forEach((w, i) => {
      if (w !== null) {
        book.record(
          `m#${i}`,
          {
            running: 0,
            waiting: w,
            kvCacheUsage: kv[i],
            prefixCacheHitRate: null,
            ttftP50Ms: null,
          },
          at,
        );
      }
    });
  const pick = (affinityKey?: string, exclude: PickCandidate | null = null) =>
    candidates.indexOf(picker.pick('m', candidates, exclude, { affinityKey }));
  const reasons = async () =>
    (await metrics.registry.getSingleMetric('parley_upstream_picks_total')!.get()).values.map(
      (v) => [v.labels.reason, v.value],
    );
  return { book, health, candidates, setLoads, pick, reasons };
}

describe(UpstreamPicker.name, () => {
  it('prefers the shortest queue, then less KV-cache use, then fewer own requests', () => {
    const { setLoads, pick, candidates } = setup();
    setLoads([3, 1, 2]);
    expect(pick()).toBe(1);
    setLoads([1, 1, 1], [0.5, 0.31, 0.33]);
    // 0.31 and 0.33 are one KV step: Parley's own in-flight count decides.
    candidates[1].inFlight = 2;
    expect(pick()).toBe(2);
  });

  it('keeps a conversation home within the margin, moves it past it, and brings it back', async () => {
    const { setLoads, pick, reasons } = setup();
    setLoads([0, 3, 3]);
    expect(pick('conv-1')).toBe(0);
    setLoads([4, 0, 0]);
    expect(pick('conv-1')).toBe(0);
    setLoads([5, 0, 0]);
    expect(pick('conv-1')).not.toBe(0);
    setLoads([1, 0, 0]);
    expect(pick('conv-1')).toBe(0);
    expect(await reasons()).toEqual(
      expect.arrayContaining([
        ['least_loaded', 1],
        ['affinity', 2],
        ['affinity_overflow', 1],
      ]),
    );
  });

  it('moves a conversation off a home that refused connections, or that failed this attempt', () => {
    const { setLoads, pick, health, candidates } = setup();
    setLoads([0, 1, 1]);
    expect(pick('conv-2')).toBe(0);
    expect(pick('conv-2', candidates[0])).not.toBe(0);
    health.markDown('m#0', 'upstream_unavailable');
    expect(pick('conv-2')).not.toBe(0);
  });

  it('balances as before when any upstream lacks fresh figures', async () => {
    const { setLoads, pick, candidates, reasons } = setup();
    setLoads([0, 9, null]);
    candidates[0].inFlight = 5;
    candidates[2].inFlight = 5;
    // Least in flight wins, whatever the (partial) queues say.
    expect(pick()).toBe(1);
    // Stale figures are not figures.
    setLoads([0, 9, 9], undefined, systemClock() - 16_000);
    expect(pick()).toBe(1);
    expect(await reasons()).toEqual([['no_figures', 2]]);
  });

  it('gives a conversation the same upstream every time without figures (its hash)', () => {
    const { pick } = setup();
    const first = pick('conv-3');
    for (let i = 0; i < 5; i++) {
      expect(pick('conv-3')).toBe(first);
    }
  });
});
