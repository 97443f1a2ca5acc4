import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { anthropicSdkError } from 'test/support/anthropic-sdk-error';
import { expectApiError } from 'test/support/expect-api-error';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { parseSseFrames } from 'test/support/sse-frames';
import { postSse } from 'test/support/sse-reader';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const UPSTREAM_KEY = 'sk-ant-upstream-0123456789';

const streamFixture = (name: string) =>
  readFileSync(
    join(__dirname, '../../src/modules/proxy/wire/anthropic/__fixtures__/streams', name),
    'utf8',
  );

const constraints = {
  min_max_tokens: 16,
  max_output_tokens: 4096,
  context_window: 32768,
  accepts_image_url: false,
  accepts_images: true,
  typical_response_seconds: 5,
};

describe('/v1/messages (Anthropic Messages API)', () => {
  let gw: TestGateway;
  let openai: FakeUpstream;
  let anthropic: FakeAnthropicUpstream;
  let client: Anthropic;

  beforeAll(async () => {
    openai = await startFakeUpstream({ modelName: 'meta-llama/Llama-4-Scout', streamChunks: 3 });
    anthropic = await startFakeAnthropicUpstream({ streamChunks: 3 });
    gw = await startGateway({
      env: { FAKE_ANTHROPIC_KEY: UPSTREAM_KEY, SSE_KEEPALIVE_SECS: '1' },
      models: {
        models: [
          {
            alias: 'llama',
            upstreams: [{ url: openai.url, format: 'openai', model: 'meta-llama/Llama-4-Scout' }],
            constraints,
          },
          {
            alias: 'claude',
            upstreams: [
              {
                url: anthropic.url,
                format: 'anthropic',
                model: 'claude-sonnet-4-5',
                api_key_env: 'FAKE_ANTHROPIC_KEY',
              },
            ],
            constraints: {
              ...constraints,
              max_output_tokens: 8192,
              accepts_image_url: true,
              // Betas go out with the operator's key: only listed ones pass (issue #22).
              allowed_betas: ['interleaved-thinking-2025-05-14'],
            },
          },
        ],
      },
    });
    client = new Anthropic({ baseURL: gw.url, apiKey: TEST_API_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw.close();
    await openai.close();
    await anthropic.close();
  });

  afterEach(() => {
    openai.options.chunkDelayMs = undefined;
    openai.options.firstByteDelayMs = undefined;
  });

  const lastOpenAI = () => openai.received[openai.received.length - 1];
  const lastAnthropic = () => anthropic.received[anthropic.received.length - 1];

  describe('translated to an openai upstream', () => {
    it('answers a plain message and forwards the translated request', async () => {
      const message = await client.messages.create({
        model: 'llama',
        max_tokens: 64,
        system: 'Be brief.',
        stop_sequences: ['END'],
        metadata: { user_id: 'u-1' },
        messages: [{ role: 'user', content: 'Hello there' }],
      });
      expect(message).toEqual({
        id: expect.stringMatching(/^msg_chatcmpl-fake-/),
        type: 'message',
        role: 'assistant',
        model: 'llama',
        content: [{ type: 'text', text: 'You said: Hello there' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: expect.any(Number),
          output_tokens: 4,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      });
      const forwarded = lastOpenAI();
      expect(forwarded.url).toBe('/v1/chat/completions');
      expect(forwarded.body).toEqual({
        model: 'meta-llama/Llama-4-Scout',
        max_tokens: 64,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello there' },
        ],
        stop: ['END'],
        user: 'u-1',
      });
      expect(forwarded.headers['x-api-key']).toBeUndefined();
      expect(forwarded.headers.authorization).toBeUndefined();
    });

    it('streams the exact Anthropic event sequence, ping included', async () => {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'x-api-key': TEST_API_KEY,
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          model: 'llama',
          max_tokens: 64,
          stream: true,
          messages: [{ role: 'user', content: 'stream please' }],
        }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const frames = parseSseFrames(await res.text());
      // "You said: stream please" in 3 pieces (4 words: the fake's completion tokens).
      expect(frames.map((f) => f.event)).toEqual([
        'message_start',
        'ping',
        'content_block_start',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ]);
      const data = frames.map((f) => JSON.parse(f.data));
      expect(data.map((d) => d.type)).toEqual(frames.map((f) => f.event));
      expect(
        data
          .filter((d) => d.type === 'content_block_delta')
          .map((d) => d.delta.text)
          .join(''),
      ).toBe('You said: stream please');
      expect(data[7]).toEqual({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: {
          input_tokens: expect.any(Number),
          output_tokens: 4,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      });
      expect(lastOpenAI().body.stream_options).toEqual({ include_usage: true });
    });

    it('gives the SDK stream helper the same message as the JSON answer', async () => {
      const params = {
        model: 'llama',
        max_tokens: 64,
        messages: [{ role: 'user' as const, content: 'same either way' }],
      };
      const json = await client.messages.create(params);
      const streamed = await client.messages.stream(params).finalMessage();
      expect(streamed.content).toEqual(json.content);
      expect(streamed.stop_reason).toBe(json.stop_reason);
      expect(streamed.usage.output_tokens).toBe(json.usage.output_tokens);
      expect(streamed.usage.input_tokens).toBeGreaterThan(0);
    });

    it('streams tool calls with their arguments in pieces, several by index', async () => {
      openai.next({
        kind: 'raw',
        contentType: 'text/event-stream',
        body: streamFixture('openai-tool-calls.sse'),
      });
      const stream = await client.messages.create({
        model: 'llama',
        max_tokens: 256,
        stream: true,
        tools: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            input_schema: { type: 'object', properties: { location: { type: 'string' } } },
          },
        ],
        tool_choice: { type: 'any', disable_parallel_tool_use: false },
        messages: [{ role: 'user', content: 'Weather in Paris and Oslo?' }],
      });
      const events: any[] = [];
      for await (const event of stream) {
        events.push(event);
      }
      const starts = events.filter((e) => e.type === 'content_block_start');
      expect(starts.map((e) => [e.index, e.content_block.type])).toEqual([
        [0, 'thinking'],
        [1, 'text'],
        [2, 'tool_use'],
        [3, 'tool_use'],
      ]);
      const pieces = (index: number) =>
        events
          .filter((e) => e.type === 'content_block_delta' && e.index === index)
          .map((e) => e.delta.partial_json);
      expect(pieces(2)).toEqual(['{"lo', 'cation": "Par', 'is"}']);
      expect(pieces(3)).toEqual(['{"location"', ': "Oslo"}']);
      expect(events.at(-2)).toMatchObject({
        type: 'message_delta',
        delta: { stop_reason: 'tool_use' },
      });
      expect(lastOpenAI().body.tools).toEqual([
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: { type: 'object', properties: { location: { type: 'string' } } },
          },
        },
      ]);
      expect(lastOpenAI().body.tool_choice).toBe('required');
    });

    it('assembles streamed tool calls into tool_use blocks with parsed input (SDK helper)', async () => {
      openai.next({
        kind: 'raw',
        contentType: 'text/event-stream',
        body: streamFixture('openai-tool-calls.sse'),
      });
      const message = await client.messages
        .stream({
          model: 'llama',
          max_tokens: 256,
          messages: [{ role: 'user', content: 'Weather?' }],
        })
        .finalMessage();
      expect(message.content.filter((b) => b.type === 'tool_use')).toEqual([
        {
          type: 'tool_use',
          id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
          name: 'get_weather',
          input: { location: 'Paris' },
        },
        {
          type: 'tool_use',
          id: 'call_Vz8aG4q2rQ0n5Xb1LkP7sT3e',
          name: 'get_weather',
          input: { location: 'Oslo' },
        },
      ]);
      expect(message.stop_reason).toBe('tool_use');
    });

    it('forwards a tool result turn as OpenAI tool messages', async () => {
      await client.messages.create({
        model: 'llama',
        max_tokens: 64,
        messages: [
          { role: 'user', content: 'Weather?' },
          {
            role: 'assistant',
            content: [
              { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { location: 'Oslo' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'call_1', content: '3C' },
              { type: 'text', text: 'Thanks' },
            ],
          },
        ],
      });
      expect(lastOpenAI().body.messages).toEqual([
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"location":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '3C' },
        { role: 'user', content: 'Thanks' },
      ]);
    });

    it('forwards a base64 image as a data: URI', async () => {
      const message = await client.messages.create({
        model: 'llama',
        max_tokens: 32,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'text', text: 'What is this?' },
            ],
          },
        ],
      });
      expect(message.content).toEqual([{ type: 'text', text: 'You said: What is this?' }]);
      expect(lastOpenAI().body.messages[0].content[0]).toEqual({
        type: 'image_url',
        image_url: { url: `data:image/png;base64,${PNG}` },
      });
    });

    it('refuses an image URL for a model that does not take URLs, naming the Anthropic path', async () => {
      const before = openai.received.length;
      const error = await anthropicSdkError(
        client.messages.create({
          model: 'llama',
          max_tokens: 32,
          system: 'sys',
          messages: [
            { role: 'user', content: 'first' },
            { role: 'assistant', content: 'ok' },
            {
              role: 'user',
              content: [
                { type: 'text', text: 'look' },
                { type: 'image', source: { type: 'url', url: 'http://169.254.169.254/x.png' } },
              ],
            },
          ],
        }),
      );
      expect(error).toBeInstanceOf(Anthropic.BadRequestError);
      expect(error.status).toBe(400);
      expect(error.error).toEqual({
        error: {
          type: 'invalid_request_error',
          code: 'image_url_not_supported',
          message: expect.any(String),
          param: 'messages[2].content[1].source.url',
        },
      });
      expect(openai.received.length).toBe(before);
    });

    it('refuses an image whose bytes are not what it claims, at source.data', async () => {
      const res = await gw.post('/v1/messages', {
        model: 'llama',
        max_tokens: 32,
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'image',
                source: { type: 'base64', media_type: 'image/png', data: 'R0lGODlhAQABAAAAACw=' },
              },
            ],
          },
        ],
      });
      expectApiError(res, 400, 'image_decode_error', {
        param: 'messages[0].content[0].source.data',
      });
      expect(res.body.error.message).toContain('messages[0].content[0].source.data');
    });

    it('floors max_tokens and says so in x-parley-applied', async () => {
      const res = await gw.post('/v1/messages', {
        model: 'llama',
        max_tokens: 1,
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-parley-applied')).toBe('max_tokens_floored=16');
      expect(lastOpenAI().body.max_tokens).toBe(16);
    });

    it('ends a stream cut by the upstream with an event: error carrying the catalog envelope', async () => {
      openai.next({ kind: 'cut', chunks: 2 });
      // Spaced chunks, so the first ones reach the gateway before the socket is destroyed.
      openai.options.chunkDelayMs = 20;
      const res = await gw.post('/v1/messages', {
        model: 'llama',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'cut me' }],
      });
      const frames = parseSseFrames(res.text);
      const last = frames[frames.length - 1];
      expect(last.event).toBe('error');
      expect(JSON.parse(last.data)).toEqual({
        type: 'error',
        error: {
          type: 'upstream_error',
          code: 'upstream_error',
          message: expect.any(String),
          param: null,
        },
      });
      expect(frames.map((f) => f.event)).toEqual([
        'message_start',
        'ping',
        'content_block_start',
        'content_block_delta',
        'error',
      ]);
      expect(
        openai.received.filter((r) => r.body?.messages?.[0]?.content === 'cut me'),
      ).toHaveLength(1);
    });

    it('keeps a slow first byte alive with SSE comments the SDK skips', async () => {
      openai.options.firstByteDelayMs = 1500;
      const raw = await gw.post('/v1/messages', {
        model: 'llama',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'slow' }],
      });
      expect(raw.text.startsWith(': keep-alive\n\n')).toBe(true);
      const message = await client.messages
        .stream({ model: 'llama', max_tokens: 64, messages: [{ role: 'user', content: 'slow' }] })
        .finalMessage();
      expect(message.content).toEqual([{ type: 'text', text: 'You said: slow' }]);
    });

    it('aborts the upstream when the client hangs up mid-stream', async () => {
      openai.options.chunkDelayMs = 200;
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'llama',
          max_tokens: 64,
          stream: true,
          messages: [{ role: 'user', content: 'hang up on me' }],
        }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      const record = lastOpenAI();
      const deadline = Date.now() + 2000;
      while (!record.hungUp && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(record.body.messages).toEqual([{ role: 'user', content: 'hang up on me' }]);
      expect(record.hungUp).toBe(true);
    });

    it('makes the SDK raise the mid-stream error as an APIError', async () => {
      openai.next({ kind: 'cut', chunks: 2 });
      openai.options.chunkDelayMs = 20;
      const stream = await client.messages.create({
        model: 'llama',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'cut me' }],
      });
      const error = await anthropicSdkError(
        (async () => {
          for await (const _event of stream) {
            // drain
          }
        })(),
      );
      expect(error.error).toMatchObject({ type: 'error', error: { code: 'upstream_error' } });
    });
  });

  describe('errors, as the Anthropic SDK surfaces them', () => {
    it('answers 400 model_not_in_allowlist as a BadRequestError', async () => {
      const error = await anthropicSdkError(
        client.messages.create({
          model: 'gpt-nope',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      expect(error).toBeInstanceOf(Anthropic.BadRequestError);
      expect(error.error).toEqual({
        error: {
          type: 'invalid_request_error',
          code: 'model_not_in_allowlist',
          message: expect.any(String),
          param: 'model',
        },
      });
    });

    it('answers 401 as an AuthenticationError', async () => {
      const stranger = new Anthropic({ baseURL: gw.url, apiKey: 'pk-wrong', maxRetries: 0 });
      const error = await anthropicSdkError(
        stranger.messages.create({
          model: 'llama',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(error.status).toBe(401);
      expect((error.error as any).error.code).toBe('invalid_authorization');
    });

    it('answers 502 upstream_error with the upstream message as an InternalServerError', async () => {
      openai.next({
        kind: 'error',
        status: 500,
        body: { object: 'error', message: 'GPU on fire' },
      });
      const error = await anthropicSdkError(
        client.messages.create({
          model: 'llama',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      expect(error).toBeInstanceOf(Anthropic.InternalServerError);
      expect(error.status).toBe(502);
      expect((error.error as any).error).toMatchObject({
        code: 'upstream_error',
        message: expect.stringContaining('GPU on fire'),
      });
    });

    it.each([
      [
        'no max_tokens',
        { model: 'llama', messages: [{ role: 'user', content: 'x' }] },
        'missing_field',
        'max_tokens',
      ],
      [
        'a system role in messages',
        { model: 'llama', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] },
        'invalid_field',
        'messages[0].role',
      ],
      [
        'a server tool for an openai upstream',
        {
          model: 'llama',
          max_tokens: 5,
          tools: [{ type: 'web_search_20250305', name: 'web_search' }],
          messages: [{ role: 'user', content: 'x' }],
        },
        'invalid_field',
        'tools[0].type',
      ],
    ] as const)(
      'answers 400 for %s with the catalog envelope',
      async (_name, body, code, param) => {
        const res = await gw.post('/v1/messages', body);
        expectApiError(res, 400, code, { param });
      },
    );
  });

  describe('passed through to an anthropic upstream', () => {
    it('sends the client body natively with the upstream key and version, and passes the answer back', async () => {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'x-api-key': TEST_API_KEY,
          'anthropic-version': '2023-06-01',
          'anthropic-beta': 'interleaved-thinking-2025-05-14',
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          model: 'claude',
          max_tokens: 100,
          system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
          thinking: { type: 'enabled', budget_tokens: 64 },
          messages: [{ role: 'user', content: [{ type: 'text', text: 'native please' }] }],
        }),
      });
      const body = await res.json();
      expect(res.status).toBe(200);
      expect(body).toMatchObject({
        type: 'message',
        model: 'claude-sonnet-4-5',
        content: [{ type: 'text', text: 'You said: native please' }],
        stop_reason: 'end_turn',
      });
      expect(res.headers.get('set-cookie')).toBeNull();
      const forwarded = lastAnthropic();
      expect(forwarded.url).toBe('/v1/messages');
      expect(forwarded.headers['x-api-key']).toBe(UPSTREAM_KEY);
      expect(forwarded.headers['anthropic-version']).toBe('2023-06-01');
      expect(forwarded.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
      expect(forwarded.headers.authorization).toBeUndefined();
      expect(forwarded.body).toEqual({
        model: 'claude-sonnet-4-5',
        max_tokens: 100,
        system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
        thinking: { type: 'enabled', budget_tokens: 64 },
        messages: [{ role: 'user', content: [{ type: 'text', text: 'native please' }] }],
      });
    });

    it('passes images through natively (URL sources too: this model takes URLs)', async () => {
      const content = [
        {
          type: 'image' as const,
          source: { type: 'base64' as const, media_type: 'image/png' as const, data: PNG },
        },
        {
          type: 'image' as const,
          source: { type: 'url' as const, url: 'https://example.com/cat.png' },
        },
        { type: 'text' as const, text: 'Compare' },
      ];
      const message = await client.messages.create({
        model: 'claude',
        max_tokens: 50,
        messages: [{ role: 'user', content }],
      });
      expect(message.content).toEqual([{ type: 'text', text: 'You said: Compare' }]);
      expect(lastAnthropic().body.messages).toEqual([{ role: 'user', content }]);
    });

    it('checks native images like translated ones', async () => {
      const before = anthropic.received.length;
      const res = await gw.post('/v1/messages', {
        model: 'claude',
        max_tokens: 50,
        messages: [
          { role: 'user', content: 'first' },
          { role: 'assistant', content: 'ok' },
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: PNG } },
            ],
          },
        ],
      });
      expectApiError(res, 400, 'image_decode_error', {
        param: 'messages[2].content[0].source.data',
      });
      expect(anthropic.received.length).toBe(before);
    });

    it('streams the upstream events through unchanged, thinking signature included', async () => {
      anthropic.next({
        kind: 'message',
        content: [
          { type: 'thinking', thinking: 'Let me think.', signature: 'sig-xyz' },
          { type: 'text', text: 'Done thinking.' },
          { type: 'tool_use', id: 'toolu_01', name: 'calc', input: { expr: '2+2' } },
        ],
      });
      const stream = client.messages.stream({
        model: 'claude',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'think' }],
      });
      const types: string[] = [];
      stream.on('streamEvent', (event) => types.push(event.type));
      const message = await stream.finalMessage();
      expect(message.content).toEqual([
        { type: 'thinking', thinking: 'Let me think.', signature: 'sig-xyz' },
        { type: 'text', text: 'Done thinking.' },
        { type: 'tool_use', id: 'toolu_01', name: 'calc', input: { expr: '2+2' } },
      ]);
      expect(types[0]).toBe('message_start');
      expect(types.at(-1)).toBe('message_stop');
      expect(lastAnthropic().body.stream).toBe(true);
    });

    it('turns the upstream error event into the catalog error event', async () => {
      anthropic.next({
        kind: 'raw',
        contentType: 'text/event-stream',
        body: streamFixture('anthropic-overloaded.sse'),
      });
      const res = await gw.post('/v1/messages', {
        model: 'claude',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'x' }],
      });
      const frames = parseSseFrames(res.text);
      expect(frames.map((f) => f.event)).toEqual([
        'message_start',
        'content_block_start',
        'content_block_delta',
        'error',
      ]);
      expect(JSON.parse(frames[3].data)).toEqual({
        type: 'error',
        error: {
          type: 'upstream_error',
          code: 'upstream_error',
          message: 'The model server reported: Overloaded',
          param: null,
        },
      });
    });

    it('answers an upstream 529 as 502 upstream_error with its message', async () => {
      anthropic.next({ kind: 'error', status: 529 });
      const res = await gw.post('/v1/messages', {
        model: 'claude',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'x' }],
      });
      expectApiError(res, 502, 'upstream_error', { message: /fake anthropic failure 529/ });
    });
  });

  describe('/v1/chat/completions to an anthropic upstream (reverse translation)', () => {
    let oai: OpenAI;
    beforeAll(() => {
      oai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: TEST_API_KEY, maxRetries: 0 });
    });

    it('translates the request and the JSON answer', async () => {
      const completion = await oai.chat.completions.create({
        model: 'claude',
        messages: [
          { role: 'system', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            ],
          },
        ],
        stop: 'END',
      });
      expect(completion).toMatchObject({
        object: 'chat.completion',
        model: 'claude',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'You said: Describe' },
            finish_reason: 'stop',
          },
        ],
      });
      expect(completion.usage?.prompt_tokens).toBeGreaterThan(0);
      expect(lastAnthropic().body).toEqual({
        model: 'claude-sonnet-4-5',
        max_tokens: 8192,
        system: 'Be brief.',
        stop_sequences: ['END'],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            ],
          },
        ],
      });
    });

    it('streams chunks, tool calls by index, the usage chunk and [DONE]', async () => {
      anthropic.next({
        kind: 'message',
        content: [
          { type: 'text', text: 'Calling.' },
          { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_b', name: 'get_weather', input: { city: 'Oslo' } },
        ],
      });
      const stream = await oai.chat.completions.create({
        model: 'claude',
        max_tokens: 200,
        stream: true,
        stream_options: { include_usage: true },
        tools: [
          {
            type: 'function',
            function: { name: 'get_weather', parameters: { type: 'object' } },
          },
        ],
        messages: [{ role: 'user', content: 'Weather?' }],
      });
      let text = '';
      const args: string[] = [];
      const names: string[] = [];
      let finish: string | null = null;
      let usage: unknown = null;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        text += choice?.delta?.content ?? '';
        for (const call of choice?.delta?.tool_calls ?? []) {
          args[call.index] = (args[call.index] ?? '') + (call.function?.arguments ?? '');
          if (call.function?.name) {
            names[call.index] = call.function.name;
          }
        }
        finish = choice?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      expect(text).toBe('Calling.');
      expect(names).toEqual(['get_weather', 'get_weather']);
      expect(args.map((a) => JSON.parse(a))).toEqual([{ city: 'Paris' }, { city: 'Oslo' }]);
      expect(finish).toBe('tool_calls');
      expect(usage).toMatchObject({
        prompt_tokens: expect.any(Number),
        completion_tokens: expect.any(Number),
      });
      expect(lastAnthropic().body.tools).toEqual([
        { name: 'get_weather', input_schema: { type: 'object' } },
      ]);
    });

    it('ends the raw stream with [DONE] after the finish chunk', async () => {
      const res = await gw.post('/v1/chat/completions', {
        model: 'claude',
        stream: true,
        messages: [{ role: 'user', content: 'raw' }],
      });
      const frames = parseSseFrames(res.text);
      expect(frames.at(-1)?.data).toBe('[DONE]');
      const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.data));
      expect(chunks.some((c) => c.usage)).toBe(false);
      expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
      expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('You said: raw');
    });

    it('refuses n > 1 before calling the upstream', async () => {
      const before = anthropic.received.length;
      const res = await gw.post('/v1/chat/completions', {
        model: 'claude',
        n: 2,
        messages: [{ role: 'user', content: 'x' }],
      });
      expectApiError(res, 400, 'invalid_field', { param: 'n' });
      expect(anthropic.received.length).toBe(before);
    });
  });
});

