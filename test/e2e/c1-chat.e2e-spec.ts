import OpenAI from 'openai';
import { openConstraints, openModel } from 'test/support/fake-catalog';
import { waitFor } from 'test/support/time';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { createKey, startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * /c1/chat/completions end to end, driven by the official `openai` SDK. What was forwarded is
 * read from the fake upstream's record, so each test proves which history went upstream.
 */

describe('/c1/chat/completions', () => {
  let up: FakeUpstream;
  let slow: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;
  let bobKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream({ streamChunks: 6 });
    slow = await startFakeUpstream({ firstByteDelayMs: 400, chunkDelayMs: 60, streamChunks: 8 });
    gw = await startGateway({
      models: {
        models: [
          openModel('fake', up.url),
          openModel('slow', slow.url, 'slow-model'),
          {
            alias: 'tiny',
            upstreams: [{ url: up.url, format: 'openai', model: 'tiny-model' }],
            constraints: openConstraints({ context_window: 300, max_output_tokens: 100 }),
          },
        ],
      },
    });
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/c1`, maxRetries: 0 });
    bobKey = (await createKey(gw, { name: 'bob laptop', user_id: 'bob' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await slow?.close();
  });

  const chats = (u: FakeUpstream) => u.received.filter((r) => r.url.endsWith('/chat/completions'));
  const lastForwarded = (u: FakeUpstream = up) => chats(u)[chats(u).length - 1].body;
  const roleText = (messages: any[]) =>
    messages.map(
      (m) => `${m.role}:${typeof m.content === 'string' ? m.content : JSON.stringify(m.content)}`,
    );

  async function newConversation(text = 'Hello', system?: string) {
    const messages: any[] = system ? [{ role: 'system', content: system }] : [];
    messages.push({ role: 'user', content: text });
    const { data, response } = await client.chat.completions
      .create({ model: 'fake', messages })
      .withResponse();
    const id = response.headers.get('x-conversation-id') as string;
    return { id, data: data as any };
  }

  async function turn(id: string, text: string, extra: Record<string, unknown> = {}) {
    return client.chat.completions
      .create({ messages: [{ role: 'user', content: text }], ...extra } as any, {
        headers: { 'x-conversation-id': id },
      })
      .withResponse();
  }

  it('creates a conversation: system prompt stored first, id in the header and the body', async () => {
    const { id, data } = await newConversation('What is Parley?', 'Be brief.');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(data.conversation_id).toBe(id);
    expect(data.choices[0].message.content).toBe('You said: What is Parley?');
    expect(roleText(lastForwarded().messages)).toEqual([
      'system:Be brief.',
      'user:What is Parley?',
    ]);
    expect(lastForwarded().model).toBe('fake-model');

    const res = await gw.get(`/c1/conversations/${id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      object: 'conversation',
      title: 'What is Parley?',
      model: 'fake',
      busy: false,
    });
    expect(res.body.messages.map((m: any) => [m.role, m.content, m.status])).toEqual([
      ['system', 'Be brief.', 'completed'],
      ['user', 'What is Parley?', 'completed'],
      ['assistant', 'You said: What is Parley?', 'completed'],
    ]);
    const assistant = res.body.messages[2];
    expect(assistant).toMatchObject({ finish_reason: 'stop', model: 'fake', error: null });
    expect(assistant.usage).toEqual({
      prompt_tokens: data.usage.prompt_tokens,
      completion_tokens: data.usage.completion_tokens,
      total_tokens: data.usage.prompt_tokens + data.usage.completion_tokens,
    });
    expect(res.body.last_message_id).toBe(assistant.id);
  });

  it('continues by x-conversation-id with the model omitted, forwarding the whole history', async () => {
    const { id } = await newConversation('one', 'sys');
    const { data, response } = await turn(id, 'two');
    expect(response.headers.get('x-conversation-id')).toBe(id);
    expect((data as any).conversation_id).toBe(id);
    expect(lastForwarded().model).toBe('fake-model');
    expect(roleText(lastForwarded().messages)).toEqual([
      'system:sys',
      'user:one',
      'assistant:You said: one',
      'user:two',
    ]);
  });

  it('forwards a long history with multi-byte text intact, turn after turn', async () => {
    const long = 'héllo wörld 🌍 '.repeat(3000);
    const { id } = await newConversation(long);
    await turn(id, 'two');
    await turn(id, 'three');
    expect(roleText(lastForwarded().messages)).toEqual([
      `user:${long}`,
      `assistant:You said: ${long}`,
      'user:two',
      'assistant:You said: two',
      'user:three',
    ]);
  });

  it('accepts conversation_id in the body, and refuses a header and body that differ', async () => {
    const { id } = await newConversation('body id');
    const { data } = await client.chat.completions
      .create({ messages: [{ role: 'user', content: 'again' }], conversation_id: id } as any)
      .withResponse();
    expect((data as any).conversation_id).toBe(id);
    const other = (await newConversation('other')).id;
    const res = await gw.post(
      '/c1/chat/completions',
      { conversation_id: id, messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-conversation-id': other } },
    );
    expectApiError(res, 400, 'invalid_field', { param: 'conversation_id' });
  });

  it('requires a model on the first turn', async () => {
    const res = await gw.post('/c1/chat/completions', {
      messages: [{ role: 'user', content: 'x' }],
    });
    expectApiError(res, 400, 'missing_field', { param: 'model' });
  });

  it('uses the /v1 validation: model outside the catalog', async () => {
    const res = await gw.post('/c1/chat/completions', {
      model: 'nope',
      messages: [{ role: 'user', content: 'x' }],
    });
    expectApiError(res, 400, 'model_not_in_allowlist', { param: 'model' });
  });

  it('answers 404 for an unknown id, a malformed id and another user’s id, identically', async () => {
    const { id } = await newConversation('mine');
    const unknown = await gw.post(
      '/c1/chat/completions',
      { messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-conversation-id': '00000000-0000-4000-8000-000000000000' } },
    );
    const malformed = await gw.post(
      '/c1/chat/completions',
      { messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-conversation-id': 'not-an-id' } },
    );
    const foreign = await gw.post(
      '/c1/chat/completions',
      { messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-conversation-id': id }, key: bobKey },
    );
    for (const res of [unknown, malformed, foreign]) {
      expectApiError(res, 404, 'conversation_not_found');
      expect(res.body).toEqual(unknown.body);
    }
    const sdk = await client.chat.completions
      .create({ messages: [{ role: 'user', content: 'x' }] } as any, {
        headers: { 'x-conversation-id': '00000000-0000-4000-8000-000000000000' },
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(sdk).toBeInstanceOf(OpenAI.NotFoundError);
    expect((sdk as any).code).toBe('conversation_not_found');
  });

  it('marks a turn failed on an upstream error, keeps it, and never forwards it again', async () => {
    const { id } = await newConversation('before failure');
    up.next({ kind: 'error', status: 500 });
    const error = await turn(id, 'doomed').then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as any).status).toBe(502);
    expect((error as any).code).toBe('upstream_error');
    const res = await gw.get(`/c1/conversations/${id}`);
    expect(res.body.messages.map((m: any) => [m.role, m.status, m.error])).toEqual([
      ['user', 'completed', null],
      ['assistant', 'completed', null],
      ['user', 'failed', { code: 'upstream_error' }],
      ['assistant', 'failed', { code: 'upstream_error' }],
    ]);
    await turn(id, 'after failure');
    expect(roleText(lastForwarded().messages)).toEqual([
      'user:before failure',
      'assistant:You said: before failure',
      'user:after failure',
    ]);
  });

  it('streams chunks through and stores the same turn a JSON answer stores', async () => {
    const { id } = await newConversation('stream me');
    const { data: stream, response } = await client.chat.completions
      .create({ messages: [{ role: 'user', content: 'tell me a story' }], stream: true } as any, {
        headers: { 'x-conversation-id': id },
      })
      .withResponse();
    expect(response.headers.get('x-conversation-id')).toBe(id);
    let text = '';
    let chunks = 0;
    for await (const chunk of stream as any) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe('You said: tell me a story');
    expect(chunks).toBeGreaterThanOrEqual(6);
    const json = await turn(id, 'tell me a story');
    const res = await gw.get(`/c1/conversations/${id}`);
    const [, , , streamed, , plain] = res.body.messages;
    const strip = (m: any) => ({ ...m, id: undefined, created_at: undefined, usage: undefined });
    expect(strip(streamed)).toEqual(strip(plain));
    expect(streamed).toMatchObject({ status: 'completed', finish_reason: 'stop', content: text });
    expect((json.data as any).choices[0].message.content).toBe(text);
  });

  it('stores what arrived as incomplete when the upstream cuts the stream, and sends upstream_error', async () => {
    const { id } = await newConversation('cut');
    // Chunks must be paced: a socket destroyed right after its first writes looks like a reset
    // before any response (which the proxy retries), not like a cut stream.
    slow.next({ kind: 'cut', chunks: 3 });
    const stream = await client.chat.completions.create(
      {
        model: 'slow',
        messages: [{ role: 'user', content: 'a long answer please' }],
        stream: true,
      } as any,
      { headers: { 'x-conversation-id': id } },
    );
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream as any) {
        text += chunk.choices[0]?.delta?.content ?? '';
      }
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as any).code ?? (error as any).error?.code).toBe('upstream_error');
    expect(text.length).toBeGreaterThan(0);
    const res = await gw.get(`/c1/conversations/${id}`);
    const [, , user, assistant] = res.body.messages;
    expect(user.status).toBe('completed');
    expect(assistant).toMatchObject({ status: 'incomplete', content: text });
    // `model` omitted: the conversation's model is the one its last turn used.
    await turn(id, 'continue');
    expect(lastForwarded(slow).model).toBe('slow-model');
    expect(roleText(lastForwarded(slow).messages).slice(2)).toEqual([
      'user:a long answer please',
      `assistant:${text}`,
      'user:continue',
    ]);
  });

  it('finishes a stream in the background when the client hangs up, and stores the whole answer', async () => {
    const { id } = await newConversation('bg');
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      {
        model: 'slow',
        messages: [{ role: 'user', content: 'keep going without me' }],
        stream: true,
      } as any,
      { headers: { 'x-conversation-id': id }, signal: controller.signal },
    );
    for await (const _chunk of stream as any) {
      controller.abort();
      break;
    }
    const done = await waitFor(async () => {
      const res = await gw.get(`/c1/conversations/${id}`);
      return res.body.busy ? null : res.body;
    });
    expect(done.messages[3]).toMatchObject({
      role: 'assistant',
      status: 'completed',
      content: 'You said: keep going without me',
    });
    expect(chats(slow)[chats(slow).length - 1].hungUp).toBe(false);
  });

  it('aborts the upstream with x-on-disconnect: cancel and stores the partial answer as incomplete', async () => {
    const { id } = await newConversation('cancel');
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      {
        model: 'slow',
        messages: [{ role: 'user', content: 'stop when I leave' }],
        stream: true,
      } as any,
      {
        headers: { 'x-conversation-id': id, 'x-on-disconnect': 'cancel' },
        signal: controller.signal,
      },
    );
    let text = '';
    for await (const chunk of stream as any) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (text.length > 0) {
        controller.abort();
        break;
      }
    }
    const done = await waitFor(async () => {
      const res = await gw.get(`/c1/conversations/${id}`);
      return res.body.busy ? null : res.body;
    });
    const assistant = done.messages[3];
    expect(assistant.status).toBe('incomplete');
    expect('You said: stop when I leave'.startsWith(assistant.content ?? '')).toBe(true);
    expect((assistant.content ?? '').length).toBeLessThan('You said: stop when I leave'.length);
    await waitFor(async () => (chats(slow)[chats(slow).length - 1].hungUp ? true : null));
  });

  it('refuses a concurrent turn with 409 conversation_busy, decided by the database', async () => {
    const { id } = await newConversation('busy');
    const first = client.chat.completions.create(
      { model: 'slow', messages: [{ role: 'user', content: 'slow one' }] } as any,
      { headers: { 'x-conversation-id': id } },
    );
    await waitFor(async () =>
      chats(slow).some((r) => r.body?.messages?.at(-1)?.content === 'slow one') ? true : null,
    );
    const second = await gw.post(
      '/c1/chat/completions',
      { messages: [{ role: 'user', content: 'too soon' }] },
      { headers: { 'x-conversation-id': id } },
    );
    expectApiError(second, 409, 'conversation_busy', { param: null });
    await first;
    const many = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        gw.post(
          '/c1/chat/completions',
          { model: 'slow', messages: [{ role: 'user', content: `race ${i}` }] },
          { headers: { 'x-conversation-id': id } },
        ),
      ),
    );
    expect(many.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    const res = await gw.get(`/c1/conversations/${id}`);
    expect(res.body.messages).toHaveLength(6);
  });

  it('makes a turn conditional on expected_last_message_id: 409 conversation_conflict', async () => {
    const { id } = await newConversation('cond');
    const detail = (await gw.get(`/c1/conversations/${id}`)).body;
    const stale = await gw.post(
      '/c1/chat/completions',
      {
        messages: [{ role: 'user', content: 'x' }],
        expected_last_message_id: detail.messages[0].id,
      },
      { headers: { 'x-conversation-id': id } },
    );
    expectApiError(stale, 409, 'conversation_conflict', { param: 'expected_last_message_id' });
    const { data } = await turn(id, 'on the head', {
      expected_last_message_id: detail.last_message_id,
    });
    expect((data as any).choices[0].message.content).toBe('You said: on the head');
    expect(lastForwarded().expected_last_message_id).toBeUndefined();
    expect(lastForwarded().conversation_id).toBeUndefined();
  });

  it('returns the stored answer for a repeated Idempotency-Key instead of appending twice', async () => {
    const { id } = await newConversation('idem');
    const before = chats(up).length;
    const send = (text: string) =>
      gw.post(
        '/c1/chat/completions',
        { messages: [{ role: 'user', content: text }] },
        { headers: { 'x-conversation-id': id, 'idempotency-key': 'retry-1' } },
      );
    const a = await send('only once');
    const b = await send('only once');
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.choices[0].message).toEqual(a.body.choices[0].message);
    expect(b.body.conversation_id).toBe(id);
    expect(b.headers.get('x-conversation-id')).toBe(id);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(a.headers.get('idempotent-replayed')).toBeNull();
    expect(chats(up).length).toBe(before + 1);
    expect((await gw.get(`/c1/conversations/${id}`)).body.messages).toHaveLength(4);
    const different = await send('something else');
    expectApiError(different, 400, 'invalid_field', { param: 'idempotency-key' });
    // The same key on a new conversation, with the same body, replays that new conversation.
    const fresh = () =>
      gw.post(
        '/c1/chat/completions',
        { model: 'fake', messages: [{ role: 'user', content: 'new' }] },
        {
          headers: { 'idempotency-key': 'new-conv-1' },
        },
      );
    const c1 = await fresh();
    const c2 = await fresh();
    expect(c2.body.conversation_id).toBe(c1.body.conversation_id);
  });

  it('replays a streamed turn for a repeated Idempotency-Key as a stream', async () => {
    const { id } = await newConversation('idem stream');
    const before = chats(up).length;
    const run = async () => {
      const stream = await client.chat.completions.create(
        { messages: [{ role: 'user', content: 'stream once' }], stream: true } as any,
        { headers: { 'x-conversation-id': id, 'idempotency-key': 'stream-retry-1' } },
      );
      let text = '';
      for await (const chunk of stream as any) {
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      return text;
    };
    expect(await run()).toBe('You said: stream once');
    expect(await run()).toBe('You said: stream once');
    expect(chats(up).length).toBe(before + 1);
    expect((await gw.get(`/c1/conversations/${id}`)).body.messages).toHaveLength(4);
  });

  it('leaves the oldest turns out of what is forwarded when the history outgrows the window', async () => {
    const long = (i: number) => `turn ${i} ` + 'lorem ipsum dolor sit amet '.repeat(8);
    const first = await client.chat.completions
      .create({
        model: 'tiny',
        messages: [
          { role: 'system', content: 'S' },
          { role: 'user', content: long(0) },
        ],
      })
      .withResponse();
    const id = first.response.headers.get('x-conversation-id') as string;
    let applied: string | null = null;
    for (let i = 1; i <= 4; i++) {
      const res = await turn(id, long(i), { max_tokens: 50 });
      applied = res.response.headers.get('x-parley-applied');
    }
    const forwarded = lastForwarded().messages;
    expect(forwarded[0]).toEqual({ role: 'system', content: 'S' });
    expect(forwarded[forwarded.length - 1].content).toBe(long(4));
    const stored = (await gw.get(`/c1/conversations/${id}`)).body.messages;
    const omitted = stored.length - 1 /* new assistant */ - forwarded.length;
    expect(omitted).toBeGreaterThan(0);
    expect(applied).toContain(`history_truncated=${omitted}`);
    expect(stored).toHaveLength(11);
  });

  it('refuses a system prompt the conversation does not have: 409 conversation_conflict', async () => {
    const { id } = await newConversation('sys later');
    const res = await gw.post(
      '/c1/chat/completions',
      {
        messages: [
          { role: 'system', content: 'new rules' },
          { role: 'user', content: 'x' },
        ],
      },
      { headers: { 'x-conversation-id': id } },
    );
    expectApiError(res, 409, 'conversation_conflict', { param: 'messages[0]' });
  });

  it('still refuses a system message after the start of the turn', async () => {
    const { id } = await newConversation('sys in the middle');
    const res = await gw.post(
      '/c1/chat/completions',
      {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'system', content: 'new rules' },
        ],
      },
      { headers: { 'x-conversation-id': id } },
    );
    expectApiError(res, 400, 'invalid_field', { param: 'messages[1].role' });
  });

  it('stores tool calls and forwards them with the tool results on the next turn', async () => {
    const { id } = await newConversation('weather?');
    up.next({
      kind: 'raw',
      contentType: 'application/json',
      body: JSON.stringify({
        id: 'chatcmpl-tool',
        object: 'chat.completion',
        created: 1,
        model: 'fake-model',
        choices: [
          {
            index: 0,
            finish_reason: 'tool_calls',
            message: {
              role: 'assistant',
              content: null,
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
        usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
      }),
    });
    const call = await turn(id, 'use the tool');
    expect((call.data as any).choices[0].finish_reason).toBe('tool_calls');
    await client.chat.completions.create(
      { messages: [{ role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' }] } as any,
      { headers: { 'x-conversation-id': id } },
    );
    const forwarded = lastForwarded().messages.slice(2);
    expect(forwarded).toEqual([
      { role: 'user', content: 'use the tool' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Oslo"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
    ]);
  });
});
