import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from '@langchain/core/messages';
import { generateText, type ModelMessage } from 'ai';
import OpenAI from 'openai';
import { expectApiError } from 'test/support/expect-api-error';
import { openModel } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * /c1 driven by frameworks that keep no state and resend the whole history on every call (the
 * Vercel AI SDK, LangChain JS), with the conversation id in a header. What went upstream is read
 * from the fake upstream's record: stored history + the new suffix, never the history twice.
 */
describe('/c1 with stateless frameworks', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      models: {
        models: [openModel('fake', up.url)],
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const lastForwarded = () => up.received[up.received.length - 1].body.messages as any[];
  const storedMessages = async (id: string) =>
    (await gw.get(`/c1/conversations/${id}`)).body.messages as { role: string }[];

  it('Vercel AI SDK: each call forwards the stored history plus the new message once', async () => {
    const provider = createOpenAI({ baseURL: `${gw.url}/c1`, apiKey: TEST_API_KEY });
    const model = provider.chat('fake');
    const system = 'Answer briefly.';
    const history: ModelMessage[] = [{ role: 'user', content: 'First question' }];

    const first = await generateText({ model, system, messages: history });
    const id = first.response.headers?.['x-conversation-id'];
    expect(id).toEqual(expect.any(String));
    history.push(...first.response.messages);

    for (const question of ['Second question', 'Third question', 'Fourth question']) {
      history.push({ role: 'user', content: question });
      const before = (await storedMessages(id!)).length;
      const result = await generateText({
        model,
        system,
        messages: history,
        headers: { 'x-conversation-id': id! },
      });
      expect(result.response.headers?.['x-conversation-id']).toBe(id);
      // Stored history (system prompt included) + the one new message, not the history twice.
      expect(lastForwarded()).toHaveLength(before + 1);
      expect(lastForwarded()[0]).toEqual({ role: 'system', content: system });
      expect(lastForwarded().at(-1)).toEqual({ role: 'user', content: question });
      history.push(...result.response.messages);
    }
    // 7 stored (system + 3 questions and answers) → the 4th resent call forwarded 8.
    expect(lastForwarded()).toHaveLength(8);
    const stored = await storedMessages(id!);
    expect(stored.map((m) => m.role)).toEqual([
      'system',
      ...Array.from({ length: 4 }, () => ['user', 'assistant']).flat(),
    ]);
  });

  it('Vercel AI SDK: a history that contradicts the stored one is a 409 naming the message', async () => {
    const provider = createOpenAI({ baseURL: `${gw.url}/c1`, apiKey: TEST_API_KEY });
    const model = provider.chat('fake');
    const first = await generateText({
      model,
      messages: [{ role: 'user', content: 'Capital of France?' }],
    });
    const id = first.response.headers!['x-conversation-id'];
    const before = up.received.length;
    const edited: ModelMessage[] = [
      { role: 'user', content: 'Capital of Italy?' },
      { role: 'assistant', content: 'Rome.' },
      { role: 'user', content: 'And its population?' },
    ];
    const error: any = await generateText({
      model,
      messages: edited,
      headers: { 'x-conversation-id': id },
      maxRetries: 0,
    }).catch((e: unknown) => e);
    expect(error?.statusCode).toBe(409);
    expect(JSON.parse(error.responseBody)).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'conversation_conflict',
        message: expect.stringContaining('messages[0]'),
        param: 'messages[0]',
      },
    });
    expect(up.received.length).toBe(before);
    expect(await storedMessages(id)).toHaveLength(2);
  });

  it('LangChain JS: ChatOpenAI with the id in defaultHeaders resends history, only the suffix is stored', async () => {
    // LangChain does not expose response headers: the conversation is started with the openai
    // SDK (withResponse), then continued with LangChain, as the README shows.
    const openai = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/c1`, maxRetries: 0 });
    const started = await openai.chat.completions
      .create({
        model: 'fake',
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'user', content: 'Hello' },
        ],
      })
      .withResponse();
    const id = started.response.headers.get('x-conversation-id')!;
    const chat = new ChatOpenAI({
      model: 'fake',
      apiKey: TEST_API_KEY,
      maxRetries: 0,
      configuration: { baseURL: `${gw.url}/c1`, defaultHeaders: { 'x-conversation-id': id } },
    });
    const history: BaseMessage[] = [
      new SystemMessage('Be terse.'),
      new HumanMessage('Hello'),
      new AIMessage(started.data.choices[0].message.content ?? ''),
      new HumanMessage('How are you?'),
    ];
    const answer = await chat.invoke(history);
    expect(answer.content).toEqual(expect.any(String));
    expect(lastForwarded()).toHaveLength(4);
    history.push(answer, new HumanMessage('Bye'));
    await chat.invoke(history);
    expect(lastForwarded()).toHaveLength(6);
    expect(lastForwarded().at(-1)).toEqual({ role: 'user', content: 'Bye' });
    expect((await storedMessages(id)).map((m) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
  });

  it('a resent history whose system prompt differs is a 409 at messages[0], nothing stored', async () => {
    const created = await gw.post('/c1/chat/completions', {
      model: 'fake',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    const id = created.body.conversation_id;
    const res = await gw.post(
      '/c1/chat/completions',
      {
        messages: [
          { role: 'system', content: 'Be chatty.' },
          { role: 'user', content: 'Hello' },
          { role: 'assistant', content: created.body.choices[0].message.content },
          { role: 'user', content: 'More' },
        ],
      },
      { headers: { 'x-conversation-id': id } },
    );
    expectApiError(res, 409, 'conversation_conflict', { param: 'messages[0]' });
    expect(await storedMessages(id)).toHaveLength(3);
  });

  it('a resend that adds nothing is a 409, and an Idempotency-Key retry of a resend replays', async () => {
    const created = await gw.post('/c1/chat/completions', {
      model: 'fake',
      messages: [{ role: 'user', content: 'Once' }],
    });
    const id = created.body.conversation_id;
    const history = [
      { role: 'user', content: 'Once' },
      { role: 'assistant', content: created.body.choices[0].message.content },
    ];
    expectApiError(
      await gw.post(
        '/c1/chat/completions',
        { messages: history },
        {
          headers: { 'x-conversation-id': id },
        },
      ),
      409,
      'conversation_conflict',
      { param: 'messages' },
    );
    const body = { messages: [...history, { role: 'user', content: 'Twice' }] };
    const headers = { 'x-conversation-id': id, 'idempotency-key': 'resend-1' };
    const first = await gw.post('/c1/chat/completions', body, { headers });
    const retry = await gw.post('/c1/chat/completions', body, { headers });
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.choices).toEqual(first.body.choices);
    expect(await storedMessages(id)).toHaveLength(4);
  });

  it('Anthropic format: a resent history on /c1/messages is reconciled the same way', async () => {
    const first = await gw.post('/c1/messages', {
      model: 'fake',
      max_tokens: 50,
      system: 'Be terse.',
      messages: [{ role: 'user', content: 'Ping' }],
    });
    const id = first.headers.get('x-conversation-id')!;
    const resent = {
      max_tokens: 50,
      system: 'Be terse.',
      messages: [
        { role: 'user', content: 'Ping' },
        { role: 'assistant', content: first.body.content },
        { role: 'user', content: 'Pong?' },
      ],
    };
    const second = await gw.post('/c1/messages', resent, { headers: { 'x-conversation-id': id } });
    expect(second.status).toBe(200);
    expect(lastForwarded()).toHaveLength(4);
    const conflicting = { ...resent, system: 'Be chatty.' };
    expectApiError(
      await gw.post('/c1/messages', conflicting, { headers: { 'x-conversation-id': id } }),
      409,
      'conversation_conflict',
      { param: 'system' },
    );
  });
});
