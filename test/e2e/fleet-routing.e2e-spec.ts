import { HEADER } from 'src/common/http/headers';
import { openConstraints } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { parseMetrics } from 'test/support/metrics';
import { startGateway, TestGateway } from 'test/support/start-gateway';
import { waitFor as waitUntil } from 'test/support/time';

const SCRAPE_SECS = 0.2;

const waitFor = (check: () => Promise<boolean>, what: string) =>
  waitUntil(async () => (await check()) || undefined, { what });

describe('load-aware routing with conversation affinity', () => {
  let gw: TestGateway;
  let ups: FakeUpstream[];

  beforeAll(async () => {
    ups = await Promise.all([startFakeUpstream(), startFakeUpstream(), startFakeUpstream()]);
    for (const up of ups) {
      up.metrics = 'ok';
    }
    gw = await startGateway({
      env: { FLEET_SCRAPE_SECS: String(SCRAPE_SECS), FLEET_AFFINITY_QUEUE_MARGIN: '4' },
      models: {
        models: [
          {
            alias: 'fleet',
            upstreams: ups.map((u) => ({ url: u.url, format: 'openai', model: 'fake-model' })),
            constraints: openConstraints(),
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  const chats = (up: FakeUpstream) =>
    up.received.filter((r) => r.url.endsWith('/chat/completions')).length;

  /** Sends one /c1 turn and returns the conversation id and the index of the upstream that served it. */
  async function turn(conversationId?: string): Promise<{ id: string; served: number }> {
    const before = ups.map(chats);
    const res = await gw.post(
      '/c1/chat/completions',
      { model: conversationId ? undefined : 'fleet', messages: [{ role: 'user', content: 'hi' }] },
      { headers: conversationId ? { [HEADER.conversationId]: conversationId } : {} },
    );
    expect(res.status).toBe(200);
    const served = ups.findIndex((u, i) => chats(u) > before[i]);
    return { id: res.body.conversation_id as string, served };
  }

  /** Sets each upstream's queue and waits until the gateway has read the new figures. */
  async function setQueues(waiting: number[]) {
    waiting.forEach((w, i) => {
      ups[i].load.waiting = w;
      ups[i].load.kvCacheUsage = 0.2;
    });
    await waitFor(
      async () => {
        const res = await gw.admin('GET', '/api/gpu-stats');
        return waiting.every((w, i) => {
          const row = res.body.upstreams.find((u: any) => u.url === ups[i].url);
          return row && !row.stale && row.waiting === w;
        });
      },
      `queues ${waiting.join(',')}`,
    );
  }

  const picks = async (reason: string) =>
    parseMetrics((await gw.get('/metrics', { key: null })).text).value(
      'parley_upstream_picks_total',
      { model: 'fleet', reason },
    );

  it('publishes every upstream with fresh figures in GET /api/gpu-stats and /metrics', async () => {
    ups[0].load = { ...ups[0].load, running: 3, prefixQueries: 200, prefixHits: 150 };
    ups[0].load.ttftCounts = [10, 30, 40, 40, 40];
    await setQueues([2, 5, 7]);
    const res = await gw.admin('GET', '/api/gpu-stats');
    expect(res.body.upstreams[0]).toEqual({
      alias: 'fleet',
      url: ups[0].url,
      status: 'up',
      running: 3,
      waiting: 2,
      kv_cache_usage: 0.2,
      prefix_cache_hit_rate: expect.any(Number),
      ttft_p50_ms: expect.any(Number),
      scraped_at: expect.any(String),
      stale: false,
      last_error: null,
    });
    // 150 of 200 queries hit; the median (rank 20 of 40) lies in the 0.1-0.25 s bucket.
    expect(res.body.upstreams[0].prefix_cache_hit_rate).toBeCloseTo(0.75, 5);
    expect(res.body.upstreams[0].ttft_p50_ms).toBeGreaterThan(100);
    expect(res.body.upstreams[0].ttft_p50_ms).toBeLessThan(250);
    const scrape = parseMetrics((await gw.get('/metrics', { key: null })).text);
    expect(
      scrape.value('parley_upstream_requests_waiting', { model: 'fleet', upstream: ups[2].url }),
    ).toBe(7);
    expect(
      scrape.value('parley_upstream_requests_running', { model: 'fleet', upstream: ups[0].url }),
    ).toBe(3);
  });

  it('sends at least 80 % of new conversations to the least loaded upstream', async () => {
    for (const least of [1, 2]) {
      const queues = [6, 6, 6];
      queues[least] = 0;
      await setQueues(queues);
      const served: number[] = [];
      for (let i = 0; i < 20; i++) {
        served.push((await turn()).served);
      }
      expect(served.filter((s) => s === least).length).toBeGreaterThanOrEqual(16);
    }
  });

  it('keeps at least 95 % of follow-up turns on their upstream while loads are even', async () => {
    await setQueues([1, 1, 1]);
    const homes = new Map<string, number>();
    for (let i = 0; i < 12; i++) {
      const first = await turn();
      homes.set(first.id, first.served);
    }
    // Even loads spread new conversations (ties go round the upstreams by conversation hash).
    expect(new Set(homes.values()).size).toBeGreaterThan(1);
    let stayed = 0;
    let total = 0;
    for (let round = 0; round < 4; round++) {
      for (const [id, home] of homes) {
        const next = await turn(id);
        total++;
        stayed += next.served === home ? 1 : 0;
      }
    }
    expect(stayed / total).toBeGreaterThanOrEqual(0.95);
    expect(await picks('affinity')).toBeGreaterThanOrEqual(stayed);
  });

  it("moves a conversation while its upstream's queue runs away, and brings it back after", async () => {
    await setQueues([1, 1, 1]);
    const { id, served: home } = await turn();
    expect((await turn(id)).served).toBe(home);

    const overflowBefore = await picks('affinity_overflow');
    const runaway = [1, 1, 1];
    runaway[home] = 40;
    await setQueues(runaway);
    const moved = await turn(id);
    expect(moved.served).not.toBe(home);
    expect(await picks('affinity_overflow')).toBe(overflowBefore + 1);
    // The choice and its reason are on the request's log line.
    const line = gw.logs
      .filter((l) => l.msg === 'request' && l.route === '/c1/chat/completions')
      .pop();
    expect(line).toMatchObject({
      model: 'fleet',
      upstream: ups[moved.served].url,
      pick: 'affinity_overflow',
    });

    // Within the margin the conversation stays home even if another queue is shorter.
    const within = [5, 5, 5];
    within[home] = 9;
    await setQueues(within);
    expect((await turn(id)).served).toBe(home);

    await setQueues([1, 1, 1]);
    expect((await turn(id)).served).toBe(home);
  });

  it.each(['garbage', 'nan', 'negative'] as const)(
    'a metrics endpoint that lies (%s) changes nothing but staleness and last_error',
    async (lie) => {
      await setQueues([20, 0, 5]);
      ups[0].metrics = lie;
      // At once: the last good figures stay, and so does the choice they give.
      const first = await turn();
      expect(first.served).toBe(1);
      await waitFor(async () => {
        const res = await gw.admin('GET', '/api/gpu-stats');
        return res.body.upstreams[0].last_error !== null;
      }, 'last_error');
      const seen = (await gw.admin('GET', '/api/gpu-stats')).body.upstreams[0];
      expect(seen).toMatchObject({ waiting: 20, kv_cache_usage: 0.2 });
      // Three intervals on, the old figures are stale and no longer compared.
      await waitFor(async () => {
        const res = await gw.admin('GET', '/api/gpu-stats');
        return res.body.upstreams[0].stale === true;
      }, 'staleness');
      const stale = (await gw.admin('GET', '/api/gpu-stats')).body.upstreams[0];
      expect(stale).toMatchObject({ waiting: 20, stale: true, last_error: expect.any(String) });
      const fallbackBefore = await picks('no_figures');
      for (let i = 0; i < 6; i++) {
        await turn();
      }
      expect(await picks('no_figures')).toBe(fallbackBefore + 6);
      ups[0].metrics = 'ok';
      await setQueues([1, 1, 1]);
    },
  );

  it('a metrics endpoint that hangs only goes stale; requests keep flowing', async () => {
    await setQueues([0, 3, 3]);
    ups[0].metrics = 'hang';
    await waitFor(async () => {
      const res = await gw.admin('GET', '/api/gpu-stats');
      return res.body.upstreams[0].stale === true;
    }, 'staleness');
    const row = (await gw.admin('GET', '/api/gpu-stats')).body.upstreams[0];
    expect(row).toMatchObject({
      waiting: 0,
      stale: true,
      last_error: expect.stringMatching(/within/),
    });
    const started = Date.now();
    for (let i = 0; i < 6; i++) {
      await turn();
    }
    expect(Date.now() - started).toBeLessThan(5_000);
    ups[0].metrics = 'ok';
    await setQueues([1, 1, 1]);
  });
});

describe('load report header', () => {
  it("refreshes an upstream's figures from vLLM's endpoint-load-metrics answer header", async () => {
    const ups = await Promise.all([startFakeUpstream(), startFakeUpstream()]);
    const gw = await startGateway({
      env: { FLEET_SCRAPE_SECS: '2' },
      models: {
        models: [
          {
            alias: 'fleet',
            upstreams: ups.map((u) => ({ url: u.url, format: 'openai', model: 'fake-model' })),
            constraints: openConstraints(),
          },
        ],
      },
    });
    try {
      for (const up of ups) {
        up.metrics = 'off';
        up.loadReportHeader = true;
        up.load.waiting = 7;
        up.load.kvCacheUsage = 0.5;
      }
      for (let i = 0; i < 4; i++) {
        const res = await gw.post('/v1/chat/completions', {
          model: 'fleet',
          messages: [{ role: 'user', content: 'hi' }],
        });
        expect(res.status).toBe(200);
      }
      expect(
        ups.every((u) =>
          u.received.some((r) => r.headers['endpoint-load-metrics-format'] === 'text'),
        ),
      ).toBe(true);
      const rows = (await gw.admin('GET', '/api/gpu-stats')).body.upstreams;
      expect(rows.map((r: any) => [r.waiting, r.kv_cache_usage, r.stale])).toEqual([
        [7, 0.5, false],
        [7, 0.5, false],
      ]);
    } finally {
      await gw.close();
      await Promise.all(ups.map((u) => u.close()));
    }
  });
});
