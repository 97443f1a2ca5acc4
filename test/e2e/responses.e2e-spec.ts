import OpenAI from 'openai';
import { openConstraints, openModel, openAnthropicModel } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { parseSseJson } from 'test/support/sse-frames';
import { sql } from 'test/support/sql';
import { eventually } from 'test/support/time';
import { createKey, startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

const PIXEL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/**
 * POST/GET/DELETE /v1/responses end to end, driven by the official `openai` SDK against fake
 * `openai` and `anthropic` upstreams: their records prove which history went upstream.
 */
describe('/v1/responses', () => {
  let up: FakeUpstream;
  let an: FakeAnthropicUpstream;
  let gw: TestGateway;
  let client: OpenAI;
  let bob: OpenAI;
  let bobKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream({ streamChunks: 4 });
    an = await startFakeAnthropicUpstream({ streamChunks: 3 });
    gw = await startGateway({
      env: { FAKE_ANTHROPIC_KEY: 'sk-ant-upstream-0123456789' },
      models: {
        models: [
          openModel('fake', up.url),
          openAnthropicModel('claude', an.url),
          {
            alias: 'tiny',
            upstreams: [{ url: up.url, format: 'openai', model: 'tiny-model' }],
            constraints: openConstraints({ context_window: 300, max_output_tokens: 100 }),
          },
        ],
      },
    });
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    bobKey = (await createKey(gw, { name: 'bob', user_id: 'bob' })).key;
    bob = new OpenAI({ apiKey: bobKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await an?.close();
  });

  const chats = (u: { received: { url: string; body: any }[] }) =>
    u.received.filter((r) => /\/(chat\/completions|messages)$/.test(r.url));
  const lastForwarded = (u: { received: { url: string; body: any }[] } = up) =>
    chats(u)[chats(u).length - 1].body;
  const roleText = (messages: any[]) =>
    messages.map((m) => {
      const content =
        typeof m.content === 'string'
          ? m.content
          : Array.isArray(m.content)
            ? m.content.map((p: any) => p.text ?? p.type).join('|')
            : '';
      const calls = m.tool_calls ? ` calls:${m.tool_calls.map((c: any) => c.function.name)}` : '';
      return `${m.role}:${content}${calls}`;
    });
  const count = async (table: string) =>
    Number((await sql<{ n: number }>(gw.databaseUrl, `SELECT COUNT(*) AS n FROM ${table}`))[0].n);

  it('answers a string input with a response object, stores it, and lists its input items', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input: 'Hello there',
      instructions: 'Be brief.',
      metadata: { topic: 'greeting' },
    });
    expect(response.id).toMatch(/^resp_[0-9a-f-]{36}$/);
    expect(response).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'fake',
      instructions: 'Be brief.',
      metadata: { topic: 'greeting' },
      store: true,
      previous_response_id: null,
      conversation: null,
      error: null,
    });
    expect(response.output_text).toBe('You said: Hello there');
    expect(response.output).toHaveLength(1);
    expect(response.output[0]).toMatchObject({
      type: 'message',
      role: 'assistant',
      status: 'completed',
    });
    expect(response.output[0].id).toMatch(/^msg_/);
    const usage = response.usage!;
    expect(usage.input_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
    expect(roleText(lastForwarded().messages)).toEqual(['system:Be brief.', 'user:Hello there']);
    expect(lastForwarded().model).toBe('fake-model');

    const retrieved = await client.responses.retrieve(response.id);
    expect(retrieved.id).toBe(response.id);
    expect(retrieved.output).toEqual(response.output);
    expect(retrieved.usage).toEqual(response.usage);
    expect(retrieved.status).toBe('completed');

    const items = await client.responses.inputItems.list(response.id);
    expect(items.data).toEqual([
      {
        type: 'message',
        id: expect.stringMatching(/^msg_/),
        status: 'completed',
        role: 'user',
        content: [{ type: 'input_text', text: 'Hello there' }],
      },
    ]);
  });

  it('continues from previous_response_id with the whole history, instructions not carried over', async () => {
    const first = await client.responses.create({
      model: 'fake',
      input: 'one',
      instructions: 'First only.',
    });
    const second = await client.responses.create({
      model: 'fake',
      input: 'two',
      previous_response_id: first.id,
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toBe('You said: two');
    expect(roleText(lastForwarded().messages)).toEqual([
      'user:one',
      'assistant:You said: one',
      'user:two',
    ]);
    // Branching: a second continuation of `first` forks, leaving `second` where it was.
    const branch = await client.responses.create({
      model: 'fake',
      input: 'three',
      previous_response_id: first.id,
    });
    expect(roleText(lastForwarded().messages)).toEqual([
      'user:one',
      'assistant:You said: one',
      'user:three',
    ]);
    await client.responses.create({
      model: 'fake',
      input: 'four',
      previous_response_id: second.id,
    });
    expect(roleText(lastForwarded().messages)).toEqual([
      'user:one',
      'assistant:You said: one',
      'user:two',
      'assistant:You said: two',
      'user:four',
    ]);
    expect(branch.status).toBe('completed');
  });

  it('refuses an unknown, unstored or foreign previous_response_id, and both ways of continuing', async () => {
    const mine = await client.responses.create({ model: 'fake', input: 'mine' });
    const unstored = await client.responses.create({ model: 'fake', input: 'x', store: false });
    const forwarded = chats(up).length;
    for (const [key, previous] of [
      [TEST_API_KEY, 'resp_00000000-0000-4000-8000-000000000000'],
      [TEST_API_KEY, 'nonsense'],
      [TEST_API_KEY, unstored.id],
      [bobKey, mine.id],
    ]) {
      const res = await gw.post(
        '/v1/responses',
        { model: 'fake', input: 'hi', previous_response_id: previous },
        { key },
      );
      expectApiError(res, 400, 'previous_response_not_found', { param: 'previous_response_id' });
    }
    const both = await gw.post('/v1/responses', {
      model: 'fake',
      input: 'hi',
      previous_response_id: mine.id,
      conversation: 'conv_00000000-0000-4000-8000-000000000000',
    });
    expectApiError(both, 400, 'invalid_field', { param: 'previous_response_id' });
    expect(chats(up).length).toBe(forwarded);
  });

  it("answers another user's response exactly like a missing one", async () => {
    const mine = await client.responses.create({ model: 'fake', input: 'private' });
    const missingId = 'resp_00000000-0000-4000-8000-000000000000';
    for (const path of ['', '/input_items']) {
      const foreign = await gw.get(`/v1/responses/${mine.id}${path}`, { key: bobKey });
      const missing = await gw.get(`/v1/responses/${missingId}${path}`, { key: bobKey });
      expectApiError(foreign, 404, 'response_not_found');
      expect(foreign.text).toBe(missing.text);
    }
    // Cancel and event replay would refuse a response that is not a background one with a 400
    // naming the reason: for another user's they must not get that far.
    const probes: Array<[string, string]> = [
      ['DELETE', ''],
      ['POST', '/cancel'],
      ['GET', '?stream=true'],
    ];
    for (const [method, path] of probes) {
      const body = method === 'POST' ? {} : undefined;
      const foreign = await gw.request(method, `/v1/responses/${mine.id}${path}`, body, {
        key: bobKey,
      });
      const missing = await gw.request(method, `/v1/responses/${missingId}${path}`, body, {
        key: bobKey,
      });
      expectApiError(foreign, 404, 'response_not_found');
      expect(foreign.text).toBe(missing.text);
    }
    await expect(bob.responses.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    expect((await client.responses.retrieve(mine.id)).id).toBe(mine.id);
  });

  it('store: false forwards the turn and writes nothing', async () => {
    const tables = ['conversations', 'messages', 'responses'];
    const before = await Promise.all(tables.map(count));
    const response = await client.responses.create({
      model: 'fake',
      input: 'do not keep this',
      store: false,
    });
    expect(response.output_text).toBe('You said: do not keep this');
    expect((response as any).store).toBe(false);
    expect(await Promise.all(tables.map(count))).toEqual(before);
    await expect(client.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
  });

  it('store: false on a conversation forwards its history and adds nothing to it, streamed too', async () => {
    const conversation = await client.conversations.create({
      items: [{ type: 'message', role: 'user', content: 'kept' }],
    });
    const tables = ['conversations', 'messages', 'responses'];
    const before = await Promise.all(tables.map(count));
    const answered = await client.responses.create({
      model: 'fake',
      conversation: conversation.id,
      input: 'not kept',
      store: false,
    });
    expect(answered.output_text).toBe('You said: not kept');
    expect(roleText(lastForwarded().messages)).toEqual(['user:kept', 'user:not kept']);
    const stream = client.responses.stream({
      model: 'fake',
      conversation: conversation.id,
      input: 'not kept either',
      store: false,
    });
    for await (const event of stream) {
      void event;
    }
    expect((await stream.finalResponse()).output_text).toBe('You said: not kept either');
    expect(await Promise.all(tables.map(count))).toEqual(before);
    const items = await client.conversations.items.list(conversation.id);
    expect(items.data).toHaveLength(1);
    expectApiError(
      await gw.post('/v1/responses', {
        model: 'fake',
        input: 'x',
        store: false,
        background: true,
      }),
      400,
      'invalid_field',
    );
  });

  it("refuses an item_reference to another user's item exactly like a missing one", async () => {
    const mine = await client.responses.create({ model: 'fake', input: 'my secret' });
    const [item] = (await client.responses.inputItems.list(mine.id)).data;
    const forwarded = chats(up).length;
    const reference = (id: string) =>
      gw.post(
        '/v1/responses',
        { model: 'fake', input: [{ type: 'item_reference', id }] },
        { key: bobKey },
      );
    const missingId = 'msg_00000000-0000-4000-8000-000000000000';
    const foreign = await reference(item.id);
    const missing = await reference(missingId);
    expectApiError(foreign, 400, 'invalid_field', { param: 'input[0].id' });
    // The message names the id the caller sent; apart from it the answers are the same bytes.
    expect(foreign.text.replace(item.id, '<id>')).toBe(missing.text.replace(missingId, '<id>'));
    expect(chats(up).length).toBe(forwarded);
  });

  it('keeps generating and stores the answer when the client of a stream hangs up', async () => {
    up.options.chunkDelayMs = 60;
    try {
      const input = 'finish this even though nobody is listening any more';
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fake', input, stream: true }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      let head = '';
      while (!head.includes('response.created') || !head.includes('\n\n')) {
        head += new TextDecoder().decode((await reader.read()).value);
      }
      controller.abort();
      const id = /"id":"(resp_[^"]+)"/.exec(head)![1];
      const stored = await eventually(async () => {
        const r = await client.responses.retrieve(id);
        expect(r.status).toBe('completed');
        return r;
      });
      expect(stored.output_text).toBe(`You said: ${input}`);
      expect(up.received[up.received.length - 1].hungUp).toBe(false);
    } finally {
      up.options.chunkDelayMs = undefined;
    }
  });

  it('deletes a response: gone from GET, its turn stays in the conversation', async () => {
    const response = await client.responses.create({ model: 'fake', input: 'delete me' });
    const deleted = await gw.delete(`/v1/responses/${response.id}`);
    expect(deleted.body).toEqual({ id: response.id, object: 'response.deleted', deleted: true });
    expectApiError(await gw.get(`/v1/responses/${response.id}`), 404, 'response_not_found');
    expectApiError(await gw.delete(`/v1/responses/${response.id}`), 404, 'response_not_found');

    // A response whose conversation was deleted on /c1 is gone too (not in_progress forever).
    const other = await client.responses.create({
      model: 'fake',
      input: 'in a doomed conversation',
    });
    const conversation = (
      await sql<{ conversation_id: string }>(
        gw.databaseUrl,
        'SELECT conversation_id FROM responses WHERE id = $1',
        [other.id.slice('resp_'.length)],
      )
    )[0].conversation_id;
    expect((await gw.delete(`/c1/conversations/${conversation}`)).status).toBe(200);
    expectApiError(await gw.get(`/v1/responses/${other.id}`), 404, 'response_not_found');
    expectApiError(
      await gw.get(`/v1/responses/${other.id}/input_items`),
      404,
      'response_not_found',
    );
  });

  it('streams the typed events with strictly increasing sequence numbers', async () => {
    const stream = client.responses.stream({ model: 'fake', input: 'stream me please' });
    const events: any[] = [];
    for await (const event of stream) {
      events.push(event);
    }
    const final = await stream.finalResponse();
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array(4).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(
      events
        .filter((e) => e.delta)
        .map((e) => e.delta)
        .join(''),
    ).toBe('You said: stream me please');
    expect(final.output_text).toBe('You said: stream me please');
    expect(final.status).toBe('completed');
    const completed = events[events.length - 1].response;
    const retrieved = await client.responses.retrieve(final.id);
    expect(retrieved.output).toEqual(completed.output);
    expect(retrieved.usage).toEqual(completed.usage);
    expect(retrieved.usage!.output_tokens).toBeGreaterThan(0);
  });

  it('carries a function call over two turns: function_call out, function_call_output in', async () => {
    up.next({
      kind: 'tool_calls',
      calls: [{ id: 'call_weather_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
    });
    const tools = [
      {
        type: 'function' as const,
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
        strict: false,
      },
    ];
    const first = await client.responses.create({
      model: 'fake',
      input: 'Weather in Paris?',
      tools,
    });
    expect(lastForwarded().tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: tools[0].parameters,
          strict: false,
        },
      },
    ]);
    expect(first.output).toEqual([
      {
        type: 'function_call',
        id: expect.stringMatching(/^fc_/),
        call_id: 'call_weather_1',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
        status: 'completed',
      },
    ]);
    const second = await client.responses.create({
      model: 'fake',
      previous_response_id: first.id,
      tools,
      input: [{ type: 'function_call_output', call_id: 'call_weather_1', output: 'Sunny, 21C' }],
    });
    expect(second.status).toBe('completed');
    const forwarded = lastForwarded().messages;
    expect(roleText(forwarded)).toEqual([
      'user:Weather in Paris?',
      'assistant: calls:get_weather',
      'tool:Sunny, 21C',
    ]);
    expect(forwarded[2].tool_call_id).toBe('call_weather_1');
    const items = await client.responses.inputItems.list(second.id);
    expect(items.data).toEqual([
      expect.objectContaining({
        type: 'function_call_output',
        call_id: 'call_weather_1',
        output: 'Sunny, 21C',
      }),
    ]);
  });

  it('forwards function_call and function_call_output items sent in the input, store: false', async () => {
    const response = await client.responses.create({
      model: 'fake',
      store: false,
      input: [
        { type: 'message', role: 'user', content: 'Weather in Oslo?' },
        {
          type: 'function_call',
          call_id: 'call_in_input',
          name: 'get_weather',
          arguments: '{"city":"Oslo"}',
        },
        { type: 'function_call_output', call_id: 'call_in_input', output: 'Snow, -3C' },
      ],
    });
    expect(response.status).toBe('completed');
    const forwarded = lastForwarded().messages;
    expect(roleText(forwarded)).toEqual([
      'user:Weather in Oslo?',
      'assistant: calls:get_weather',
      'tool:Snow, -3C',
    ]);
    expect(forwarded[1].tool_calls[0]).toMatchObject({
      id: 'call_in_input',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
    });
    expect(forwarded[2].tool_call_id).toBe('call_in_input');
  });

  it('streams a function call as output_item + arguments deltas', async () => {
    up.next({
      kind: 'tool_calls',
      calls: [{ id: 'call_2', name: 'lookup', arguments: '{"q":"parley gateway"}' }],
    });
    const stream = client.responses.stream({
      model: 'fake',
      input: 'look it up',
      tools: [{ type: 'function', name: 'lookup', parameters: {}, strict: false }],
    });
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
    }
    const final = await stream.finalResponse();
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(final.output[0]).toMatchObject({
      type: 'function_call',
      name: 'lookup',
      arguments: '{"q":"parley gateway"}',
    });
  });

  it('serves an anthropic upstream: history rendered in Messages form, JSON and stream', async () => {
    const first = await client.responses.create({
      model: 'claude',
      input: 'Bonjour',
      instructions: 'Answer in French.',
    });
    expect(first.output_text).toContain('Bonjour');
    expect(lastForwarded(an).system).toBe('Answer in French.');
    const stream = client.responses.stream({
      model: 'claude',
      input: 'encore',
      previous_response_id: first.id,
    });
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
    }
    const final = await stream.finalResponse();
    expect(types[0]).toBe('response.created');
    expect(types[types.length - 1]).toBe('response.completed');
    expect(types).toContain('response.output_text.delta');
    expect(final.output_text).toContain('encore');
    const forwarded = lastForwarded(an);
    expect(forwarded.model).toBe('claude-upstream');
    expect(forwarded.system).toBeUndefined();
    expect(forwarded.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(forwarded.messages[1].content)).toContain(first.output_text);
  });

  it('truncation: disabled refuses a history that does not fit, auto leaves the oldest out', async () => {
    let previous: string | undefined;
    for (let i = 0; i < 4; i++) {
      const r = await client.responses.create({
        model: 'tiny',
        input: `turn ${i} ${'words '.repeat(25)}`,
        previous_response_id: previous,
        truncation: 'auto',
      });
      previous = r.id;
    }
    const forwarded = chats(up).length;
    const refused = await gw.post('/v1/responses', {
      model: 'tiny',
      input: 'and now?',
      previous_response_id: previous,
    });
    expectApiError(refused, 400, 'context_length_exceeded', { param: 'input' });
    const disabled = await gw.post('/v1/responses', {
      model: 'tiny',
      input: 'and now?',
      previous_response_id: previous,
      truncation: 'disabled',
    });
    expect(disabled.text).toBe(refused.text);
    expect(chats(up).length).toBe(forwarded);
    const auto = await gw.post('/v1/responses', {
      model: 'tiny',
      input: 'and now?',
      previous_response_id: previous,
      truncation: 'auto',
    });
    expect(auto.status).toBe(200);
    expect(auto.headers.get('x-parley-applied')).toMatch(/history_truncated=\d+/);
    const sent = roleText(lastForwarded().messages);
    expect(sent[sent.length - 1]).toBe('user:and now?');
    expect(sent.some((m) => m.startsWith('user:turn 0'))).toBe(false);
  });

  it('forwards every request field in Chat Completions form and echoes it in the response', async () => {
    const tools = [
      {
        type: 'function' as const,
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
        strict: false,
      },
    ];
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string' } },
      required: ['answer'],
      additionalProperties: false,
    };
    const response = await client.responses.create({
      model: 'fake',
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is in this picture?' },
            { type: 'input_image', image_url: PIXEL, detail: 'auto' },
          ],
        },
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'One red pixel.', annotations: [] }],
        } as any,
        { type: 'message', role: 'user', content: 'Answer in JSON.' },
      ],
      tools,
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      temperature: 0.25,
      top_p: 0.5,
      max_output_tokens: 64,
      text: { format: { type: 'json_schema', name: 'reply', schema, strict: true } },
      user: 'end-user-7',
    });
    const sent = lastForwarded();
    expect(sent).toMatchObject({
      model: 'fake-model',
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      temperature: 0.25,
      top_p: 0.5,
      max_tokens: 64,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'reply', schema, strict: true },
      },
      user: 'end-user-7',
    });
    expect(sent.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: expect.objectContaining({ url: PIXEL }) },
        ],
      },
      { role: 'assistant', content: 'One red pixel.' },
      { role: 'user', content: 'Answer in JSON.' },
    ]);
    expect(response).toMatchObject({
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      temperature: 0.25,
      top_p: 0.5,
      max_output_tokens: 64,
      text: { format: { type: 'json_schema', name: 'reply', schema, strict: true } },
      user: 'end-user-7',
    });
    const items = await client.responses.inputItems.list(response.id, { order: 'asc' });
    expect(items.data.map((i: any) => i.content.map((p: any) => p.type))).toEqual([
      ['input_text', 'input_image'],
      ['output_text'],
      ['input_text'],
    ]);

    await client.responses.create({
      model: 'fake',
      input: 'JSON please',
      text: { format: { type: 'json_object' } },
    });
    expect(lastForwarded().response_format).toEqual({ type: 'json_object' });
  });

  it('answers incomplete, reason max_output_tokens, when the model hit the limit', async () => {
    up.next({
      kind: 'raw',
      contentType: 'application/json',
      body: JSON.stringify({
        id: 'chatcmpl-length',
        object: 'chat.completion',
        created: 1,
        model: 'fake-model',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'The beginning of a long' },
            finish_reason: 'length',
          },
        ],
        usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
      }),
    });
    const response = await client.responses.create({
      model: 'fake',
      input: 'Tell me everything',
      max_output_tokens: 5,
    });
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.output_text).toBe('The beginning of a long');
    expect(response.usage).toMatchObject({ input_tokens: 7, output_tokens: 5 });
    // A JSON response asks the upstream for a JSON answer, as a /c1 JSON turn does.
    expect(lastForwarded().stream).toBe(false);
    const retrieved = await client.responses.retrieve(response.id);
    expect(retrieved.status).toBe('incomplete');
    expect(retrieved.output).toEqual(response.output);
  });

  it('ends a stream cut by the upstream with response.incomplete and stores what arrived', async () => {
    up.next({ kind: 'cut', chunks: 3 });
    const res = await gw.post('/v1/responses', {
      model: 'fake',
      input: 'cut me off in the middle',
      stream: true,
    });
    expect(res.status).toBe(200);
    const events = parseSseJson(res.text) as any[];
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const last = events[events.length - 1];
    expect(last.type).toBe('response.incomplete');
    expect(last.response).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'interrupted' },
    });
    const text = events
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => e.delta)
      .join('');
    expect(text.length).toBeGreaterThan(0);
    expect('You said: cut me off in the middle'.startsWith(text)).toBe(true);
    const stored = await client.responses.retrieve(last.response.id);
    expect(stored.status).toBe('incomplete');
    expect(stored.output_text).toBe(text);
  });

  it('refuses a stream whose upstream fails before the first byte with a plain HTTP error', async () => {
    up.next({ kind: 'error', status: 500 });
    const res = await gw.post('/v1/responses', {
      model: 'fake',
      input: 'this one fails upstream',
      stream: true,
    });
    expectApiError(res, 502, 'upstream_error');
  });

  it('answers a JSON response whose upstream fails with the HTTP error, its turn stored failed', async () => {
    up.next({ kind: 'error', status: 500 });
    const res = await gw.post('/v1/responses', { model: 'fake', input: 'this one fails too' });
    expectApiError(res, 502, 'upstream_error');
    const [latest] = (await gw.get('/c1/conversations?limit=1')).body.data;
    const detail = (await gw.get(`/c1/conversations/${latest.id}`)).body;
    expect(detail.messages.map((m: any) => [m.role, m.status, m.error?.code ?? null])).toEqual([
      ['user', 'failed', 'upstream_error'],
      ['assistant', 'failed', 'upstream_error'],
    ]);
  });

  it('passes text deltas on as the upstream sends them, not once it is done', async () => {
    up.options.chunkDelayMs = 100;
    try {
      const stream = client.responses.stream({ model: 'fake', input: 'arrive piece by piece' });
      let sentAtFirstDelta: number | null = null;
      for await (const event of stream) {
        if (event.type === 'response.output_text.delta' && sentAtFirstDelta === null) {
          sentAtFirstDelta = up.received[up.received.length - 1].sentBytes;
        }
      }
      const sentInAll = up.received[up.received.length - 1].sentBytes;
      expect(sentAtFirstDelta).not.toBeNull();
      expect(sentAtFirstDelta!).toBeLessThan(sentInAll);
    } finally {
      up.options.chunkDelayMs = undefined;
    }
  });

  it('documents every Responses and Conversations route in /openapi.json with typed answers', async () => {
    const doc = (await gw.get('/openapi.json', { key: null })).body;
    const routes: Array<[string, string, string]> = [
      ['post', '/v1/responses', 'ResponseObjectDto'],
      ['get', '/v1/responses/{id}', 'ResponseObjectDto'],
      ['delete', '/v1/responses/{id}', 'DeletedResponseDto'],
      ['get', '/v1/responses/{id}/input_items', 'ItemListResponseDto'],
      ['post', '/v1/responses/{id}/cancel', 'ResponseObjectDto'],
      ['post', '/v1/conversations', 'ConversationObjectDto'],
      ['get', '/v1/conversations/{id}', 'ConversationObjectDto'],
      ['post', '/v1/conversations/{id}', 'ConversationObjectDto'],
      ['delete', '/v1/conversations/{id}', 'DeletedConversationObjectDto'],
      ['post', '/v1/conversations/{id}/items', 'ItemListResponseDto'],
      ['get', '/v1/conversations/{id}/items', 'ItemListResponseDto'],
      ['get', '/v1/conversations/{id}/items/{itemId}', 'ResponseItemDto'],
      ['delete', '/v1/conversations/{id}/items/{itemId}', 'ConversationObjectDto'],
    ];
    for (const [method, path, schema] of routes) {
      const ok = doc.paths[path]?.[method]?.responses;
      const answer = ok?.['200'] ?? ok?.['201'];
      expect({ method, path, schema: answer?.content?.['application/json']?.schema }).toEqual({
        method,
        path,
        schema: { $ref: `#/components/schemas/${schema}` },
      });
    }
    for (const path of ['/v1/responses', '/v1/responses/{id}']) {
      const method = path === '/v1/responses' ? 'post' : 'get';
      expect(Object.keys(doc.paths[path][method].responses['200'].content)).toContain(
        'text/event-stream',
      );
    }
    const item = doc.components.schemas.ItemListResponseDto.properties.data.items;
    expect(item).toEqual({ $ref: '#/components/schemas/ResponseItemDto' });
  });

  it('documents conversation as an id or {id}, and input items by type', async () => {
    const doc = (await gw.get('/openapi.json', { key: null })).body;
    const schemas = doc.components.schemas;
    const conversation = schemas.CreateResponseDto.properties.conversation;
    expect(conversation.oneOf).toEqual([
      { type: 'string' },
      { $ref: '#/components/schemas/ConversationReferenceDto' },
    ]);
    expect(schemas.ConversationReferenceDto.required).toEqual(['id']);
    const items = schemas.CreateResponseDto.properties.input.oneOf[1].items.oneOf;
    const typeOf = (ref: { $ref: string }) =>
      schemas[ref.$ref.split('/').pop()!].properties.type.enum[0];
    expect(items.map(typeOf)).toEqual([
      'message',
      'function_call',
      'function_call_output',
      'item_reference',
    ]);
    const parts = schemas.InputMessageItemDto.properties.content.oneOf[1].items.oneOf;
    expect(parts.map(typeOf)).toEqual(['input_text', 'input_image', 'output_text']);
  });

  it('documents the /c1 reattach answer as an event stream', async () => {
    const doc = (await gw.get('/openapi.json', { key: null })).body;
    const reattach = doc.paths['/c1/conversations/{id}/stream'].get.responses['200'];
    expect(Object.keys(reattach.content ?? {})).toContain('text/event-stream');
  });

  it('checks its fields with the catalog error and param', async () => {
    expectApiError(await gw.post('/v1/responses', { model: 'fake' }), 400, 'missing_field', {
      param: 'input',
    });
    expectApiError(
      await gw.post('/v1/responses', {
        model: 'fake',
        input: 'x',
        tools: [{ type: 'web_search' }],
      }),
      400,
      'invalid_field',
      { param: 'tools[0].type' },
    );
    expectApiError(
      await gw.post('/v1/responses', { model: 'fake', input: [{ type: 'bogus' }] }),
      400,
      'invalid_field',
      { param: 'input[0].type' },
    );
    const references = Array.from({ length: 201 }, () => ({
      type: 'item_reference',
      id: 'msg_00000000-0000-4000-8000-000000000000',
    }));
    expectApiError(
      await gw.post('/v1/responses', { model: 'fake', input: references }),
      400,
      'invalid_field',
      { param: 'input' },
    );
    expectApiError(
      await gw.post('/v1/responses', {
        model: 'fake',
        input: [{ type: 'item_reference', id: 'msg_00000000-0000-4000-8000-000000000000' }],
      }),
      400,
      'invalid_field',
      { param: 'input[0].id' },
    );
    expectApiError(
      await gw.post('/v1/responses', { model: 'nope', input: 'x' }),
      400,
      'model_not_in_allowlist',
      { param: 'model' },
    );
    expectApiError(
      await gw.post('/v1/responses', { model: 'fake', input: 'x' }, { key: null }),
      401,
      'missing_authorization',
      { param: null },
    );
  });
});
