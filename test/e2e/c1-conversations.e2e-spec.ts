import OpenAI from 'openai';
import { DataSource } from 'typeorm';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { createKey, startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/** Reading and shaping conversations: list, get, patch, delete, fork, and ownership (BOLA). */
describe('/c1/conversations', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;
  let bobKey: string;
  let serviceKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      models: fakeModelCatalog(up.url),
    });
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/c1`, maxRetries: 0 });
    bobKey = (await createKey(gw, { name: 'bob', user_id: 'bob' })).key;
    serviceKey = (await createKey(gw, { name: 'svc', user_id: 'svc', role: 'service' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  async function create(text: string, key = TEST_API_KEY, headers: Record<string, string> = {}) {
    const res = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: text }] },
      { key, headers },
    );
    expect(res.status).toBe(200);
    return res.body.conversation_id as string;
  }

  it('titles a conversation with the start of its first user message', async () => {
    const text = `  Plan a   trip to Kyoto in spring, with temples, gardens, food markets and day trips to Nara and Osaka please`;
    const id = await create(text);
    const res = await gw.get(`/c1/conversations/${id}`);
    expect(res.body.title).toBe(
      'Plan a trip to Kyoto in spring, with temples, gardens, food markets and day…',
    );
  });

  it('lists newest first with a cursor, capped limit, and only the caller’s conversations', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await create(`listed ${i}`, bobKey));
    }
    await create('not bob’s');
    const page1 = await gw.get('/c1/conversations?limit=2', { key: bobKey });
    expect(page1.status).toBe(200);
    expect(page1.body).toMatchObject({ object: 'list', has_more: true });
    expect(page1.body.data.map((c: any) => c.id)).toEqual([ids[2], ids[1]]);
    const page2 = await gw.get(`/c1/conversations?limit=2&after=${page1.body.next_cursor}`, {
      key: bobKey,
    });
    expect(page2.body.data.map((c: any) => c.id)).toEqual([ids[0]]);
    expect(page2.body).toMatchObject({ has_more: false, next_cursor: null });
    const capped = await gw.get('/c1/conversations?limit=100000', { key: bobKey });
    expect(capped.status).toBe(200);
    expect(capped.body.data).toHaveLength(3);
    expectApiError(await gw.get('/c1/conversations?limit=0'), 400, 'invalid_field', {
      param: 'limit',
    });
    expectApiError(await gw.get('/c1/conversations?after=garbage'), 400, 'invalid_field', {
      param: 'after',
    });
    const item = page1.body.data[0];
    expect(Object.keys(item).sort()).toEqual(
      [
        'busy',
        'created_at',
        'id',
        'last_message_id',
        'metadata',
        'model',
        'object',
        'title',
        'updated_at',
      ].sort(),
    );
  });

  it('updates title and metadata; an empty patch is missing_field "No fields to update"', async () => {
    const id = await create('to rename');
    const res = await gw.patch(`/c1/conversations/${id}`, {
      title: 'Renamed',
      metadata: { project: 'x' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, title: 'Renamed', metadata: { project: 'x' } });
    expectApiError(await gw.patch(`/c1/conversations/${id}`, {}), 400, 'missing_field', {
      param: null,
      message: 'No fields to update',
    });
    expectApiError(await gw.patch(`/c1/conversations/${id}`, { title: 5 }), 400, 'invalid_field', {
      param: 'title',
    });
    expectApiError(
      await gw.patch(`/c1/conversations/${id}`, { metadata: { n: 1 } }),
      400,
      'invalid_field',
      {
        param: 'metadata',
      },
    );
    const ignored = await gw.patch(`/c1/conversations/${id}`, {
      title: 'T2',
      user_id: 'bob',
      id: 'x',
    });
    expect(ignored.body).toMatchObject({ id, title: 'T2' });
    expect((await gw.get(`/c1/conversations/${id}`)).status).toBe(200);
  });

  it('deletes a conversation: then 404 everywhere', async () => {
    const id = await create('to delete');
    const res = await gw.delete(`/c1/conversations/${id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id, object: 'conversation.deleted', deleted: true });
    expectApiError(await gw.get(`/c1/conversations/${id}`), 404, 'conversation_not_found');
    expectApiError(await gw.delete(`/c1/conversations/${id}`), 404, 'conversation_not_found');
  });

  it('forks at a message: the new conversation holds the history up to it, continues on its own', async () => {
    const id = await create('first question');
    await gw.post(
      '/c1/chat/completions',
      { messages: [{ role: 'user', content: 'second question' }] },
      { headers: { 'x-conversation-id': id } },
    );
    const source = (await gw.get(`/c1/conversations/${id}`)).body;
    const res = await gw.post(`/c1/conversations/${id}/fork`, {
      message_id: source.messages[1].id,
    });
    expect(res.status).toBe(201);
    const fork = res.body;
    expect(fork.id).not.toBe(id);
    expect(fork.messages.map((m: any) => m.id)).toEqual(
      source.messages.slice(0, 2).map((m: any) => m.id),
    );
    const { data } = await client.chat.completions
      .create({ messages: [{ role: 'user', content: 'edited second' }] } as any, {
        headers: { 'x-conversation-id': fork.id },
      })
      .withResponse();
    expect((data as any).conversation_id).toBe(fork.id);
    const forwarded = up.received[up.received.length - 1].body.messages;
    expect(forwarded.map((m: any) => m.content)).toEqual([
      'first question',
      'You said: first question',
      'edited second',
    ]);
    expect((await gw.get(`/c1/conversations/${id}`)).body.messages).toHaveLength(4);
    expectApiError(await gw.post(`/c1/conversations/${id}/fork`, {}), 400, 'missing_field', {
      param: 'message_id',
    });
    expectApiError(
      await gw.post(`/c1/conversations/${id}/fork`, {
        message_id: '00000000-0000-4000-8000-000000000000',
      }),
      400,
      'invalid_field',
      { param: 'message_id' },
    );
    // Deleting the source keeps what the fork shares.
    await gw.delete(`/c1/conversations/${id}`);
    expect((await gw.get(`/c1/conversations/${fork.id}`)).body.messages).toHaveLength(4);
  });

  it('hides another user’s conversations on every route (BOLA): 404 like a missing id, nothing changes', async () => {
    const id = await create('alice secret');
    const before = await rowsOf(id);
    const missing = '00000000-0000-4000-8000-000000000000';
    const attempts = async (target: string, key: string, headers: Record<string, string> = {}) => [
      await gw.get(`/c1/conversations/${target}`, { key, headers }),
      await gw.patch(`/c1/conversations/${target}`, { title: 'pwned' }, { key, headers }),
      await gw.delete(`/c1/conversations/${target}`, { key, headers }),
      await gw.post(
        `/c1/conversations/${target}/fork`,
        { message_id: before.head },
        { key, headers },
      ),
      await gw.post(
        '/c1/chat/completions',
        { messages: [{ role: 'user', content: 'x' }] },
        { key, headers: { ...headers, 'x-conversation-id': target } },
      ),
      await gw.post(
        '/c1/chat/completions',
        { messages: [{ role: 'user', content: 'x' }], conversation_id: target },
        { key, headers },
      ),
    ];
    const asMissing = await attempts(missing, bobKey);
    for (const [key, headers] of [
      [bobKey, {}],
      [serviceKey, { 'x-user-id': 'bob' }],
      [serviceKey, {}],
    ] as [string, Record<string, string>][]) {
      const results = await attempts(id, key, headers);
      results.forEach((res, i) => {
        expectApiError(res, 404, 'conversation_not_found');
        expect(res.body).toEqual(asMissing[i].body);
      });
    }
    const list = await gw.get('/c1/conversations?limit=100', { key: bobKey });
    expect(list.body.data.map((c: any) => c.id)).not.toContain(id);
    expect(await rowsOf(id)).toEqual(before);
    // A service key naming the owner acts for its own end user "svc/default", not the owner.
    const asOwnerName = await gw.get(`/c1/conversations/${id}`, {
      key: serviceKey,
      headers: { 'x-user-id': 'default' },
    });
    expectApiError(asOwnerName, 404, 'conversation_not_found');
  });

  async function rowsOf(id: string) {
    const ds = gw.app.get(DataSource);
    const p = ds.options.type === 'postgres' ? '$1' : '?';
    const [conversation] = await ds.query(`SELECT * FROM conversations WHERE id = ${p}`, [id]);
    const messages = await ds.query(`SELECT * FROM messages WHERE tree_id = ${p} ORDER BY depth`, [
      conversation.tree_id,
    ]);
    return { head: conversation.head_message_id as string, conversation, messages };
  }
});
