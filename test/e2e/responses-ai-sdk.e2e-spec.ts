import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { openModel, openAnthropicModel } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * The Vercel AI SDK's default OpenAI provider (`openai(model)` speaks the Responses API),
 * unmodified, against Parley: plain text, a stream, a tool call over two steps, and a
 * conversation the SDK continues by sending earlier answers back as `item_reference`s.
 */

/** A tool that adds two numbers and notes each call in `calls`. */
const addTool = (calls: unknown[]) =>
  tool({
    description: 'Adds two numbers',
    inputSchema: jsonSchema<{ a: number; b: number }>({
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    }),
    execute: ({ a, b }) => {
      calls.push({ a, b });
      return Promise.resolve(String(a + b));
    },
  });

describe('/v1/responses with the Vercel AI SDK', () => {
  let up: FakeUpstream;
  let an: FakeAnthropicUpstream;
  let gw: TestGateway;
  let openai: ReturnType<typeof createOpenAI>;

  beforeAll(async () => {
    up = await startFakeUpstream({ streamChunks: 3 });
    an = await startFakeAnthropicUpstream({ streamChunks: 3 });
    gw = await startGateway({
      env: { FAKE_ANTHROPIC_KEY: 'sk-ant-upstream-0123456789' },
      models: {
        models: [openModel('fake', up.url), openAnthropicModel('claude', an.url)],
      },
    });
    openai = createOpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1` });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await an?.close();
  });

  const chats = () => up.received.filter((r) => r.url.endsWith('/chat/completions'));
  const lastForwarded = () => chats()[chats().length - 1].body;

  it('generateText', async () => {
    const result = await generateText({
      model: openai('fake'),
      system: 'You are a test.',
      prompt: 'Hello from the AI SDK',
    });
    expect(result.text).toBe('You said: Hello from the AI SDK');
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.finishReason).toBe('stop');
    expect(lastForwarded().messages.map((m: any) => m.role)).toEqual(['system', 'user']);
    const id = result.providerMetadata?.openai?.responseId as string;
    expect(id).toMatch(/^resp_/);
    expect((await gw.get(`/v1/responses/${id}`)).body.status).toBe('completed');
  });

  it('streamText', async () => {
    const result = streamText({ model: openai('fake'), prompt: 'stream through the AI SDK' });
    let text = '';
    for await (const delta of result.textStream) {
      text += delta;
    }
    expect(text).toBe('You said: stream through the AI SDK');
    expect(await result.finishReason).toBe('stop');
  });

  it('runs a tool call over two steps', async () => {
    up.next({
      kind: 'tool_calls',
      calls: [{ id: 'call_sdk_1', name: 'add', arguments: '{"a":2,"b":3}' }],
    });
    const calls: unknown[] = [];
    const result = await generateText({
      model: openai('fake'),
      prompt: 'What is 2 + 3?',
      tools: { add: addTool(calls) },
      stopWhen: stepCountIs(3),
    });
    expect(calls).toEqual([{ a: 2, b: 3 }]);
    expect(result.steps).toHaveLength(2);
    // Step two forwarded the question, the stored call and the tool's result.
    const forwarded = lastForwarded().messages;
    expect(forwarded.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(forwarded[1].tool_calls[0]).toMatchObject({
      id: 'call_sdk_1',
      function: { name: 'add', arguments: '{"a":2,"b":3}' },
    });
    expect(forwarded[2]).toMatchObject({ tool_call_id: 'call_sdk_1', content: '5' });
    expect(result.text).toBe('You said: What is 2 + 3?');
  });

  it('continues a conversation whose earlier answer the SDK sends as an item_reference', async () => {
    const first = await generateText({ model: openai('fake'), prompt: 'first question' });
    const second = await generateText({
      model: openai('fake'),
      messages: [
        { role: 'user', content: 'first question' },
        ...first.response.messages,
        { role: 'user', content: 'second question' },
      ],
    });
    expect(second.text).toBe('You said: second question');
    const forwarded = lastForwarded().messages;
    expect(forwarded.map((m: any) => [m.role, m.content])).toEqual([
      ['user', 'first question'],
      ['assistant', 'You said: first question'],
      ['user', 'second question'],
    ]);
  });
  it('runs a tool call over two steps on an anthropic upstream, history in Messages form', async () => {
    an.next({
      kind: 'message',
      content: [{ type: 'tool_use', id: 'toolu_sdk_1', name: 'add', input: { a: 4, b: 5 } }],
    });
    const calls: unknown[] = [];
    const result = await generateText({
      model: openai('claude'),
      system: 'You add.',
      prompt: 'What is 4 + 5?',
      tools: { add: addTool(calls) },
      stopWhen: stepCountIs(3),
    });
    expect(calls).toEqual([{ a: 4, b: 5 }]);
    expect(result.steps).toHaveLength(2);
    const messages = an.received.filter((r) => r.url.endsWith('/messages'));
    const second = messages[messages.length - 1].body;
    expect(second.model).toBe('claude-upstream');
    expect(second.system).toBe('You add.');
    expect(second.tools.map((t: any) => t.name)).toEqual(['add']);
    expect(second.messages).toEqual([
      { role: 'user', content: expect.anything() },
      {
        role: 'assistant',
        content: [expect.objectContaining({ type: 'tool_use', id: 'toolu_sdk_1', name: 'add' })],
      },
      {
        role: 'user',
        content: [expect.objectContaining({ type: 'tool_result', tool_use_id: 'toolu_sdk_1' })],
      },
    ]);
    expect(JSON.stringify(second.messages[0].content)).toContain('What is 4 + 5?');
    expect(second.messages[1].content[0].input).toEqual({ a: 4, b: 5 });
    expect(JSON.stringify(second.messages[2].content[0].content)).toContain('9');
    // The fake echoes the last user text; a tool_result has none.
    expect(result.text).toBe('You said: ');
    expect(result.finishReason).toBe('stop');
  });

  it('streamText on an anthropic upstream', async () => {
    const result = streamText({ model: openai('claude'), prompt: 'stream from claude' });
    let text = '';
    for await (const delta of result.textStream) {
      text += delta;
    }
    expect(text).toBe('You said: stream from claude');
    expect(await result.finishReason).toBe('stop');
  });
});
