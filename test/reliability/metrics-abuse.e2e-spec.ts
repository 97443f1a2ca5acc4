import { expectApiError } from 'test/support/expect-api-error';
import { GatewayResponse, startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * Issue #22 item 4: /metrics was public, unthrottled and rendered on every scrape (~2.3 ms of
 * CPU each): 16 connections of scrapes pushed /v1 latency from 5 to 140-250 ms. A wrong
 * METRICS_TOKEN cost nothing to guess.
 */
describe('/metrics is cached and throttled (#22 item 4)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({
      env: { METRICS_CACHE_SECS: '1', METRICS_SCRAPES_PER_SECOND: '2' },
    });
  });
  afterAll(() => gw.close());

  it('renders at most once a second: scrapes in between get the same text', async () => {
    const first = await gw.get('/metrics', { key: null });
    for (let i = 0; i < 3; i++) {
      expect((await gw.get('/healthz', { key: null })).status).toBe(200);
    }
    const second = await gw.get('/metrics', { key: null });
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    await new Promise((r) => setTimeout(r, 1_100));
    const third = await gw.get('/metrics', { key: null });
    expect(third.text).not.toBe(first.text);
  });

  it('answers 429 rate_limit_exceeded with retry-after beyond the per-address budget', async () => {
    const statuses: number[] = [];
    let refused: GatewayResponse | null = null;
    for (let i = 0; i < 30; i++) {
      const res = await gw.get('/metrics', { key: null });
      statuses.push(res.status);
      if (res.status === 429) {
        refused = res;
      }
    }
    // A burst of 10 (less what the first test used, plus its refill), then refused.
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(13);
    if (refused === null) {
      throw new Error(`no scrape was refused: ${statuses.join(',')}`);
    }
    expectApiError(refused, 429, 'rate_limit_exceeded', { param: null });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await gw.get('/healthz', { key: null })).status).toBe(200);
  });
});

describe('a wrong METRICS_TOKEN is a failed authentication (#22 item 4)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({
      env: { METRICS_TOKEN: 'metrics-secret-0123456789', AUTH_FAILURES_PER_MINUTE: '5' },
    });
  });
  afterAll(() => gw.close());

  it('throttles an address guessing the token, also for API-key routes', async () => {
    const good = { authorization: 'Bearer metrics-secret-0123456789' };
    expect((await gw.get('/metrics', { key: null, headers: good })).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      const res = await gw.get('/metrics', {
        key: null,
        headers: { authorization: `Bearer guess-${i}` },
      });
      expectApiError(res, 401, 'invalid_authorization', { param: null });
    }
    const blocked = await gw.get('/metrics', {
      key: null,
      headers: { authorization: 'Bearer guess-6' },
    });
    expectApiError(blocked, 429, 'rate_limit_exceeded', { param: null });
    // The same address guessing API keys is throttled too: one budget of failures.
    expectApiError(
      await gw.get('/v1/models', { key: 'pk-wrong-0123456789abcdef0123456789' }),
      429,
      'rate_limit_exceeded',
    );
    // The right token still works from a throttled address.
    expect((await gw.get('/metrics', { key: null, headers: good })).status).toBe(200);
  });
});
