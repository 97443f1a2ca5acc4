import OpenAI from 'openai';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

describe('the built-in echo model (no MODELS_FILE)', () => {
  let gw: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gw = await startGateway();
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: TEST_API_KEY, maxRetries: 0 });
  });
  afterAll(() => gw.close());

  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You are a parrot.' },
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'first answer' },
    { role: 'user', content: 'Hello, Parley! How are you today?' },
  ];

  it('is the only model, labelled as a dev model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['echo']);
    const info = await gw.get('/v1/info');
    expect(info.body).toMatchObject({
      dev: true,
      models: [
        {
          alias: 'echo',
          dev: true,
          label: expect.stringMatching(/dev model/),
          upstreams: [{ url: 'builtin:echo', status: 'up' }],
        },
      ],
    });
    const ready = await gw.admin('GET', '/readyz');
    expect(ready.body.checks.upstreams).toEqual([
      { alias: 'echo', url: 'builtin:echo', status: 'up', latency_ms: expect.any(Number) },
    ]);
  });

  it('answers the last user message, the same as JSON and as a stream, with the same usage', async () => {
    const json = await client.chat.completions.create({ model: 'echo', messages });
    expect(json.choices[0]).toMatchObject({
      message: { role: 'assistant', content: 'Hello, Parley! How are you today?' },
      finish_reason: 'stop',
    });
    const stream = await client.chat.completions.create({
      model: 'echo',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(chunks).toBeGreaterThan(5);
    expect(text).toBe(json.choices[0].message.content);
    expect(usage).toEqual(json.usage);
    expect(json.usage!.completion_tokens).toBeGreaterThan(5);
    expect(json.usage!.prompt_tokens).toBeGreaterThan(json.usage!.completion_tokens);
  });

  it('cuts the answer at max_tokens with finish_reason length', async () => {
    const json = await client.chat.completions.create({ model: 'echo', messages, max_tokens: 3 });
    expect(json.choices[0].finish_reason).toBe('length');
    expect(json.usage!.completion_tokens).toBe(3);
    expect('Hello, Parley! How are you today?'.startsWith(json.choices[0].message.content!)).toBe(
      true,
    );
  });

  it('serves deterministic embeddings', async () => {
    const a = await client.embeddings.create({ model: 'echo', input: ['x', 'y'] });
    const b = await client.embeddings.create({ model: 'echo', input: 'x' });
    expect(a.data).toHaveLength(2);
    expect(a.data[0].embedding).toEqual(b.data[0].embedding);
    expect(a.data[0].embedding).not.toEqual(a.data[1].embedding);
  });
});
