import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { openConstraints } from 'test/support/fake-catalog';
import { anthropicSdkError } from 'test/support/anthropic-sdk-error';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { parseSseFrames } from 'test/support/sse-frames';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * /c1/messages end to end, driven by the official `@anthropic-ai/sdk` (x-api-key auth), and
 * one conversation moving between an `openai` and an `anthropic` upstream, and between
 * /c1/chat/completions and /c1/messages. What each fake upstream received proves which
 * history was forwarded, in which format.
 */

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const UPSTREAM_KEY = 'sk-ant-upstream-0123456789';

const constraints = openConstraints();

describe('/c1/messages', () => {
  let oa: FakeUpstream;
  let an: FakeAnthropicUpstream;
  let gw: TestGateway;
  let anthropic: Anthropic;
  let openai: OpenAI;

  beforeAll(async () => {
    oa = await startFakeUpstream({ streamChunks: 3 });
    an = await startFakeAnthropicUpstream({ streamChunks: 3 });
    gw = await startGateway({
      env: { FAKE_ANTHROPIC_KEY: UPSTREAM_KEY },
      models: {
        models: [
          {
            alias: 'gpt',
            upstreams: [{ url: oa.url, format: 'openai', model: 'gpt-upstream' }],
            constraints,
          },
          {
            alias: 'claude',
            upstreams: [
              {
                url: an.url,
                format: 'anthropic',
                model: 'claude-upstream',
                api_key_env: 'FAKE_ANTHROPIC_KEY',
              },
            ],
            constraints,
          },
        ],
      },
    });
    anthropic = new Anthropic({ baseURL: `${gw.url}/c1`, apiKey: TEST_API_KEY, maxRetries: 0 });
    openai = new OpenAI({ baseURL: `${gw.url}/c1`, apiKey: TEST_API_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await oa?.close();
    await an?.close();
  });

  const lastOpenAI = () => oa.received[oa.received.length - 1];
  const lastAnthropic = () => an.received[an.received.length - 1];
  const resume = (id: string) => ({ headers: { 'x-conversation-id': id } });
  const conversation = async (id: string) => {
    const res = await gw.get(`/c1/conversations/${id}`);
    expect(res.status).toBe(200);
    return res.body;
  };

  it('answers a first turn in the Anthropic shape and stores it, system prompt first', async () => {
    const { data, response } = await anthropic.messages
      .create({
        model: 'claude',
        max_tokens: 64,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'Hello' }],
      })
      .withResponse();
    const id = response.headers.get('x-conversation-id') as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(data).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'You said: Hello' }],
      stop_reason: 'end_turn',
      conversation_id: id,
    });
    const forwarded = lastAnthropic();
    expect(forwarded.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(forwarded.body).toEqual({
      model: 'claude-upstream',
      max_tokens: 64,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello' }],
    });

    const stored = await conversation(id);
    expect(stored).toMatchObject({ title: 'Hello', model: 'claude', busy: false });
    // The model is the alias that answered: set on answers only.
    expect(stored.messages.map((m: any) => [m.role, m.content, m.status, m.model])).toEqual([
      ['system', 'Be brief.', 'completed', null],
      ['user', 'Hello', 'completed', null],
      ['assistant', 'You said: Hello', 'completed', 'claude'],
    ]);
    expect(stored.messages[2]).toMatchObject({
      finish_reason: 'stop',
      usage: {
        prompt_tokens: data.usage.input_tokens,
        completion_tokens: data.usage.output_tokens,
      },
    });
  });

  it('streams the Messages event sequence, resumes by x-conversation-id, stores the same turn', async () => {
    const first = await anthropic.messages.create({
      model: 'gpt',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'one' }],
    });
    const id = (first as any).conversation_id as string;
    // Through the openai upstream, translated: the SDK's stream helper assembles it.
    const { data: stream, response } = await anthropic.messages
      .create(
        {
          model: 'gpt',
          max_tokens: 64,
          stream: true,
          messages: [{ role: 'user', content: 'two' }],
        },
        resume(id),
      )
      .withResponse();
    expect(response.headers.get('x-conversation-id')).toBe(id);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: any[] = [];
    for await (const event of stream) {
      events.push(event);
    }
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const text = events
      .filter((e) => e.type === 'content_block_delta')
      .map((e) => e.delta.text)
      .join('');
    expect(text).toBe('You said: two');
    expect(lastOpenAI().body.messages).toEqual([
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'You said: one' },
      { role: 'user', content: 'two' },
    ]);

    // The very next turn, at once, streamed by the SDK helper on the anthropic upstream: the
    // previous stream ended only once its turn was stored (no 409), and history is native.
    const final = await anthropic.messages
      .stream(
        { model: 'claude', max_tokens: 64, messages: [{ role: 'user', content: 'three' }] },
        resume(id),
      )
      .finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'You said: three' }]);
    expect(lastAnthropic().body).toEqual({
      model: 'claude-upstream',
      max_tokens: 64,
      stream: true,
      messages: [
        { role: 'user', content: 'one' },
        { role: 'assistant', content: 'You said: one' },
        { role: 'user', content: 'two' },
        { role: 'assistant', content: 'You said: two' },
        { role: 'user', content: 'three' },
      ],
    });

    const stored = await conversation(id);
    expect(stored.model).toBe('claude');
    expect(stored.messages.map((m: any) => [m.role, m.content, m.status, m.model])).toEqual([
      ['user', 'one', 'completed', null],
      ['assistant', 'You said: one', 'completed', 'gpt'],
      ['user', 'two', 'completed', null],
      ['assistant', 'You said: two', 'completed', 'gpt'],
      ['user', 'three', 'completed', null],
      ['assistant', 'You said: three', 'completed', 'claude'],
    ]);
    expect(stored.messages[3].finish_reason).toBe('stop');
    expect(stored.messages[5].usage.completion_tokens).toBe(final.usage.output_tokens);
  });

  it('continues with the model omitted: the conversation’s model serves the turn', async () => {
    const first = await anthropic.messages.create({
      model: 'claude',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'first' }],
    });
    const id = (first as any).conversation_id as string;
    const res = await gw.post(
      '/c1/messages',
      { max_tokens: 32, messages: [{ role: 'user', content: 'second' }] },
      { headers: { 'x-conversation-id': id } },
    );
    expect(res.status).toBe(200);
    expect(res.body.content).toEqual([{ type: 'text', text: 'You said: second' }]);
    expect(lastAnthropic().body.messages).toHaveLength(3);
  });

  it('surfaces errors through the SDK with the catalog status, code and param', async () => {
    const missing = await anthropicSdkError(
      anthropic.messages.create(
        { model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
        resume('6f1c0000-0000-4000-8000-000000000000'),
      ),
    );
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect(missing.status).toBe(404);
    expect((missing.error as any).error).toMatchObject({
      code: 'conversation_not_found',
      param: 'conversation_id',
    });

    const first = await anthropic.messages.create({
      model: 'claude',
      max_tokens: 16,
      system: 'One prompt.',
      messages: [{ role: 'user', content: 'start' }],
    });
    const id = (first as any).conversation_id as string;
    const system = await anthropicSdkError(
      anthropic.messages.create(
        {
          model: 'claude',
          max_tokens: 16,
          system: 'Another prompt.',
          messages: [{ role: 'user', content: 'hi' }],
        },
        resume(id),
      ),
    );
    // A system prompt on a later turn is read as a resent history that contradicts the stored one.
    expect(system).toBeInstanceOf(Anthropic.ConflictError);
    expect((system.error as any).error).toMatchObject({
      code: 'conversation_conflict',
      param: 'system',
    });

    const badBlock = await anthropicSdkError(
      anthropic.messages.create(
        {
          model: 'claude',
          max_tokens: 16,
          messages: [{ role: 'user', content: [{ type: 'text' } as any] }],
        },
        resume(id),
      ),
    );
    expect(badBlock.status).toBe(400);
    expect((badBlock.error as any).error.param).toBe('messages[0].content[0].text');

    // An upstream failure: the SDK sees the gateway's 502, the turn is failed and never
    // forwarded again.
    an.next({ kind: 'error', status: 500 });
    const upstream = await anthropicSdkError(
      anthropic.messages.create(
        { model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'doomed' }] },
        resume(id),
      ),
    );
    expect(upstream).toBeInstanceOf(Anthropic.InternalServerError);
    expect(upstream.status).toBe(502);
    expect((upstream.error as any).error.code).toBe('upstream_error');
    await anthropic.messages.create(
      { model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'after' }] },
      resume(id),
    );
    expect(lastAnthropic().body.messages).toEqual([
      { role: 'user', content: 'start' },
      { role: 'assistant', content: 'You said: start' },
      { role: 'user', content: 'after' },
    ]);
    const stored = await conversation(id);
    expect(stored.messages.map((m: any) => [m.role, m.status])).toEqual([
      ['system', 'completed'],
      ['user', 'completed'],
      ['assistant', 'completed'],
      ['user', 'failed'],
      ['assistant', 'failed'],
      ['user', 'completed'],
      ['assistant', 'completed'],
    ]);
  });

  it('ends a cut stream with an Anthropic error event and stores what arrived as incomplete', async () => {
    const first = await anthropic.messages.create({
      model: 'claude',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'begin' }],
    });
    const id = (first as any).conversation_id as string;
    // Two chunks of the openai upstream (spaced, so that they reach the gateway before the
    // socket is destroyed), translated to Anthropic events, then the cut.
    oa.next({ kind: 'cut', chunks: 2 });
    oa.options.chunkDelayMs = 20;
    const res = await fetch(`${gw.url}/c1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': TEST_API_KEY,
        'content-type': 'application/json',
        'x-conversation-id': id,
      },
      body: JSON.stringify({
        model: 'gpt',
        max_tokens: 16,
        stream: true,
        messages: [{ role: 'user', content: 'cut me off' }],
      }),
    });
    oa.options.chunkDelayMs = undefined;
    expect(res.status).toBe(200);
    const frames = parseSseFrames(await res.text());
    const last = frames[frames.length - 1];
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({
      type: 'error',
      error: { type: 'upstream_error', code: 'upstream_error' },
    });
    expect(frames.some((f) => f.event === 'message_stop')).toBe(false);

    const stored = await conversation(id);
    const [user, answer] = stored.messages.slice(-2);
    expect([user.content, user.status]).toEqual(['cut me off', 'completed']);
    expect(answer.status).toBe('incomplete');
    expect('You said: cut me off'.startsWith(answer.content)).toBe(true);
    expect(answer.content.length).toBeGreaterThan(0);
  });

  it('replays a repeated Idempotency-Key in the Anthropic shape, JSON and stream', async () => {
    const params = {
      model: 'gpt',
      max_tokens: 16,
      messages: [{ role: 'user' as const, content: 'only once' }],
    };
    const key = { headers: { 'idempotency-key': `key-${Date.now()}` } };
    const first = await anthropic.messages.create(params, key);
    const seen = oa.received.length;
    const { data: again, response } = await anthropic.messages.create(params, key).withResponse();
    expect(response.headers.get('idempotent-replayed')).toBe('true');
    expect(oa.received.length).toBe(seen);
    expect(again).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: first.content,
      stop_reason: 'end_turn',
      model: 'gpt',
      conversation_id: (first as any).conversation_id,
    });
    expect(again.usage.output_tokens).toBe(first.usage.output_tokens);

    const streamKey = { headers: { 'idempotency-key': `skey-${Date.now()}` } };
    const streamed = await anthropic.messages
      .stream({ ...params, messages: [{ role: 'user', content: 'stream once' }] }, streamKey)
      .finalMessage();
    const replayed = await anthropic.messages
      .stream({ ...params, messages: [{ role: 'user', content: 'stream once' }] }, streamKey)
      .finalMessage();
    expect(oa.received.length).toBe(seen + 1);
    expect(replayed.content).toEqual(streamed.content);
    expect(replayed.stop_reason).toBe('end_turn');
    const stored = await conversation((first as any).conversation_id);
    expect(stored.messages).toHaveLength(2);
  });

  it('moves one conversation between an openai and an anthropic upstream, and between endpoints', async () => {
    // Turn 1 — /c1/chat/completions on the openai upstream: system prompt, text and an image;
    // the model answers with a tool call.
    oa.next({
      kind: 'raw',
      contentType: 'application/json',
      body: JSON.stringify({
        id: 'chatcmpl-t1',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-upstream',
        choices: [
          {
            index: 0,
            finish_reason: 'tool_calls',
            message: {
              role: 'assistant',
              content: 'Let me check.',
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'weather', arguments: '{"city":"Oslo"}' },
                },
              ],
            },
          },
        ],
        usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 },
      }),
    });
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'weather', parameters: { type: 'object', properties: {} } },
      },
    ];
    const { data: t1, response } = await openai.chat.completions
      .create({
        model: 'gpt',
        tools,
        messages: [
          { role: 'system', content: 'You are a weather bot.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather where this photo was taken?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            ],
          },
        ],
      })
      .withResponse();
    const id = response.headers.get('x-conversation-id') as string;
    expect(t1.choices[0].message.tool_calls?.[0].id).toBe('call_1');
    expect(lastOpenAI().body.messages).toEqual([
      { role: 'system', content: 'You are a weather bot.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather where this photo was taken?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        ],
      },
    ]);

    // Turn 2 — /c1/messages on the anthropic upstream: the tool result (a failure) in Anthropic form. The
    // whole history goes natively: image as a base64 block, the call as tool_use. The model
    // thinks (signed), says something and calls another tool.
    an.next({
      kind: 'message',
      content: [
        { type: 'thinking', thinking: 'Oslo, so cold.', signature: 'sig-abc' },
        { type: 'text', text: 'Cold. Checking tomorrow.' },
        { type: 'tool_use', id: 'toolu_2', name: 'forecast', input: { day: 'tomorrow' } },
      ],
    });
    const t2 = await anthropic.messages.create(
      {
        model: 'claude',
        max_tokens: 200,
        tools: [{ name: 'forecast', input_schema: { type: 'object', properties: {} } }],
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'call_1',
                content: 'sensor offline',
                is_error: true,
              },
              { type: 'text', text: 'And tomorrow?' },
            ],
          },
        ],
      },
      resume(id),
    );
    expect(t2.content.map((b) => b.type)).toEqual(['thinking', 'text', 'tool_use']);
    expect(t2.stop_reason).toBe('tool_use');
    expect(lastAnthropic().body).toEqual({
      model: 'claude-upstream',
      max_tokens: 200,
      tools: [{ name: 'forecast', input_schema: { type: 'object', properties: {} } }],
      system: 'You are a weather bot.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather where this photo was taken?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Oslo' } },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'call_1',
              content: 'sensor offline',
              is_error: true,
            },
            { type: 'text', text: 'And tomorrow?' },
          ],
        },
      ],
    });

    // Turn 3 — /c1/chat/completions back on the openai upstream, streamed: the tool result in
    // OpenAI form. History in OpenAI form: the Anthropic turn's tool_use as tool_calls, its
    // thinking left out (OpenAI-compatible servers take no reasoning back).
    const t3 = await openai.chat.completions.create(
      {
        model: 'gpt',
        stream: true,
        messages: [
          { role: 'tool', tool_call_id: 'toolu_2', content: 'sunny' },
          { role: 'user', content: 'Shall I go?' },
        ],
      },
      resume(id),
    );
    let t3Text = '';
    for await (const chunk of t3) {
      t3Text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(t3Text).toBe('You said: Shall I go?');
    const t3Forwarded = lastOpenAI().body;
    expect(t3Forwarded.model).toBe('gpt-upstream');
    expect(t3Forwarded.messages).toEqual([
      { role: 'system', content: 'You are a weather bot.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather where this photo was taken?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        ],
      },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Oslo"}' },
          },
        ],
      },
      // Chat Completions has no error flag: the failure is said in the text.
      { role: 'tool', tool_call_id: 'call_1', content: 'Error: sensor offline' },
      { role: 'user', content: 'And tomorrow?' },
      {
        role: 'assistant',
        content: 'Cold. Checking tomorrow.',
        tool_calls: [
          {
            id: 'toolu_2',
            type: 'function',
            function: { name: 'forecast', arguments: '{"day":"tomorrow"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'sunny' },
      { role: 'user', content: 'Shall I go?' },
    ]);

    // Turn 4 — /c1/messages on the anthropic upstream again, streamed: the signed thinking of
    // turn 2 goes back (Anthropic requires it with tool use), the openai answer as text.
    const t4 = await anthropic.messages
      .stream(
        { model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'Thanks!' }] },
        resume(id),
      )
      .finalMessage();
    expect(t4.content).toEqual([{ type: 'text', text: 'You said: Thanks!' }]);
    const t4Forwarded = lastAnthropic().body;
    expect(t4Forwarded.system).toBe('You are a weather bot.');
    expect(t4Forwarded.messages.slice(3)).toEqual([
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Oslo, so cold.', signature: 'sig-abc' },
          { type: 'text', text: 'Cold. Checking tomorrow.' },
          { type: 'tool_use', id: 'toolu_2', name: 'forecast', input: { day: 'tomorrow' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_2', content: 'sunny' },
          { type: 'text', text: 'Shall I go?' },
        ],
      },
      { role: 'assistant', content: 'You said: Shall I go?' },
      { role: 'user', content: 'Thanks!' },
    ]);

    // Turn 5 — an Anthropic client on the openai upstream: the whole history rendered for it.
    const t5 = await anthropic.messages.create(
      { model: 'gpt', max_tokens: 50, messages: [{ role: 'user', content: 'Bye' }] },
      resume(id),
    );
    expect(t5.content).toEqual([{ type: 'text', text: 'You said: Bye' }]);
    expect(lastOpenAI().body.messages.slice(6)).toEqual([
      { role: 'tool', tool_call_id: 'toolu_2', content: 'sunny' },
      { role: 'user', content: 'Shall I go?' },
      { role: 'assistant', content: 'You said: Shall I go?' },
      { role: 'user', content: 'Thanks!' },
      { role: 'assistant', content: 'You said: Thanks!' },
      { role: 'user', content: 'Bye' },
    ]);

    // The conversation holds every turn, in the neutral form shown OpenAI-style.
    const stored = await conversation(id);
    expect(stored.model).toBe('gpt');
    expect(
      stored.messages.map((m: any) => [m.role, m.model, m.status, m.finish_reason ?? null]),
    ).toEqual([
      ['system', null, 'completed', null],
      ['user', null, 'completed', null],
      ['assistant', 'gpt', 'completed', 'tool_calls'],
      ['tool', null, 'completed', null],
      ['user', null, 'completed', null],
      ['assistant', 'claude', 'completed', 'tool_calls'],
      ['tool', null, 'completed', null],
      ['user', null, 'completed', null],
      ['assistant', 'gpt', 'completed', 'stop'],
      ['user', null, 'completed', null],
      ['assistant', 'claude', 'completed', 'stop'],
      ['user', null, 'completed', null],
      ['assistant', 'gpt', 'completed', 'stop'],
    ]);
    expect(stored.messages[5]).toMatchObject({
      content: 'Cold. Checking tomorrow.',
      reasoning_content: 'Oslo, so cold.',
      tool_calls: [
        {
          id: 'toolu_2',
          type: 'function',
          function: { name: 'forecast', arguments: '{"day":"tomorrow"}' },
        },
      ],
    });
    expect(stored.messages[3]).toMatchObject({ tool_call_id: 'call_1', content: 'sensor offline' });
  });
});
