import OpenAI, { APIError } from 'openai';
import { expectApiError } from 'test/support/expect-api-error';
import {
  closedPortUrl,
  FakeUpstream,
  fakeAnswerFor,
  startFakeUpstream,
} from 'test/support/fake-upstream';
import { dataEvents, postSse } from 'test/support/sse-reader';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

const UPSTREAM_KEY = 'sk-upstream-secret-0123456789';
const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48,
]);
const PNG_URI = `data:image/png;base64,${PNG.toString('base64')}`;

const constraints = {
  min_max_tokens: 16,
  max_output_tokens: 1024,
  context_window: 8192,
  accepts_image_url: false,
  accepts_images: true,
  typical_response_seconds: 1,
};

/** Runs `fn` and returns the SDK error it throws. */
async function sdkError(fn: () => Promise<unknown>): Promise<APIError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof APIError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected an APIError');
}

describe('/v1 through the official openai SDK', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    up = await startFakeUpstream({ modelName: 'fake-model' });
    gw = await startGateway({
      env: { FAKE_UPSTREAM_KEY: UPSTREAM_KEY },
      models: {
        models: [
          {
            alias: 'fake',
            upstreams: [
              {
                url: up.url,
                format: 'openai',
                model: 'fake-model',
                api_key_env: 'FAKE_UPSTREAM_KEY',
              },
            ],
            constraints,
          },
          {
            alias: 'text-only',
            upstreams: [{ url: up.url, format: 'openai', model: 'fake-model' }],
            constraints: { ...constraints, accepts_images: false },
          },
          {
            alias: 'misconfigured',
            upstreams: [{ url: up.url, format: 'openai', model: 'fake-model' }],
            constraints: { ...constraints, min_max_tokens: 2048 },
          },
          {
            alias: 'down',
            upstreams: [{ url: await closedPortUrl(), format: 'openai', model: 'x' }],
            constraints,
          },
        ],
      },
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: TEST_API_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
  });

  const ask = (text: string) => [{ role: 'user' as const, content: text }];

  it('gives the same text as JSON and as a stream', async () => {
    const json = await client.chat.completions.create({
      model: 'fake',
      messages: ask('hello there'),
    });
    const stream = await client.chat.completions.create({
      model: 'fake',
      messages: ask('hello there'),
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(json.choices[0].message.content).toBe(fakeAnswerFor({ messages: ask('hello there') }));
    expect(streamed).toBe(json.choices[0].message.content);
    expect(json.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("forwards the body with unknown fields, the upstream's model name and key, never the caller's", async () => {
    const before = up.received.length;
    await client.chat.completions.create(
      {
        model: 'fake',
        messages: ask('fields'),
        top_k: 5,
        chat_template_kwargs: { enable_thinking: false },
      } as OpenAI.ChatCompletionCreateParamsNonStreaming,
      { headers: { cookie: 'session=client-secret', 'x-api-key': TEST_API_KEY } },
    );
    const seen = up.received[before];
    expect(seen.url).toBe('/v1/chat/completions');
    expect(seen.body).toEqual({
      model: 'fake-model',
      messages: ask('fields'),
      top_k: 5,
      chat_template_kwargs: { enable_thinking: false },
    });
    expect(seen.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(TEST_API_KEY);
  });

  it('passes no upstream cookie or other upstream header back', async () => {
    const res = await gw.post('/v1/chat/completions', { model: 'fake', messages: ask('cookies') });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(res.body.object).toBe('chat.completion');
  });

  it('asks the upstream for usage on streams and hides the usage chunk unless the client asked', async () => {
    const before = up.received.length;
    const plain = await postSse(
      `${gw.url}/v1/chat/completions`,
      { model: 'fake', messages: ask('usage'), stream: true },
      { headers: { authorization: `Bearer ${TEST_API_KEY}` } },
    );
    expect(up.received[before].body.stream_options).toEqual({ include_usage: true });
    const plainEvents = dataEvents(plain);
    expect(plainEvents.at(-1)).toBe('[DONE]');
    expect(plainEvents.some((e) => e !== '[DONE]' && e.usage)).toBe(false);
    expect(plain.headers.get('content-type')).toBe('text/event-stream');
    expect(plain.headers.get('cache-control')).toBe('no-cache');
    expect(plain.headers.get('x-accel-buffering')).toBe('no');
    expect(plain.headers.get('x-request-id')).toBeTruthy();
    expect(plain.headers.get('set-cookie')).toBeNull();

    const withUsage = await postSse(
      `${gw.url}/v1/chat/completions`,
      {
        model: 'fake',
        messages: ask('usage'),
        stream: true,
        stream_options: { include_usage: true },
      },
      { headers: { authorization: `Bearer ${TEST_API_KEY}` } },
    );
    const usageChunk = dataEvents(withUsage).find((e) => e !== '[DONE]' && e.usage);
    expect(usageChunk).toMatchObject({ choices: [], usage: { prompt_tokens: expect.any(Number) } });
  });

  it('raises max_tokens to the floor and says so in x-parley-applied', async () => {
    const before = up.received.length;
    const { response } = await client.chat.completions
      .create({ model: 'fake', messages: ask('floor'), max_tokens: 1 })
      .withResponse();
    expect(response.headers.get('x-parley-applied')).toBe('max_tokens_floored=16');
    expect(up.received[before].body.max_tokens).toBe(16);
    const streamed = await postSse(
      `${gw.url}/v1/chat/completions`,
      { model: 'fake', messages: ask('floor'), max_completion_tokens: 2, stream: true },
      { headers: { authorization: `Bearer ${TEST_API_KEY}` } },
    );
    expect(streamed.headers.get('x-parley-applied')).toBe('max_tokens_floored=16');
  });

  it('serves embeddings and models', async () => {
    const embeddings = await client.embeddings.create({ model: 'fake', input: ['a', 'b'] });
    expect(embeddings.data.map((d) => d.index)).toEqual([0, 1]);
    expect(up.received.at(-1)!.body).toEqual({
      model: 'fake-model',
      input: ['a', 'b'],
      encoding_format: 'base64',
    });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['fake', 'text-only', 'misconfigured', 'down']);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'parley' });
  });

  it('describes the catalog in /v1/info without keys, and /readyz lists the upstreams', async () => {
    const res = await gw.get('/v1/info');
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(UPSTREAM_KEY);
    expect(res.body.dev).toBe(false);
    const fake = res.body.models.find((m: { alias: string }) => m.alias === 'fake');
    expect(fake).toEqual({
      alias: 'fake',
      dev: false,
      label: null,
      constraints,
      upstreams: [
        {
          url: up.url,
          format: 'openai',
          model: 'fake-model',
          status: 'up',
          last_seen_at: expect.any(String),
          latency_ms: expect.any(Number),
          last_error: null,
        },
      ],
    });
    // Public: status by alias only; URLs and latencies need the admin token or METRICS_TOKEN.
    const open = await gw.get('/readyz', { key: null });
    expect(open.status).toBe(200);
    expect(open.body.checks.upstreams).toEqual([
      { alias: 'fake', status: 'up' },
      { alias: 'text-only', status: 'up' },
      { alias: 'misconfigured', status: 'up' },
      { alias: 'down', status: 'down' },
    ]);
    const ready = await gw.admin('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.upstreams).toEqual([
      { alias: 'fake', url: up.url, status: 'up', latency_ms: expect.any(Number) },
      { alias: 'text-only', url: up.url, status: 'up', latency_ms: expect.any(Number) },
      { alias: 'misconfigured', url: up.url, status: 'up', latency_ms: expect.any(Number) },
      {
        alias: 'down',
        url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1$/),
        status: 'down',
        latency_ms: null,
      },
    ]);
    const info = await gw.get('/v1/info');
    const down = info.body.models.find((m: { alias: string }) => m.alias === 'down');
    expect(down.upstreams[0]).toMatchObject({ status: 'down', last_error: 'upstream_unavailable' });
  });

  describe('surfaces catalog error codes through the SDK', () => {
    it.each<[string, () => Promise<unknown>, number, string, string | null]>([
      [
        'a model outside the catalog',
        () => client.chat.completions.create({ model: 'gpt-nope', messages: ask('x') }),
        400,
        'model_not_in_allowlist',
        'model',
      ],
      [
        'no messages',
        () => client.chat.completions.create({ model: 'fake' } as never),
        400,
        'missing_field',
        'messages',
      ],
      [
        'an image URL',
        () =>
          client.chat.completions.create({
            model: 'fake',
            messages: [
              {
                role: 'user',
                content: [
                  { type: 'text', text: 'look' },
                  { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
                ],
              },
            ],
          }),
        400,
        'image_url_not_supported',
        'messages[0].content[1].image_url.url',
      ],
      [
        'a broken inline image',
        () =>
          client.chat.completions.create({
            model: 'fake',
            messages: [
              { role: 'system', content: 'be brief' },
              {
                role: 'user',
                content: [
                  { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K-_' } },
                ],
              },
            ],
          }),
        400,
        'image_decode_error',
        'messages[1].content[0].image_url.url',
      ],
      [
        'an audio URL',
        () =>
          client.chat.completions.create({
            model: 'fake',
            messages: [
              {
                role: 'user',
                content: [
                  { type: 'audio_url', audio_url: { url: 'http://169.254.169.254/a.wav' } },
                ],
              } as never,
            ],
          }),
        400,
        'media_url_not_supported',
        'messages[0].content[0].audio_url.url',
      ],
      [
        'an image to a text-only model',
        () =>
          client.chat.completions.create({
            model: 'text-only',
            messages: [
              { role: 'user', content: [{ type: 'image_url', image_url: { url: PNG_URI } }] },
            ],
          }),
        400,
        'invalid_field',
        'messages[0].content[0]',
      ],
      [
        'a floor above the maximum output',
        () =>
          client.chat.completions.create({
            model: 'misconfigured',
            messages: ask('x'),
            max_tokens: 5,
          }),
        400,
        'max_tokens_below_minimum',
        'max_tokens',
      ],
      [
        'a model whose upstream refuses connections',
        () => client.chat.completions.create({ model: 'down', messages: ask('x') }),
        503,
        'upstream_unavailable',
        null,
      ],
      [
        'a stream to an upstream that refuses connections',
        () => client.chat.completions.create({ model: 'down', messages: ask('x'), stream: true }),
        503,
        'upstream_unavailable',
        null,
      ],
    ])('%s', async (_, call, status, code, param) => {
      const error = await sdkError(call);
      expect({
        status: error.status,
        code: error.code,
        param: error.param,
        type: error.type,
      }).toEqual({
        status,
        code,
        param,
        type: status >= 500 ? 'upstream_error' : 'invalid_request_error',
      });
    });

    it('an upstream 5xx, with its message inline', async () => {
      up.next({ kind: 'error', status: 500 });
      const error = await sdkError(() =>
        client.chat.completions.create({ model: 'fake', messages: ask('x') }),
      );
      expect({ status: error.status, code: error.code }).toEqual({
        status: 502,
        code: 'upstream_error',
      });
      expect(error.message).toContain('fake upstream failure 500');
      expect(error.message).not.toContain(up.url);
    });

    it('a stream cut by the upstream, as the final error event', async () => {
      up.next({ kind: 'cut', chunks: 2 });
      const stream = await client.chat.completions.create({
        model: 'fake',
        messages: ask('cut me off'),
        stream: true,
      });
      const error = await sdkError(async () => {
        for await (const _chunk of stream) {
          // reading until the error event
        }
      });
      expect(error.code).toBe('upstream_error');
    });
  });

  it('refuses a body nested 10,000 levels deep with a 400 and stays up', async () => {
    const raw = `{"model":"fake","messages":[{"role":"user","content":"x"}],"extra":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const res = await gw.request('POST', '/v1/chat/completions', undefined, { raw });
    expectApiError(res, 400, 'invalid_field', { param: 'extra[0]' });
    const after = await gw.post('/v1/chat/completions', {
      model: 'fake',
      messages: ask('still up'),
    });
    expect(after.status).toBe(200);
  });

  it('answers without credentials with 401 missing_authorization', async () => {
    const res = await gw.post(
      '/v1/chat/completions',
      { model: 'fake', messages: ask('x') },
      { key: null },
    );
    expectApiError(res, 401, 'missing_authorization', { param: null });
  });
});
