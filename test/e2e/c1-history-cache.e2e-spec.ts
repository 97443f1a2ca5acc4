import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * The history cache changes where a turn's history comes from (memory, or the database) and
 * how its prompt is built (extended from the rendering kept for the history, or rendered from
 * scratch), never what goes upstream: the same turns, forks included, on a gateway with the
 * cache and on one without it (HISTORY_CACHE_BYTES=0) send the same bodies.
 */
describe('/c1 with and without the history cache', () => {
  const sides: { up: FakeUpstream; gw: TestGateway }[] = [];

  beforeAll(async () => {
    for (const env of [{}, { HISTORY_CACHE_BYTES: '0' }] as Record<string, string>[]) {
      const up = await startFakeUpstream();
      const gw = await startGateway({ models: fakeModelCatalog(up.url), env });
      sides.push({ up, gw });
    }
  });
  afterAll(async () => {
    for (const { up, gw } of sides) {
      await gw.close();
      await up.close();
    }
  });

  /** One script of turns and a fork on a gateway; what its upstream received, in order. */
  async function script(gw: TestGateway, up: FakeUpstream): Promise<unknown[]> {
    const chat = async (text: string, conversationId?: string) => {
      const res = await gw.post(
        '/c1/chat/completions',
        {
          model: 'fake',
          messages: [
            ...(conversationId ? [] : [{ role: 'system', content: 'be brief' }]),
            { role: 'user', content: text },
          ],
        },
        conversationId ? { headers: { 'x-conversation-id': conversationId } } : {},
      );
      expect(res.status).toBe(200);
      return res.body.conversation_id as string;
    };
    const id = await chat('first é 😀');
    for (const text of ['second', 'third "quoted"', 'fourth']) {
      await chat(text, id);
    }
    const stored = (await gw.get(`/c1/conversations/${id}`)).body;
    const fork = await gw.post(`/c1/conversations/${id}/fork`, {
      message_id: stored.messages[4].id,
    });
    expect(fork.status).toBe(201);
    await chat('fork one', fork.body.id);
    await chat('fork two', fork.body.id);
    await chat('fifth', id);
    const messages = await gw.post(
      '/c1/messages',
      {
        model: 'fake',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'sixth, as Anthropic' }],
      },
      { headers: { 'x-conversation-id': id } },
    );
    expect(messages.status).toBe(200);
    return up.received.filter((r) => r.url.endsWith('/chat/completions')).map((r) => r.body);
  }

  it('sends the same bodies upstream, turn after turn and on a fork', async () => {
    const [cached, uncached] = [
      await script(sides[0].gw, sides[0].up),
      await script(sides[1].gw, sides[1].up),
    ];
    expect(cached).toHaveLength(8);
    expect(cached).toEqual(uncached);
    const contents = (body: unknown) =>
      (body as { messages: { content: unknown }[] }).messages.map((m) => m.content);
    // The fork's second turn: the history up to the forked answer, then its own turns.
    expect(contents(cached[5])).toEqual([
      'be brief',
      'first é 😀',
      'You said: first é 😀',
      'second',
      'You said: second',
      'fork one',
      'You said: fork one',
      'fork two',
    ]);
    // The Anthropic-format turn on the original: its whole history, then its own message.
    expect(contents(cached[7])).toHaveLength(1 + 2 * 5 + 1);
  });
});
