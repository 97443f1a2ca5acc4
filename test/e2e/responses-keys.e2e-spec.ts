import OpenAI from 'openai';
import { openConstraints } from 'test/support/fake-catalog';
import {
  completionTokensFor,
  fakeAnswerFor,
  FakeUpstream,
  promptTokensFor,
  startFakeUpstream,
} from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { createKey, startGateway, TestGateway } from 'test/support/start-gateway';
import { eventually } from 'test/support/time';

/**
 * Keys on /v1/responses exactly as on /v1 (issue #15: "keys, model allow-lists, rate limits,
 * quotas and usage apply as on /v1"): refused before anything is stored or forwarded, and every
 * answered response — JSON, streamed or background — counted in the key's usage. A service
 * key's end users (`x-user-id`) own their responses as users do.
 */
describe('/v1/responses and API keys', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream();
    const model = (alias: string) => ({
      alias,
      upstreams: [{ url: up.url, format: 'openai', model: `${alias}-model` }],
      constraints: openConstraints(),
    });
    gw = await startGateway({ models: { models: [model('fake'), model('other')] } });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const chats = () => up.received.filter((r) => r.url.endsWith('/chat/completions'));
  const respond = (key: string, body: object = {}) =>
    gw.post('/v1/responses', { model: 'fake', input: 'hello', ...body }, { key });
  const storedConversations = async (key: string) =>
    (await gw.get('/c1/conversations', { key })).body.data.length as number;

  it("refuses a model outside the key's allow-list: 403, nothing stored or forwarded", async () => {
    const { key } = await createKey(gw, { user_id: 'allow-user', allowed_models: ['other'] });
    const forwarded = chats().length;
    for (const body of [{}, { stream: true }, { background: true }]) {
      expectApiError(await respond(key, body), 403, 'model_access_denied', { param: 'model' });
    }
    expect(chats().length).toBe(forwarded);
    expect(await storedConversations(key)).toBe(0);
    expect((await respond(key, { model: 'other' })).status).toBe(200);
  });

  it("draws on the key's rate-limit bucket, with its headers, then 429 with retry-after", async () => {
    const { key } = await createKey(gw, {
      user_id: 'rate-user',
      rate_limit: { per_second: 0, burst: 2 },
    });
    const first = await respond(key);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(first.headers.get('x-ratelimit-reset')).not.toBeNull();
    const read = await gw.get(`/v1/responses/${first.body.id}`, { key });
    expect(read.headers.get('x-ratelimit-remaining')).toBe('0');
    const refused = await respond(key);
    expectApiError(refused, 429, 'rate_limit_exceeded');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses a key over its token quota with 429 insufficient_quota, nothing forwarded', async () => {
    const { key } = await createKey(gw, {
      user_id: 'quota-user',
      token_quota: { limit: 1, period: 'total' },
    });
    expect((await respond(key)).status).toBe(200);
    // The first answer's usage is recorded once it is stored; then the quota is spent.
    const forwarded = await eventually(async () => {
      const before = chats().length;
      expectApiError(await respond(key), 429, 'insufficient_quota');
      return before;
    });
    const stored = await storedConversations(key);
    for (const body of [{ stream: true }, { background: true }]) {
      expectApiError(await respond(key, body), 429, 'insufficient_quota');
    }
    expect(chats().length).toBe(forwarded);
    expect(await storedConversations(key)).toBe(stored);
  });

  it('counts JSON, streamed and background responses in the usage of the key', async () => {
    const { id, key } = await createKey(gw, { user_id: 'usage-user' });
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const from = up.received.length;
    const json = await client.responses.create({ model: 'fake', input: 'one two three' });
    const stream = client.responses.stream({ model: 'fake', input: 'a streamed answer' });
    for await (const event of stream) {
      void event;
    }
    const streamed = await stream.finalResponse();
    const queued = await client.responses.create({
      model: 'fake',
      input: 'and one in the background',
      background: true,
    });
    const background = await eventually(async () => {
      const r = await client.responses.retrieve(queued.id);
      expect(r.status).toBe('completed');
      return r;
    });
    const sent = up.received.slice(from).map((r) => ({
      prompt: promptTokensFor(r.body),
      completion: completionTokensFor(fakeAnswerFor(r.body)),
    }));
    expect(sent).toHaveLength(3);
    const answered = [json, streamed, background].map((r) => r.usage!);
    expect(answered.map((u) => ({ prompt: u.input_tokens, completion: u.output_tokens }))).toEqual(
      sent,
    );
    const totals = {
      prompt_tokens: sent.reduce((n, u) => n + u.prompt, 0),
      completion_tokens: sent.reduce((n, u) => n + u.completion, 0),
    };
    await eventually(async () => {
      const usage = await gw.get('/v1/usage', { key });
      expect(usage.body).toMatchObject({
        key_id: id,
        totals: {
          ...totals,
          total_tokens: totals.prompt_tokens + totals.completion_tokens,
          requests: 3,
        },
      });
      expect(usage.body.data.map((row: any) => row.model)).toEqual(['fake']);
    });
  });
  it("keeps a service key's end users apart: another end user's response answers like a missing one", async () => {
    const { key } = await createKey(gw, { name: 'frontend', user_id: 'frontend', role: 'service' });
    const as = (user: string) => ({ key, headers: { 'x-user-id': user } });
    const sams = await gw.post('/v1/responses', { model: 'fake', input: 'sam only' }, as('sam'));
    expect(sams.status).toBe(200);
    expect((await gw.get(`/v1/responses/${sams.body.id}`, as('sam'))).status).toBe(200);
    const missingId = 'resp_00000000-0000-4000-8000-000000000000';
    const foreign = await gw.get(`/v1/responses/${sams.body.id}`, as('kim'));
    const missing = await gw.get(`/v1/responses/${missingId}`, as('kim'));
    expectApiError(foreign, 404, 'response_not_found');
    expect(foreign.text).toBe(missing.text);
    expectApiError(
      await gw.post(
        '/v1/responses',
        { model: 'fake', input: 'x', previous_response_id: sams.body.id },
        as('kim'),
      ),
      400,
      'previous_response_not_found',
      { param: 'previous_response_id' },
    );
    const { key: plain } = await createKey(gw, { user_id: 'plain-user' });
    expectApiError(
      await gw.post(
        '/v1/responses',
        { model: 'fake', input: 'x' },
        { key: plain, headers: { 'x-user-id': 'sam' } },
      ),
      403,
      'user_override_forbidden',
    );
  });
});
