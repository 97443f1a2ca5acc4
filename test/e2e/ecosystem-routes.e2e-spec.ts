import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { anthropicSdkError } from 'test/support/anthropic-sdk-error';
import { expectApiError } from 'test/support/expect-api-error';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { createKey, startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

const constraints = {
  min_max_tokens: 1,
  max_output_tokens: 4096,
  context_window: 32768,
  accepts_image_url: false,
  accepts_images: true,
  typical_response_seconds: 5,
};

/** Routes unmodified SDKs call: model retrieval, model lists under /c1, token counting. */
describe('routes clients expect', () => {
  let gw: TestGateway;
  let upstream: FakeUpstream;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    const model = (alias: string) => ({
      alias,
      upstreams: [{ url: upstream.url, format: 'openai', model: `org/${alias}` }],
      constraints,
    });
    gw = await startGateway({ models: { models: [model('llama'), model('qwen/coder')] } });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  describe('GET /v1/models/{id}', () => {
    it('answers openai models.retrieve with the model object, aliases with a slash included', async () => {
      const client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1` });
      const model = await client.models.retrieve('llama');
      expect(model).toEqual({
        id: 'llama',
        object: 'model',
        created: expect.any(Number),
        owned_by: 'parley',
      });
      await expect(client.models.retrieve('qwen/coder')).resolves.toMatchObject({
        id: 'qwen/coder',
      });
      const listed = await client.models.list();
      expect(listed.data.find((m) => m.id === 'llama')).toEqual(model);
    });

    it('raises the SDK NotFoundError with model_not_found for a model not served', async () => {
      const client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const error: unknown = await client.models.retrieve('gpt-nope').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
      const res = await gw.get('/v1/models/gpt-nope');
      expectApiError(res, 404, 'model_not_found', { param: 'model' });
      // The headers the OpenAPI document promises on every authenticated response.
      for (const name of ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining']) {
        expect([name, res.headers.get(name)]).toEqual([name, expect.any(String)]);
      }
    });

    it("hides a catalog model outside the key's allowed models behind the same 404", async () => {
      const { key } = await createKey(gw, { allowed_models: ['llama'] });
      const hidden = await gw.get('/v1/models/qwen%2Fcoder', { key });
      const unknown = await gw.get('/v1/models/gpt-nope', { key });
      expectApiError(hidden, 404, 'model_not_found', { param: 'model' });
      expect(hidden.body.error.message.replace('qwen/coder', 'X')).toBe(
        unknown.body.error.message.replace('gpt-nope', 'X'),
      );
      expect((await gw.get('/v1/models/llama', { key })).status).toBe(200);
    });

    it('asks for credentials before answering anything about a model', async () => {
      expectApiError(await gw.get('/v1/models/llama', { key: null }), 401, 'missing_authorization');
    });
  });

  describe('model lists under /c1', () => {
    it('lists the same models at /c1/models and /c1/v1/models as at /v1/models', async () => {
      const v1 = await gw.get('/v1/models');
      const c1 = await gw.get('/c1/models');
      const c1v1 = await gw.get('/c1/v1/models');
      expect(v1.body.data.map((m: { id: string }) => m.id)).toEqual(['llama', 'qwen/coder']);
      expect(c1.body).toEqual(v1.body);
      expect(c1v1.body).toEqual(v1.body);
    });

    it('serves an openai client whose base URL is /c1 (list and retrieve)', async () => {
      const client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/c1`, maxRetries: 0 });
      const page = await client.models.list();
      expect(page.data.map((m) => m.id)).toEqual(['llama', 'qwen/coder']);
      await expect(client.models.retrieve('llama')).resolves.toMatchObject({ id: 'llama' });
      await expect(client.models.retrieve('nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });
  });

  describe('POST /v1/messages/count_tokens', () => {
    const anthropic = (base: string) =>
      new Anthropic({ apiKey: TEST_API_KEY, baseURL: base, maxRetries: 0 });

    it('counts with the shipped tokenizer: more text, more tokens; system and tools count', async () => {
      const client = anthropic(gw.url);
      const short = await client.messages.countTokens({
        model: 'llama',
        messages: [{ role: 'user', content: 'Hello there' }],
      });
      const long = await client.messages.countTokens({
        model: 'llama',
        messages: [{ role: 'user', content: 'Hello there. '.repeat(100) }],
      });
      const withSystem = await client.messages.countTokens({
        model: 'llama',
        system: 'You are a terse assistant who answers in one word.',
        messages: [{ role: 'user', content: 'Hello there' }],
      });
      const withTools = await client.messages.countTokens({
        model: 'llama',
        messages: [{ role: 'user', content: 'Hello there' }],
        tools: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            input_schema: { type: 'object', properties: { city: { type: 'string' } } },
          },
        ],
      });
      // "Hello there" is 2 tokens in o200k_base; 3 per message plus 3 for the reply's priming.
      expect(short).toEqual({ input_tokens: 8 });
      expect(long.input_tokens).toBeGreaterThan(200);
      expect(withSystem.input_tokens).toBeGreaterThan(short.input_tokens + 10);
      expect(withTools.input_tokens).toBeGreaterThan(short.input_tokens + 10);
      expect(upstream.received).toHaveLength(0);
    });

    it('counts text blocks like the same text in a string', async () => {
      const client = anthropic(gw.url);
      const asBlocks = await client.messages.countTokens({
        model: 'llama',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'What is the capital of France?' }] },
          { role: 'assistant', content: 'Paris.' },
          { role: 'user', content: 'And of Italy?' },
        ],
      });
      const asStrings = await client.messages.countTokens({
        model: 'llama',
        messages: [
          { role: 'user', content: 'What is the capital of France?' },
          { role: 'assistant', content: 'Paris.' },
          { role: 'user', content: 'And of Italy?' },
        ],
      });
      expect(asBlocks).toEqual(asStrings);
    });

    it('is served where an SDK with base URL …/c1 sends it', async () => {
      const body = { model: 'llama', messages: [{ role: 'user' as const, content: 'Hi' }] };
      const direct = await anthropic(gw.url).messages.countTokens(body);
      await expect(anthropic(`${gw.url}/c1`).messages.countTokens(body)).resolves.toEqual(direct);
    });

    it('refuses what /v1/messages refuses, with params in the Anthropic body', async () => {
      const unknownModel = await anthropicSdkError(
        anthropic(gw.url).messages.countTokens({
          model: 'nope',
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      );
      expect(unknownModel.status).toBe(400);
      expect(unknownModel.error).toMatchObject({
        error: { code: 'model_not_in_allowlist', param: 'model' },
      });
      expectApiError(
        await gw.post('/v1/messages/count_tokens', { model: 'llama' }),
        400,
        'missing_field',
        { param: 'messages' },
      );
      expectApiError(
        await gw.post('/v1/messages/count_tokens', {
          model: 'llama',
          messages: [{ role: 'robot', content: 'Hi' }],
        }),
        400,
        'invalid_field',
        { param: 'messages[0].role' },
      );
      expectApiError(
        await gw.post('/v1/messages/count_tokens', { messages: [] }, { key: null }),
        401,
        'missing_authorization',
      );
    });
  });

  it('refuses /c1/messages (both paths) with insufficient_quota once the quota is used up', async () => {
    const { key } = await createKey(gw, { token_quota: { limit: 1, period: 'total' } });
    const chat = { model: 'llama', messages: [{ role: 'user', content: 'spend it' }] };
    expect((await gw.post('/v1/chat/completions', chat, { key })).status).toBe(200);
    const before = upstream.received.length;
    const turn = { model: 'llama', max_tokens: 16, messages: [{ role: 'user', content: 'more' }] };
    expectApiError(await gw.post('/c1/messages', turn, { key }), 429, 'insufficient_quota');
    expectApiError(await gw.post('/c1/v1/messages', turn, { key }), 429, 'insufficient_quota');
    expect(upstream.received.length).toBe(before);
    // Counting tokens sends nothing upstream: it stays open to a key over its quota.
    const counted = await gw.post('/v1/messages/count_tokens', turn, { key });
    expect(counted.status).toBe(200);
  });
});
