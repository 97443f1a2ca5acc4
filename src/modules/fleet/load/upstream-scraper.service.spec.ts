import { loadConfig } from 'src/config/load-config';
import { systemClock } from 'src/common/time/clock';
import { MetricsFetcher, MetricsFetchError } from 'src/modules/fleet/load/metrics-fetcher';
import { UpstreamLoadBook } from 'src/modules/fleet/load/upstream-load.book';
import { UpstreamScraperService } from 'src/modules/fleet/load/upstream-scraper.service';
import { ModelCatalog } from 'src/modules/models/model-catalog';

const GOOD = 'vllm:num_requests_running 2.0\nvllm:num_requests_waiting 1.0\n';
const flush = () => new Promise((r) => setImmediate(r));

function setup(urls: { url: string; metrics_url?: string | false; format?: string }[]) {
  const config = loadConfig({ FLEET_SCRAPE_SECS: '1' });
  const catalog = new ModelCatalog({
    source: 'test',
    models: [
      {
        alias: 'm',
        constraints: {} as never,
        upstreams: urls.map((u, i) => ({
          id: `m#${i}`,
          url: u.url,
          format: (u.format ?? 'openai') as 'openai',
          model: 'x',
          apiKeyEnv: null,
          apiKey: i === 0 ? 'sk-upstream' : null,
          ...(u.metrics_url === undefined ? {} : { metricsUrl: u.metrics_url }),
        })),
      },
    ],
  });
  const book = new UpstreamLoadBook(config);
  const fetch = jest.fn<ReturnType<MetricsFetcher['fetch']>, Parameters<MetricsFetcher['fetch']>>();
  const scraper = new UpstreamScraperService(config, catalog, book, {
    fetch,
  } as unknown as MetricsFetcher);
  return { book, fetch, scraper };
}

describe(UpstreamScraperService.name, () => {
  it('reads each metrics URL once, vLLM /metrics at the origin by default', async () => {
    const { fetch, scraper, book } = setup([
      { url: 'http://gpu1:8000/v1' },
      { url: 'http://gpu1:8000/v1' },
      { url: 'http://gpu2:8000/v1', metrics_url: 'http://gpu2:9100/custom' },
      { url: 'http://gpu3:8000/v1', metrics_url: false },
      { url: 'https://api.anthropic.com/v1', format: 'anthropic' },
      { url: 'http://ollama:11434/v1' },
    ]);
    fetch.mockResolvedValue({ status: 200, text: GOOD });
    scraper.tick(0);
    await flush();
    expect(fetch.mock.calls.map(([url, o]) => [url, o.authorization])).toEqual([
      ['http://gpu1:8000/metrics', 'Bearer sk-upstream'],
      ['http://gpu1:8000/metrics', null],
      ['http://gpu2:9100/custom', null],
      ['http://ollama:11434/api/ps', null],
    ]);
    expect(book.get('m#0').waiting).toBe(1);
  });

  it('keeps the last good figures after a failure and backs off exponentially', async () => {
    const { fetch, scraper, book } = setup([{ url: 'http://gpu1:8000/v1' }]);
    fetch.mockResolvedValueOnce({ status: 200, text: GOOD });
    scraper.tick(0);
    await flush();
    const goodAt = book.get('m#0').scrapedAt;

    fetch.mockRejectedValue(new MetricsFetchError('no answer within 1000 ms', false));
    const attempts: number[] = [];
    for (let t = 1_000; t <= 16_000; t += 1_000) {
      const before = fetch.mock.calls.length;
      scraper.tick(systemClock() + t);
      await flush();
      if (fetch.mock.calls.length > before) {
        attempts.push(t);
      }
    }
    expect(attempts.length).toBeLessThan(8);
    expect(book.get('m#0')).toMatchObject({
      waiting: 1,
      scrapedAt: goodAt,
      lastError: 'no answer within 1000 ms',
    });
  });

  it('counts a lying answer as a failure: NaN changes only last_error', async () => {
    const { fetch, scraper, book } = setup([{ url: 'http://gpu1:8000/v1' }]);
    fetch.mockResolvedValueOnce({ status: 200, text: GOOD });
    scraper.tick(0);
    await flush();
    fetch.mockResolvedValueOnce({ status: 200, text: GOOD.replace('1.0', 'NaN') });
    scraper.tick(systemClock() + 5_000);
    await flush();
    expect(book.get('m#0')).toMatchObject({ waiting: 1, lastError: expect.stringMatching(/NaN/) });
  });
});
