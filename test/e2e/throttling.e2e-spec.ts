import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { expectApiError } from 'test/support/expect-api-error';
import {
  completionTokensFor,
  fakeAnswerFor,
  FakeUpstream,
  promptTokensFor,
  startFakeUpstream,
} from 'test/support/fake-upstream';
import { describeIfEnv } from 'test/support/describe-if-env';
import { startPrivateRedis } from 'test/support/private-redis';
import { createTestDatabase } from 'test/support/test-database';
import {
  createKey,
  GatewayResponse,
  startGateway,
  TestGateway,
  TEST_API_KEY,
} from 'test/support/start-gateway';

const catalogFor = (upstream: FakeUpstream) =>
  fakeModelCatalog(upstream.url, { maxOutputTokens: 4096, contextWindow: 32768 });

const chat = (text: string, extra: object = {}) => ({
  model: 'fake',
  messages: [{ role: 'user', content: text }],
  ...extra,
});

const rateHeaders = (res: GatewayResponse) => ({
  limit: res.headers.get('x-ratelimit-limit'),
  remaining: res.headers.get('x-ratelimit-remaining'),
  reset: res.headers.get('x-ratelimit-reset'),
});

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('rate limits', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({
      env: { RATE_LIMIT_PER_SECOND: '0', RATE_LIMIT_BURST: '5' },
      models: catalogFor(upstream),
    });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('puts the headers on every authenticated response, and none on public or refused ones', async () => {
    const { key } = await createKey(gw, {});
    const me = await gw.get('/v1/me', { key });
    expect(me.status).toBe(200);
    expect(rateHeaders(me)).toEqual({ limit: '5', remaining: '4', reset: '86400' });
    const notFound = await gw.get('/v1/no-such-route', { key });
    expect(rateHeaders(notFound)).toEqual({ limit: null, remaining: null, reset: null });
    const health = await gw.get('/healthz', { key: null });
    expect(rateHeaders(health)).toEqual({ limit: null, remaining: null, reset: null });
    const wrong = await gw.get('/v1/me', { key: `${key}x` });
    expect(wrong.status).toBe(401);
    expect(rateHeaders(wrong)).toEqual({ limit: null, remaining: null, reset: null });
    const invalid = await gw.post('/v1/chat/completions', { model: 'nope', messages: [] }, { key });
    expectApiError(invalid, 400, 'model_not_in_allowlist', { param: 'model' });
    expect(rateHeaders(invalid)).toEqual({ limit: '5', remaining: '3', reset: '86400' });
    const stream = await gw.post('/v1/chat/completions', chat('hi', { stream: true }), { key });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(rateHeaders(stream)).toEqual({ limit: '5', remaining: '2', reset: '86400' });
  });

  it('refuses an empty bucket with 429 rate_limit_exceeded and retry-after, before the upstream', async () => {
    const { key } = await createKey(gw, {});
    const before = upstream.received.length;
    const answers: GatewayResponse[] = [];
    for (let i = 0; i < 7; i++) {
      answers.push(await gw.post('/v1/chat/completions', chat(`n${i}`), { key }));
    }
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(upstream.received.length - before).toBe(5);
    for (const refused of answers.slice(5)) {
      expectApiError(refused, 429, 'rate_limit_exceeded', {
        param: null,
        message: 'Rate limit reached for this API key (bucket of 5); retry after 86400 s',
      });
      expect(refused.headers.get('retry-after')).toBe('86400');
      expect(rateHeaders(refused)).toEqual({ limit: '5', remaining: '0', reset: '86400' });
    }
    const metrics = gw.app.get(MetricsService);
    const refusals = (await metrics.refusals.get()).values.find(
      (v) => v.labels.code === 'rate_limit_exceeded',
    );
    expect(refusals?.value).toBeGreaterThanOrEqual(2);
  });

  it("applies the key's own rate_limit, with a retry-after of whole seconds", async () => {
    const { key } = await createKey(gw, { rate_limit: { per_second: 0.5, burst: 2 } });
    const answers: GatewayResponse[] = [];
    for (let i = 0; i < 3; i++) {
      answers.push(await gw.get('/v1/me', { key }));
    }
    expect(answers.map((r) => [r.status, rateHeaders(r)])).toEqual([
      [200, { limit: '2', remaining: '1', reset: '2' }],
      [200, { limit: '2', remaining: '0', reset: '4' }],
      [429, { limit: '2', remaining: '0', reset: '4' }],
    ]);
    expect(answers[2].headers.get('retry-after')).toBe('2');
  });

  it('does not limit operator routes by any key bucket', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await gw.admin('GET', '/api/keys');
      expect(res.status).toBe(200);
      expect(rateHeaders(res)).toEqual({ limit: null, remaining: null, reset: null });
    }
  });
});

