import { createOpenAI } from '@ai-sdk/openai';
import {
  Agent,
  OpenAIConversationsSession,
  run,
  setDefaultOpenAIClient,
  setTracingDisabled,
} from '@openai/agents';
import { generateText } from 'ai';
import OpenAI from 'openai';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * The README's "Responses API" snippets, line for line, against a gateway started as a fresh
 * clone starts (no catalog: the built-in `echo` model), so the README cannot drift from what
 * the three clients really do.
 */
describe('README: Responses API snippets', () => {
  let gw: TestGateway;
  const KEY = TEST_API_KEY;

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('openai (official SDK): a response, its continuation, a conversation continued', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY });
    const first = await client.responses.create({ model: 'echo', input: 'Hello' });
    const next = await client.responses.create({
      model: 'echo',
      input: 'And then?',
      previous_response_id: first.id,
    });
    const conversation = await client.conversations.create({ metadata: { project: 'demo' } });
    const last = await client.responses.create({
      model: 'echo',
      conversation: conversation.id,
      input: 'Hi',
    });

    expect([first.status, next.status, last.status]).toEqual([
      'completed',
      'completed',
      'completed',
    ]);
    expect(first.output_text.length).toBeGreaterThan(0);
    expect(next.previous_response_id).toBe(first.id);
    expect(last.conversation).toEqual({ id: conversation.id });
    const items = await client.conversations.items.list(conversation.id, { order: 'asc' });
    expect(items.data.map((i: any) => i.role)).toEqual(['user', 'assistant']);
  });

  it('Vercel AI SDK: the default openai(model) provider', async () => {
    const openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY });
    const { text, providerMetadata } = await generateText({
      model: openai('echo'),
      prompt: 'Hello',
    });
    expect(text.length).toBeGreaterThan(0);
    const id = providerMetadata?.openai?.responseId as string;
    expect((await gw.get(`/v1/responses/${id}`)).body.status).toBe('completed');
  });

  it('OpenAI Agents SDK: session memory in a Parley conversation', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY });
    setDefaultOpenAIClient(client);
    setTracingDisabled(true);
    const session = new OpenAIConversationsSession({ client });
    const result = await run(new Agent({ name: 'Assistant', model: 'echo' }), 'Hello', {
      session,
    });
    expect(String(result.finalOutput).length).toBeGreaterThan(0);
    const id = await session.getSessionId();
    const stored = await gw.get(`/c1/conversations/${id.slice('conv_'.length)}`);
    expect(stored.body.messages.map((m: any) => m.role)).toEqual(['user', 'assistant']);
  });
});
