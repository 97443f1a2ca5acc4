import {
  Agent,
  OpenAIConversationsSession,
  run,
  setDefaultOpenAIClient,
  setTracingDisabled,
} from '@openai/agents';
import OpenAI from 'openai';
import { openConstraints } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * The OpenAI Agents SDK, unmodified, on Parley: its default model API (Responses) and its
 * `OpenAIConversationsSession`, whose memory lives in a Parley conversation (Conversations
 * API: create, add items, list, pop).
 */
describe('/v1/responses with the OpenAI Agents SDK', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    up = await startFakeUpstream({ streamChunks: 3 });
    gw = await startGateway({
      models: {
        models: [
          {
            alias: 'fake',
            upstreams: [{ url: up.url, format: 'openai', model: 'fake-model' }],
            constraints: openConstraints(),
          },
        ],
      },
    });
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    setDefaultOpenAIClient(client);
    setTracingDisabled(true);
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const chats = () => up.received.filter((r) => r.url.endsWith('/chat/completions'));
  const lastForwarded = () => chats()[chats().length - 1].body;
  const roleText = (messages: any[]) =>
    messages.map((m) => `${m.role}:${typeof m.content === 'string' ? m.content : ''}`);

  it('keeps an agent session in a Parley conversation across runs', async () => {
    const agent = new Agent({ name: 'Assistant', instructions: 'Be helpful.', model: 'fake' });
    const session = new OpenAIConversationsSession({ client });

    const first = await run(agent, 'Hello agent', { session });
    expect(first.finalOutput).toBe('You said: Hello agent');
    const second = await run(agent, 'Again', { session });
    expect(second.finalOutput).toBe('You said: Again');
    expect(roleText(lastForwarded().messages)).toEqual([
      'system:Be helpful.',
      'user:Hello agent',
      'assistant:You said: Hello agent',
      'user:Again',
    ]);

    const id = await session.getSessionId();
    expect(id).toMatch(/^conv_/);
    const items = await client.conversations.items.list(id, { order: 'asc' });
    expect(items.data.map((i: any) => `${i.role}:${i.content[0].text}`)).toEqual([
      'user:Hello agent',
      'assistant:You said: Hello agent',
      'user:Again',
      'assistant:You said: Again',
    ]);

    const popped = await session.popItem();
    expect(popped).toMatchObject({ role: 'assistant' });
    expect(await session.getItems()).toHaveLength(3);
    // The same conversation, seen from /c1.
    const detail = await gw.get(`/c1/conversations/${id.slice('conv_'.length)}`);
    expect(detail.body.messages.map((m: any) => m.content)).toEqual([
      'Hello agent',
      'You said: Hello agent',
      'Again',
    ]);
  });
});