describe('usage and quotas', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ models: catalogFor(upstream) });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  /** The fake upstream's `usage` block for each request it received from `index` on. */
  const usageSent = (from: number) =>
    upstream.received.slice(from).map((r) => ({
      prompt: promptTokensFor(r.body),
      completion: completionTokensFor(fakeAnswerFor(r.body)),
    }));

  it("records every answer's usage exactly as the upstream reported it, streams included", async () => {
    const { id, key } = await createKey(gw, {});
    const first = upstream.received.length;
    const json = await gw.post('/v1/chat/completions', chat('one two three'), { key });
    expect(json.status).toBe(200);
    const stream = await gw.post(
      '/v1/chat/completions',
      chat('a streamed answer', { stream: true }),
      { key },
    );
    expect(stream.text).toContain('data: [DONE]');
    await gw.post('/v1/chat/completions', chat('and a third, longer, question here'), { key });
    const sent = usageSent(first);
    expect(sent).toHaveLength(3);
    expect(upstream.received[first + 1].body.stream_options).toEqual({ include_usage: true });
    expect(json.body.usage).toMatchObject({
      prompt_tokens: sent[0].prompt,
      completion_tokens: sent[0].completion,
    });
    const prompt = sent.reduce((n, u) => n + u.prompt, 0);
    const completion = sent.reduce((n, u) => n + u.completion, 0);
    const today = utcDay(Date.now());
    const row = {
      key_id: id,
      model: 'fake',
      day: today,
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      requests: 3,
    };
    const totals = {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      requests: 3,
    };

    const mine = await gw.get('/v1/usage', { key });
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual({
      object: 'list',
      key_id: id,
      data: [row],
      has_more: false,
      totals,
      quota: null,
    });
    const admin = await gw.admin('GET', `/api/usage?key_id=${id}&from=${today}&to=${today}`);
    expect(admin.body).toEqual({ object: 'list', data: [row], has_more: false, totals });
    const otherModel = await gw.admin('GET', `/api/usage?key_id=${id}&model=other`);
    expect(otherModel.body.data).toEqual([]);
    expect(otherModel.body.totals.requests).toBe(0);
  });

  it('validates the usage filters', async () => {
    expectApiError(await gw.get('/v1/usage?from=2026-13-01'), 400, 'invalid_field', {
      param: 'from',
      message: 'from must be a date YYYY-MM-DD',
    });
    expectApiError(
      await gw.admin('GET', '/api/usage?from=2026-11-02&to=2026-11-01'),
      400,
      'invalid_field',
      { param: 'to', message: 'to must not be before from' },
    );
    expectApiError(await gw.admin('GET', '/api/usage?limit=0'), 400, 'invalid_field', {
      param: 'limit',
    });
    expectApiError(await gw.get('/api/usage'), 401, 'invalid_authorization');
  });

  it('refuses 429 insufficient_quota once the quota is used up, before anything goes upstream', async () => {
    const { id, key } = await createKey(gw, { token_quota: { limit: 1, period: 'day' } });
    const first = upstream.received.length;
    const admitted = await gw.post('/v1/chat/completions', chat('use it up'), { key });
    expect(admitted.status).toBe(200);
    const [used] = usageSent(first);
    const refused = await gw.post('/v1/chat/completions', chat('one more'), { key });
    expectApiError(refused, 429, 'insufficient_quota', {
      param: null,
      message: `This API key has used ${used.prompt + used.completion} of its 1 tokens today (UTC)`,
    });
    expect(refused.headers.get('x-should-retry')).toBe('false');
    // The rate limit ran first (guard order): its headers are on the quota refusal too.
    expect(refused.headers.get('x-ratelimit-limit')).toBe('100000');
    const tomorrow = Date.UTC(
      new Date().getUTCFullYear(),
      new Date().getUTCMonth(),
      new Date().getUTCDate() + 1,
    );
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil((tomorrow - Date.now()) / 1000) + 1);
    const stream = await gw.post('/v1/chat/completions', chat('x', { stream: true }), { key });
    expectApiError(stream, 429, 'insufficient_quota');
    expect(upstream.received.length - first).toBe(1);

    // Reading is not spending: the usage route answers, with the quota's figures.
    const mine = await gw.get('/v1/usage', { key });
    expect(mine.status).toBe(200);
    expect(mine.body.key_id).toBe(id);
    expect(mine.body.quota).toEqual({
      limit: 1,
      period: 'day',
      used: used.prompt + used.completion,
      remaining: 0,
      resets_at: new Date(tomorrow).toISOString(),
    });
    expect(mine.body.totals).toEqual({
      prompt_tokens: used.prompt,
      completion_tokens: used.completion,
      total_tokens: used.prompt + used.completion,
      requests: 1,
    });
  });

  it('lets a raised quota through again', async () => {
    const { id, key } = await createKey(gw, { token_quota: { limit: 1, period: 'total' } });
    expect((await gw.post('/v1/chat/completions', chat('a'), { key })).status).toBe(200);
    expectApiError(
      await gw.post('/v1/chat/completions', chat('b'), { key }),
      429,
      'insufficient_quota',
    );
    const patched = await gw.admin('PATCH', `/api/keys/${id}`, {
      token_quota: { limit: 1_000_000, period: 'total' },
    });
    expect(patched.status).toBe(200);
    // The key's settings are cached by the auth module for about a second.
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await gw.post('/v1/chat/completions', chat('c'), { key })).status;
    }
    expect(status).toBe(200);
  });
});

