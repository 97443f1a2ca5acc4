import { randomUUID } from 'node:crypto';
import { expectApiError } from 'test/support/expect-api-error';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { sql } from 'test/support/sql';
import { createKey, GatewayResponse, startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * Issue #22 item 5: a key's token quota holds under concurrency. Each request reserves its
 * maximum before it is forwarded and settles with its real usage, atomically in the database
 * (SQLite here, PostgreSQL in the e2e-postgres project), so 100 concurrent requests overspend a
 * quota by at most one request's worth. Before, a 10-token quota answered all 100.
 */
describe('token quotas under concurrency', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    // Every answer takes 300 ms, so the requests overlap.
    up = await startFakeUpstream({ firstByteDelayMs: 300 });
    gw = await startGateway({ models: fakeModelCatalog(up.url) });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const chat = (text: string, maxTokens: number) => ({
    model: 'fake',
    messages: [{ role: 'user', content: text }],
    max_tokens: maxTokens,
  });

  function tokensOf(res: GatewayResponse): number {
    return res.status === 200 ? (res.body.usage.total_tokens as number) : 0;
  }

  async function burst(key: string, maxTokens: number, count = 100) {
    const before = up.received.length;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        gw.post('/v1/chat/completions', chat(`request number ${i}`, maxTokens), { key }),
      ),
    );
    const served = answers.filter((r) => r.status === 200);
    for (const refused of answers.filter((r) => r.status !== 200)) {
      expectApiError(refused, 429, 'insufficient_quota');
    }
    expect(up.received.length - before).toBe(served.length);
    const used = served.reduce((sum, r) => sum + tokensOf(r), 0);
    const largest = Math.max(...served.map(tokensOf));
    return { served: served.length, used, largest };
  }

  it('answers one request’s worth at most over a 10-token quota under 100 concurrent requests', async () => {
    const { key } = await createKey(gw, { token_quota: { limit: 10, period: 'day' } });
    const { served, used, largest } = await burst(key, 5);
    expect(served).toBeGreaterThanOrEqual(1);
    expect(used - 10).toBeLessThanOrEqual(largest);
    // Settled: the quota is used up, later requests are refused.
    expectApiError(
      await gw.post('/v1/chat/completions', chat('later', 5), { key }),
      429,
      'insufficient_quota',
    );
  });

  it('shares a larger quota among concurrent requests without passing it by more than one', async () => {
    const limit = 400;
    const { key } = await createKey(gw, { token_quota: { limit, period: 'total' } });
    const { served, used, largest } = await burst(key, 40);
    expect(served).toBeGreaterThan(1);
    expect(used - limit).toBeLessThanOrEqual(largest);
  });

  it('shrinks a finished request’s reservation to its real usage (sequential requests pass)', async () => {
    // Each /v1 request reserves about 530 tokens, each /c1 turn the whole 100,000-token
    // window; they use about 60. Held at their maximum, the third of each would be refused.
    const v1Key = (await createKey(gw, { token_quota: { limit: 1_000, period: 'day' } })).key;
    for (let i = 0; i < 3; i++) {
      const res = await gw.post('/v1/chat/completions', chat(`v1 ${i}`, 500), { key: v1Key });
      expect(res.status).toBe(200);
    }
    const { key } = await createKey(gw, { token_quota: { limit: 150_000, period: 'day' } });
    let conversation: string | undefined;
    for (let i = 0; i < 3; i++) {
      const turn = await gw.post(
        '/c1/chat/completions',
        { ...chat(`c1 ${i}`, 500), conversation_id: conversation },
        { key },
      );
      expect(turn.status).toBe(200);
      conversation = turn.body.conversation_id as string;
    }
  });

  it('releases the reservation of a request whose upstream failed', async () => {
    const { key } = await createKey(gw, { token_quota: { limit: 50, period: 'day' } });
    // max_tokens 100 reserves more than the whole quota: while it runs, nothing else fits.
    up.next({ kind: 'error', status: 500, body: { error: { message: 'boom' } } });
    const failing = gw.post('/v1/chat/completions', chat('fails', 100), { key });
    await new Promise((r) => setTimeout(r, 100));
    const meanwhile = await gw.post('/v1/chat/completions', chat('meanwhile', 100), { key });
    expectApiError(meanwhile, 429, 'insufficient_quota', {
      message:
        'This API key has used 0 of its 50 tokens today (UTC); requests in flight have reserved the rest until they finish',
    });
    expect(meanwhile.headers.get('x-should-retry')).toBe('true');
    expect((await failing).status).toBe(502);
    const after = await gw.post('/v1/chat/completions', chat('after', 100), { key });
    expect(after.status).toBe(200);
  });

  it('releases the reservation of a request the client abandoned', async () => {
    const { key } = await createKey(gw, { token_quota: { limit: 50, period: 'day' } });
    const controller = new AbortController();
    const abandoned = gw
      .post('/v1/chat/completions', chat('abandoned', 100), { key, signal: controller.signal })
      .catch((error: unknown) => error);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    await abandoned;
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await gw.post('/v1/chat/completions', chat('next', 1), { key })).status;
    }
    expect(status).toBe(200);
  });

  it('lets a crashed instance’s reservation lapse at its expiry', async () => {
    const { id, key } = await createKey(gw, { token_quota: { limit: 1000, period: 'day' } });
    const insert = (expiresAt: number) =>
      sql(
        gw.databaseUrl,
        'INSERT INTO quota_reservations (id, key_id, tokens, expires_at) VALUES ($1, $2, $3, $4)',
        [randomUUID(), id, 1_000_000, expiresAt],
      );
    await insert(Date.now() + 60_000);
    expectApiError(
      await gw.post('/v1/chat/completions', chat('held', 1), { key }),
      429,
      'insufficient_quota',
    );
    await sql(gw.databaseUrl, 'DELETE FROM quota_reservations WHERE key_id = $1', [id]);
    await insert(Date.now() - 1);
    expect((await gw.post('/v1/chat/completions', chat('lapsed', 1), { key })).status).toBe(200);
  });
});
