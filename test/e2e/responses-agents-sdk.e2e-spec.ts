import {
  Agent,
  OpenAIConversationsSession,
  run,
  setDefaultOpenAIClient,
  setTracingDisabled,
} from '@openai/agents';
import OpenAI from 'openai';
import { openModel, openAnthropicModel } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * The OpenAI Agents SDK, unmodified, on Parley: its default model API (Responses) and its
 * `OpenAIConversationsSession`, whose memory lives in a Parley conversation (Conversations
 * API: create, add items, list, pop).
 */
describe('/v1/responses with the OpenAI Agents SDK', () => {
  let up: FakeUpstream;
  let an: FakeAnthropicUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    up = await startFakeUpstream({ streamChunks: 3 });
    an = await startFakeAnthropicUpstream({ streamChunks: 3 });
    gw = await startGateway({
      env: { FAKE_ANTHROPIC_KEY: 'sk-ant-upstream-0123456789' },
      models: {
        models: [openModel('fake', up.url), openAnthropicModel('claude', an.url)],
      },
    });
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    setDefaultOpenAIClient(client);
    setTracingDisabled(true);
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await an?.close();
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
  it('keeps a session on an anthropic upstream, the history forwarded in Messages form', async () => {
    const agent = new Agent({ name: 'Claude', instructions: 'Be brief.', model: 'claude' });
    const session = new OpenAIConversationsSession({ client });
    await run(agent, 'Bonjour', { session });
    const second = await run(agent, 'Encore', { session });
    expect(second.finalOutput).toBe('You said: Encore');
    const messages = an.received.filter((r) => r.url.endsWith('/messages'));
    const forwarded = messages[messages.length - 1].body;
    expect(forwarded.model).toBe('claude-upstream');
    expect(forwarded.system).toBe('Be brief.');
    expect(
      forwarded.messages.map((m: any) => {
        const text =
          typeof m.content === 'string'
            ? m.content
            : m.content.map((b: any) => b.text ?? b.type).join('|');
        return `${m.role}:${text}`;
      }),
    ).toEqual(['user:Bonjour', 'assistant:You said: Bonjour', 'user:Encore']);
    const id = await session.getSessionId();
    const items = await client.conversations.items.list(id, { order: 'asc' });
    expect(items.data).toHaveLength(4);
  });
});