describe('usage at shutdown', () => {
  it('writes usage still pending when the gateway stops', async () => {
    const upstream = await startFakeUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'parley-usage-'));
    const database = await createTestDatabase(dir);
    try {
      const gw = await startGateway({ databaseUrl: database.url, models: catalogFor(upstream) });
      const res = await gw.post('/v1/chat/completions', chat('remember me'));
      expect(res.status).toBe(200);
      // Closing at once: the one-second flush has not run yet.
      await gw.close();
      const again = await startGateway({ databaseUrl: database.url, models: catalogFor(upstream) });
      const usage = await again.admin('GET', '/api/usage');
      await again.close();
      expect(usage.body.totals).toEqual({
        prompt_tokens: res.body.usage.prompt_tokens,
        completion_tokens: res.body.usage.completion_tokens,
        total_tokens: res.body.usage.prompt_tokens + res.body.usage.completion_tokens,
        requests: 1,
      });
    } finally {
      await upstream.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeIfEnv('TEST_REDIS_URL', 'rate limits when Redis stops mid-run', () => {
  it('keeps answering on a local bucket, counts it, and shares the limit again once Redis is back', async () => {
    const redis = await startPrivateRedis();
    const prefix = 'parley-e2e:';
    const gw = await startGateway({
      env: {
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: prefix,
        RATE_LIMIT_PER_SECOND: '0',
        RATE_LIMIT_BURST: '50',
      },
    });
    const bucketKey = `${prefix}ratelimit:${createHash('sha256').update(TEST_API_KEY).digest('hex')}`;
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const fallbacks = async () =>
      (await gw.app.get(MetricsService).redisFallbacks.get()).values[0]?.value ?? 0;
    try {
      const shared = await gw.get('/v1/me');
      expect(rateHeaders(shared)).toEqual({ limit: '50', remaining: '49', reset: '86400' });
      await client.connect();
      expect(await client.hget(bucketKey, 'tokens')).toBe(String(49 * 1_000_000));
      client.disconnect();

      await redis.kill();
      const started = Date.now();
      const during = await Promise.all(Array.from({ length: 10 }, () => gw.get('/v1/me')));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(during.map((r) => r.status)).toEqual(Array(10).fill(200));
      // Fail open on the local bucket: it starts full and enforces the same limit alone.
      expect(during.map((r) => r.headers.get('x-ratelimit-limit'))).toEqual(Array(10).fill('50'));
      expect(await fallbacks()).toBe(10);

      await redis.start();
      const deadline = Date.now() + 10_000;
      let remaining: string | null = null;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        const res = await gw.get('/v1/me');
        remaining = res.headers.get('x-ratelimit-remaining');
        const back = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await back.connect();
        const stored = await back.exists(bucketKey);
        back.disconnect();
        if (stored) {
          break;
        }
      }
      // The restarted Redis (no persistence) holds a fresh bucket again: decisions are shared.
      expect(remaining).toBe('49');
    } finally {
      client.disconnect();
      await gw.close();
      await redis.kill();
    }
  });
});
