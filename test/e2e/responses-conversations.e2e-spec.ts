import OpenAI from 'openai';
import { openModel } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { createKey, startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * /v1/conversations (OpenAI's Conversations API) on the /c1 store, driven by the official
 * `openai` SDK: one conversation continued by either API, items listed, appended and deleted,
 * and what each later turn forwarded read from the fake upstream's record.
 */
describe('/v1/conversations', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;
  let c1: OpenAI;
  let bobKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      models: {
        models: [openModel('fake', up.url)],
      },
    });
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    c1 = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/c1`, maxRetries: 0 });
    bobKey = (await createKey(gw, { name: 'bob', user_id: 'bob' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const chats = () => up.received.filter((r) => r.url.endsWith('/chat/completions'));
  const lastForwarded = () => chats()[chats().length - 1].body;
  const roleText = (messages: any[]) =>
    messages.map((m) => `${m.role}:${typeof m.content === 'string' ? m.content : ''}`);

  it('creates a conversation with items and metadata; a response continues it', async () => {
    const conversation = await client.conversations.create({
      metadata: { project: 'parley' },
      items: [
        { type: 'message', role: 'system', content: 'You are terse.' },
        { type: 'message', role: 'user', content: 'Remember the number 42.' },
      ],
    });
    expect(conversation.id).toMatch(/^conv_[0-9a-f-]{36}$/);
    expect(conversation).toMatchObject({ object: 'conversation', metadata: { project: 'parley' } });
    expect(await client.conversations.retrieve(conversation.id)).toEqual(conversation);

    const response = await client.responses.create({
      model: 'fake',
      conversation: conversation.id,
      input: 'What number?',
    });
    expect(response.conversation).toEqual({ id: conversation.id });
    expect(roleText(lastForwarded().messages)).toEqual([
      'system:You are terse.',
      'user:Remember the number 42.',
      'user:What number?',
    ]);
    await client.responses.create({
      model: 'fake',
      conversation: { id: conversation.id },
      input: 'And again?',
    });
    expect(roleText(lastForwarded().messages)).toEqual([
      'system:You are terse.',
      'user:Remember the number 42.',
      'user:What number?',
      'assistant:You said: What number?',
      'user:And again?',
    ]);

    const items = await client.conversations.items.list(conversation.id, { order: 'asc' });
    expect(items.data.map((i: any) => `${i.role}:${i.content[0].text}`)).toEqual([
      'system:You are terse.',
      'user:Remember the number 42.',
      'user:What number?',
      'assistant:You said: What number?',
      'user:And again?',
      'assistant:You said: And again?',
    ]);
    const desc = await client.conversations.items.list(conversation.id, { limit: 2 });
    expect(desc.data.map((i: any) => i.content[0].text)).toEqual([
      'You said: And again?',
      'And again?',
    ]);
    expect(desc.has_more).toBe(true);
    const next = await client.conversations.items.list(conversation.id, {
      limit: 2,
      after: desc.data[1].id,
    });
    expect(next.data.map((i: any) => i.content[0].text)).toEqual([
      'You said: What number?',
      'What number?',
    ]);
  });

  it('one conversation for both APIs: /c1 → /v1/responses → /c1', async () => {
    const { data, response } = await c1.chat.completions
      .create({ model: 'fake', messages: [{ role: 'user', content: 'started on c1' }] })
      .withResponse();
    const id = response.headers.get('x-conversation-id')!;
    expect((data as any).conversation_id).toBe(id);

    const viaResponses = await client.responses.create({
      model: 'fake',
      conversation: id,
      input: 'continued on responses',
    });
    expect(viaResponses.conversation).toEqual({ id: `conv_${id}` });
    expect(roleText(lastForwarded().messages)).toEqual([
      'user:started on c1',
      'assistant:You said: started on c1',
      'user:continued on responses',
    ]);

    await c1.chat.completions.create(
      { messages: [{ role: 'user', content: 'back on c1' }] } as any,
      { headers: { 'x-conversation-id': id } },
    );
    expect(roleText(lastForwarded().messages)).toEqual([
      'user:started on c1',
      'assistant:You said: started on c1',
      'user:continued on responses',
      'assistant:You said: continued on responses',
      'user:back on c1',
    ]);
    const listed = await client.conversations.items.list(`conv_${id}`, { order: 'asc' });
    expect(listed.data).toHaveLength(6);
    const detail = await gw.get(`/c1/conversations/${id}`);
    expect(detail.body.messages).toHaveLength(6);
  });

  it('one conversation for both APIs: /v1/conversations → /c1 → /v1/responses', async () => {
    const conversation = await client.conversations.create({
      items: [
        { type: 'message', role: 'system', content: 'Be terse.' },
        { type: 'message', role: 'user', content: 'made by the Conversations API' },
      ],
    });
    const id = conversation.id.slice('conv_'.length);
    const { response } = await c1.chat.completions
      .create(
        { model: 'fake', messages: [{ role: 'user', content: 'continued on c1' }] },
        {
          headers: { 'x-conversation-id': id },
        },
      )
      .withResponse();
    expect(response.headers.get('x-conversation-id')).toBe(id);
    expect(roleText(lastForwarded().messages)).toEqual([
      'system:Be terse.',
      'user:made by the Conversations API',
      'user:continued on c1',
    ]);
    await client.responses.create({ model: 'fake', conversation: conversation.id, input: 'last' });
    expect(roleText(lastForwarded().messages)).toEqual([
      'system:Be terse.',
      'user:made by the Conversations API',
      'user:continued on c1',
      'assistant:You said: continued on c1',
      'user:last',
    ]);
    const items = await client.conversations.items.list(conversation.id, { order: 'asc' });
    expect(items.data).toHaveLength(6);
  });

  it('/c1 takes the conv_ spelling of a conversation id too, and answers with the bare id', async () => {
    const conversation = await client.conversations.create({
      items: [{ type: 'message', role: 'user', content: 'hello' }],
    });
    const bare = conversation.id.slice('conv_'.length);
    const turn = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: 'by conv_ id' }] },
      { headers: { 'x-conversation-id': conversation.id } },
    );
    expect(turn.status).toBe(200);
    expect(turn.headers.get('x-conversation-id')).toBe(bare);
    // Both spellings in one request name one conversation.
    const mixed = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', conversation_id: bare, messages: [{ role: 'user', content: 'mixed' }] },
      { headers: { 'x-conversation-id': conversation.id } },
    );
    expect(mixed.status).toBe(200);
    const read = await gw.get(`/c1/conversations/${conversation.id}`);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(bare);
    // Found, so the answer is about the turn, not the id.
    expectApiError(
      await gw.get(`/c1/conversations/${conversation.id}/stream`),
      404,
      'no_active_turn',
    );
    const patched = await gw.patch(`/c1/conversations/${conversation.id}`, { title: 'renamed' });
    expect(patched.status).toBe(200);
    expect(patched.body.title).toBe('renamed');
    const exported = await gw.get(`/c1/conversations/${conversation.id}/export`);
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-disposition')).toBe(
      `attachment; filename="conversation-${bare}.json"`,
    );
    const deleted = await gw.delete(`/c1/conversations/${conversation.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.id).toBe(bare);
    expect((await gw.get(`/c1/conversations/${bare}`)).status).toBe(404);
  });

  it('appends items, reads one, and leaves deleted ones out of what later turns forward', async () => {
    const conversation = await client.conversations.create();
    const added = await client.conversations.items.create(conversation.id, {
      items: [
        { type: 'message', role: 'user', content: 'keep A' },
        { type: 'message', role: 'user', content: 'drop B' },
        { type: 'message', role: 'user', content: 'keep C' },
      ],
    });
    expect(added.data.map((i: any) => i.content[0].text)).toEqual(['keep A', 'drop B', 'keep C']);
    const b = added.data[1] as { id: string };
    const one = await client.conversations.items.retrieve(b.id, {
      conversation_id: conversation.id,
    });
    expect(one).toEqual(b);

    const after = await client.conversations.items.delete(b.id, {
      conversation_id: conversation.id,
    });
    expect(after.id).toBe(conversation.id);
    const listed = await client.conversations.items.list(conversation.id, { order: 'asc' });
    expect(listed.data.map((i: any) => i.content[0].text)).toEqual(['keep A', 'keep C']);
    await expect(
      client.conversations.items.retrieve(b.id, { conversation_id: conversation.id }),
    ).rejects.toMatchObject({ status: 404 });

    await client.responses.create({ model: 'fake', conversation: conversation.id, input: 'D' });
    expect(roleText(lastForwarded().messages)).toEqual(['user:keep A', 'user:keep C', 'user:D']);

    // The last item (what a session's pop removes): nothing is copied.
    const items = await client.conversations.items.list(conversation.id);
    await client.conversations.items.delete(items.data[0].id!, {
      conversation_id: conversation.id,
    });
    await client.responses.create({ model: 'fake', conversation: conversation.id, input: 'E' });
    expect(roleText(lastForwarded().messages)).toEqual([
      'user:keep A',
      'user:keep C',
      'user:D',
      'user:E',
    ]);
  });

  it('updates metadata and deletes the conversation', async () => {
    const conversation = await client.conversations.create({ metadata: { a: '1' } });
    const updated = await client.conversations.update(conversation.id, { metadata: { b: '2' } });
    expect(updated.metadata).toEqual({ b: '2' });
    const deleted = await client.conversations.delete(conversation.id);
    expect(deleted).toMatchObject({ id: conversation.id, deleted: true });
    await expect(client.conversations.retrieve(conversation.id)).rejects.toMatchObject({
      status: 404,
    });
  });

  it("answers another user's conversation exactly like a missing one", async () => {
    const conversation = await client.conversations.create({
      items: [{ type: 'message', role: 'user', content: 'secret' }],
    });
    const items = await client.conversations.items.list(conversation.id);
    const missing = 'conv_00000000-0000-4000-8000-000000000000';
    const probes: Array<[string, string, unknown?]> = [
      ['GET', ''],
      ['POST', '', { metadata: { x: 'y' } }],
      ['DELETE', ''],
      ['GET', '/items'],
      ['POST', '/items', { items: [{ type: 'message', role: 'user', content: 'x' }] }],
      ['GET', `/items/${items.data[0].id}`],
      ['DELETE', `/items/${items.data[0].id}`],
    ];
    for (const [method, path, body] of probes) {
      const foreign = await gw.request(
        method,
        `/v1/conversations/${conversation.id}${path}`,
        body,
        {
          key: bobKey,
        },
      );
      const absent = await gw.request(method, `/v1/conversations/${missing}${path}`, body, {
        key: bobKey,
      });
      expectApiError(foreign, 404, 'conversation_not_found');
      expect(foreign.text).toBe(absent.text);
    }
    const viaResponses = await gw.post(
      '/v1/responses',
      { model: 'fake', conversation: conversation.id, input: 'hi' },
      { key: bobKey },
    );
    expectApiError(viaResponses, 404, 'conversation_not_found', { param: 'conversation' });
    expect((await client.conversations.items.list(conversation.id)).data).toHaveLength(1);
  });

  it('checks item counts and shapes', async () => {
    const tooMany = Array.from({ length: 21 }, (_, i) => ({
      type: 'message',
      role: 'user',
      content: `m${i}`,
    }));
    expectApiError(await gw.post('/v1/conversations', { items: tooMany }), 400, 'invalid_field', {
      param: 'items',
    });
    const conversation = await client.conversations.create();
    const twenty = tooMany.slice(0, 20);
    const added = await client.conversations.items.create(conversation.id, {
      items: twenty as any,
    });
    expect(added.data).toHaveLength(20);
    expectApiError(
      await gw.post(`/v1/conversations/${conversation.id}/items`, { items: tooMany }),
      400,
      'invalid_field',
      { param: 'items' },
    );
    const listed = await client.conversations.items.list(conversation.id, { limit: 100 });
    expect(listed.data).toHaveLength(20);
    expectApiError(
      await gw.post(`/v1/conversations/${conversation.id}/items`, { items: [{ type: 'nope' }] }),
      400,
      'invalid_field',
      { param: 'items[0].type' },
    );
    expectApiError(
      await gw.get(`/v1/conversations/${conversation.id}/items?limit=500`),
      400,
      'invalid_field',
      { param: 'limit' },
    );
  });
});