describe('/v1/messages streams at shutdown', () => {
  it('lets a stream finish within the grace period, and cuts one still running at its end with an event: error', async () => {
    const quick = await startFakeUpstream({ chunkDelayMs: 50, streamChunks: 6 });
    const slow = await startFakeUpstream({ chunkDelayMs: 300, streamChunks: 40 });
    const gw = await startGateway({
      env: { SHUTDOWN_GRACE_SECS: '3' },
      models: {
        models: [
          {
            alias: 'quick',
            upstreams: [{ url: quick.url, format: 'openai', model: 'q' }],
            constraints,
          },
          {
            alias: 'slow',
            upstreams: [{ url: slow.url, format: 'openai', model: 's' }],
            constraints,
          },
        ],
      },
    });
    const shutdown: { closing?: Promise<void> } = {};
    const ask = (model: string) =>
      postSse(
        `${gw.url}/v1/messages`,
        {
          model,
          max_tokens: 256,
          stream: true,
          messages: [{ role: 'user', content: 'a long answer '.repeat(20) }],
        },
        {
          headers: { 'x-api-key': TEST_API_KEY },
          onEvent: () => {
            // SIGTERM's drain, once both streams have started.
            if (quick.received.length > 0 && slow.received.length > 0) {
              shutdown.closing ??= gw.close();
            }
          },
        },
      );
    const [finished, cut] = await Promise.all([ask('quick'), ask('slow')]);
    await shutdown.closing;
    expect(shutdown.closing).toBeDefined();

    const finishedFrames = parseSseFrames(finished.text);
    expect(finishedFrames.at(-1)?.event).toBe('message_stop');
    const text = finishedFrames
      .map((f) => JSON.parse(f.data))
      .filter((d) => d.type === 'content_block_delta')
      .map((d) => d.delta.text)
      .join('');
    expect(text).toBe(`You said: ${'a long answer '.repeat(20)}`);

    const cutFrames = parseSseFrames(cut.text);
    expect(cutFrames.length).toBeGreaterThan(2);
    expect(cutFrames.at(-1)?.event).toBe('error');
    expect(JSON.parse(cutFrames.at(-1)!.data)).toEqual({
      type: 'error',
      error: expect.objectContaining({ code: 'server_overloaded', type: 'upstream_error' }),
    });
    expect(slow.received[0].hungUp).toBe(true);
    await quick.close();
    await slow.close();
  });
});
