import { MetricsService } from 'src/modules/metrics/metrics.service';
import { expectApiError } from 'test/support/expect-api-error';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import {
  BlackHoleListener,
  FaultProxy,
  startBlackHoleListener,
  startFaultProxy,
} from 'test/support/fault-proxy';
import { dataEvents, postSse } from 'test/support/sse-reader';
import {
  GatewayResponse,
  startGateway,
  TEST_API_KEY,
  TestGateway,
} from 'test/support/start-gateway';
import { sleep } from 'test/support/time';

/**
 * Transport faults between the gateway and its model server, injected by a TCP proxy (issue
 * #11): for each, the status and code, the exact number of upstream attempts (a connect failure
 * is retried once, never more, also under 500 concurrent requests), no wait past the configured
 * timeouts, and no connection left open afterwards.
 */
const CONNECT_TIMEOUT_MS = 400;
const FIRST_BYTE_TIMEOUT_MS = 2000;
const CONCURRENCY = 500;
const ask = (model: string, extra: object = {}) => ({
  model,
  messages: [{ role: 'user', content: 'hello there' }],
  ...extra,
});

describe('upstream transport faults (fault proxy)', () => {
  let up: FakeUpstream;
  let proxy: FaultProxy;
  let hole: BlackHoleListener;
  let gw: TestGateway;

  const attempts = async (model: string): Promise<number> => {
    const metric = await gw.app.get(MetricsService).upstreamAttempts.get();
    return metric.values
      .filter((v) => v.labels.model === model)
      .reduce((sum, v) => sum + v.value, 0);
  };
  /** Runs `n` requests at once; their responses and the slowest one's duration. */
  const burst = async (n: number, model: string) => {
    const started = Date.now();
    const responses = await Promise.all(
      Array.from({ length: n }, () => gw.post('/v1/chat/completions', ask(model))),
    );
    return { responses, elapsedMs: Date.now() - started };
  };
  const statusesOf = (responses: GatewayResponse[]) =>
    responses.reduce<Record<string, number>>((acc, r) => {
      const key = `${r.status} ${r.body?.error?.code ?? 'ok'}`;
      acc[key] = (acc[key] ?? 0) + 1;
      return acc;
    }, {});
  /** Waits (bounded) until the proxy holds no connection on either side. */
  const noConnectionsLeft = async (withinMs = 3000) => {
    const deadline = Date.now() + withinMs;
    while (Date.now() < deadline) {
      const open = proxy.open();
      if (open.client === 0 && open.upstream === 0 && up.openSockets() === 0) {
        break;
      }
      await sleep(25);
    }
    expect({ ...proxy.open(), fake: up.openSockets() }).toEqual({
      client: 0,
      upstream: 0,
      fake: 0,
    });
  };

  beforeAll(async () => {
    up = await startFakeUpstream({ streamChunks: 200, answer: 'x'.repeat(8000) });
    proxy = await startFaultProxy(up.port);
    hole = await startBlackHoleListener();
    const entry = (alias: string, url: string) => ({
      alias,
      upstreams: [{ url, format: 'openai', model: 'fake-model' }],
      constraints: { max_output_tokens: 1024, context_window: 8192 },
    });
    gw = await startGateway({
      env: {
        HTTP_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
        HTTP_FIRST_BYTE_TIMEOUT_SECS: String(FIRST_BYTE_TIMEOUT_MS / 1000),
        HTTP_IDLE_TIMEOUT_SECS: '1',
        HTTP_TOTAL_TIMEOUT_SECS: '5',
        LOG_LEVEL: 'warn',
      },
      models: { models: [entry('proxied', proxy.url), entry('unreachable', hole.url)] },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([proxy?.close(), hole?.close(), up?.close()]);
  });
  afterEach(async () => {
    await proxy.setMode({ kind: 'pass' });
  });

  it('pass: 500 concurrent requests all answered, one attempt each, no connection kept past the keep-alive', async () => {
    await proxy.setMode({ kind: 'pass' });
    const before = { attempts: await attempts('proxied'), seen: up.received.length };
    const { responses } = await burst(CONCURRENCY, 'proxied');
    expect(statusesOf(responses)).toEqual({ [`200 ok`]: CONCURRENCY });
    expect((await attempts('proxied')) - before.attempts).toBe(CONCURRENCY);
    expect(up.received.length - before.seen).toBe(CONCURRENCY);
    // Idle pooled connections are released by the upstream's keep-alive timeout (5 s).
    await noConnectionsLeft(8000);
  }, 30_000);

  it('refuse: 503 upstream_unavailable after exactly two attempts, also 500 at once', async () => {
    await proxy.setMode({ kind: 'refuse' });
    const before = { attempts: await attempts('proxied'), seen: up.received.length };
    const one = await gw.post('/v1/chat/completions', ask('proxied'));
    expectApiError(one, 503, 'upstream_unavailable', { param: null });
    expect(one.headers.get('retry-after')).toBe('5');
    expect((await attempts('proxied')) - before.attempts).toBe(2);

    const { responses, elapsedMs } = await burst(CONCURRENCY, 'proxied');
    expect(statusesOf(responses)).toEqual({ '503 upstream_unavailable': CONCURRENCY });
    expect((await attempts('proxied')) - before.attempts).toBe(2 + 2 * CONCURRENCY);
    expect(up.received.length - before.seen).toBe(0);
    expect(elapsedMs).toBeLessThan(15_000);
    await noConnectionsLeft();
  }, 30_000);

  it('connect never completes: 503 after two connect timeouts, never later, also 500 at once', async () => {
    const before = await attempts('unreachable');
    const started = Date.now();
    const one = await gw.post('/v1/chat/completions', ask('unreachable'));
    const elapsed = Date.now() - started;
    expectApiError(one, 503, 'upstream_unavailable', { param: null });
    expect((await attempts('unreachable')) - before).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(2 * CONNECT_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(2 * CONNECT_TIMEOUT_MS + 3000);

    const { responses, elapsedMs } = await burst(CONCURRENCY, 'unreachable');
    expect(statusesOf(responses)).toEqual({ '503 upstream_unavailable': CONCURRENCY });
    expect((await attempts('unreachable')) - before).toBe(2 + 2 * CONCURRENCY);
    expect(elapsedMs).toBeLessThan(2 * CONNECT_TIMEOUT_MS + 10_000);
  }, 30_000);

  it('black hole (accepts, never answers): 504 upstream_timeout after the first-byte timeout, one attempt, also 500 at once', async () => {
    await proxy.setMode({ kind: 'blackhole' });
    const before = { attempts: await attempts('proxied'), accepted: proxy.accepted() };
    const started = Date.now();
    const one = await gw.post('/v1/chat/completions', ask('proxied'));
    const elapsed = Date.now() - started;
    expectApiError(one, 504, 'upstream_timeout', { param: null });
    expect(elapsed).toBeGreaterThanOrEqual(FIRST_BYTE_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(FIRST_BYTE_TIMEOUT_MS + 3000);

    const { responses, elapsedMs } = await burst(CONCURRENCY, 'proxied');
    expect(statusesOf(responses)).toEqual({ '504 upstream_timeout': CONCURRENCY });
    // A timeout is never retried: one attempt, one connection per request.
    expect((await attempts('proxied')) - before.attempts).toBe(1 + CONCURRENCY);
    expect(proxy.accepted() - before.accepted).toBe(1 + CONCURRENCY);
    expect(elapsedMs).toBeLessThan(FIRST_BYTE_TIMEOUT_MS + 10_000);
    // The gateway closed every connection it gave up on.
    await noConnectionsLeft();
  }, 30_000);

  it('reset inside the status line: counted as a connect failure, retried once → 503', async () => {
    await proxy.setMode({ kind: 'reset', afterBytes: 5 });
    const before = { attempts: await attempts('proxied'), seen: up.received.length };
    const res = await gw.post('/v1/chat/completions', ask('proxied'));
    expectApiError(res, 503, 'upstream_unavailable', { param: null });
    expect((await attempts('proxied')) - before.attempts).toBe(2);
    expect(up.received.length - before.seen).toBe(2);

    const { responses } = await burst(CONCURRENCY, 'proxied');
    expect(statusesOf(responses)).toEqual({ '503 upstream_unavailable': CONCURRENCY });
    expect((await attempts('proxied')) - before.attempts).toBe(2 + 2 * CONCURRENCY);
    await noConnectionsLeft();
  }, 30_000);

  it('reset inside a JSON answer body: 502 upstream_error, not retried', async () => {
    await proxy.setMode({ kind: 'reset', afterBytes: 400 });
    const before = { attempts: await attempts('proxied'), seen: up.received.length };
    const res = await gw.post('/v1/chat/completions', ask('proxied'));
    expectApiError(res, 502, 'upstream_error', { param: null });
    expect((await attempts('proxied')) - before.attempts).toBe(1);
    expect(up.received.length - before.seen).toBe(1);
    await noConnectionsLeft();
  });

  it('reset mid-stream: the stream ends with one upstream_error event and no [DONE], not retried', async () => {
    await proxy.setMode({ kind: 'reset', afterBytes: 6000 });
    const before = { attempts: await attempts('proxied'), seen: up.received.length };
    const res = await postSse(`${gw.url}/v1/chat/completions`, ask('proxied', { stream: true }), {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(res.status).toBe(200);
    const data = dataEvents(res);
    expect(data.length).toBeGreaterThan(5);
    expect(data).not.toContain('[DONE]');
    expect(data[data.length - 1]).toEqual({
      error: expect.objectContaining({ code: 'upstream_error', type: 'upstream_error' }),
    });
    expect((await attempts('proxied')) - before.attempts).toBe(1);
    expect(up.received.length - before.seen).toBe(1);
    await noConnectionsLeft();
  });

  it('delay below the first-byte timeout: answered intact; above it: 504 in time, one attempt', async () => {
    await proxy.setMode({ kind: 'delay', ms: 150 });
    const ok = await gw.post('/v1/chat/completions', ask('proxied'));
    expect(ok.status).toBe(200);
    expect(ok.body.choices[0].message.content).toBe('x'.repeat(8000));

    await proxy.setMode({ kind: 'delay', ms: FIRST_BYTE_TIMEOUT_MS + 700 });
    const before = await attempts('proxied');
    const started = Date.now();
    const late = await gw.post('/v1/chat/completions', ask('proxied'));
    const elapsed = Date.now() - started;
    expectApiError(late, 504, 'upstream_timeout', { param: null });
    expect(elapsed).toBeLessThan(FIRST_BYTE_TIMEOUT_MS + 3000);
    expect((await attempts('proxied')) - before).toBe(1);
  });
});
