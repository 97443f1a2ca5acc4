import { DataSource } from 'typeorm';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { expectApiError } from 'test/support/expect-api-error';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { createKey, startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * Mass assignment (issue #11): server-owned fields — owner, ids, status, timestamps, roles —
 * smuggled into request bodies are ignored or refused, and never reach the database.
 */
const SMUGGLED_ID = '11111111-2222-4333-8444-555555555555';
const SMUGGLED_TIME = '2001-02-03T04:05:06.000Z';
const SMUGGLED = {
  id: SMUGGLED_ID,
  user_id: 'mallory',
  status: 'failed',
  created_at: SMUGGLED_TIME,
  updated_at: SMUGGLED_TIME,
  tree_id: SMUGGLED_ID,
  head_message_id: SMUGGLED_ID,
  key_id: SMUGGLED_ID,
  owner: 'mallory',
  is_admin: true,
};
/** Traces a smuggled value would leave in a stored row. */
const TRACES = [SMUGGLED_ID, 'mallory', '2001-02-03', String(Date.parse(SMUGGLED_TIME))];

describe('mass assignment', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let malloryKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      models: fakeModelCatalog(up.url),
    });
    malloryKey = (await createKey(gw, { name: 'm', user_id: 'mallory' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const db = () => gw.app.get(DataSource);
  const p = () => (db().options.type === 'postgres' ? '$1' : '?');
  async function rowsOf(conversationId: string) {
    const [conversation] = await db().query(`SELECT * FROM conversations WHERE id = ${p()}`, [
      conversationId,
    ]);
    const messages = await db().query(
      `SELECT * FROM messages WHERE tree_id = ${p()} ORDER BY depth`,
      [conversation.tree_id],
    );
    return { conversation, messages };
  }
  const expectNoTrace = (rows: unknown) => {
    const text = JSON.stringify(rows);
    for (const trace of TRACES) {
      expect({ trace, found: text.includes(trace) }).toEqual({ trace, found: false });
    }
  };

  it('/c1 turns: owner, ids, status and timestamps in the body or a message are not stored', async () => {
    const started = Date.now();
    const res = await gw.post('/c1/chat/completions', {
      model: 'fake',
      ...SMUGGLED,
      role: 'admin',
      messages: [{ role: 'user', content: 'hello', ...SMUGGLED }],
    });
    expect(res.status).toBe(200);
    const conversationId = res.body.conversation_id as string;
    expect(conversationId).not.toBe(SMUGGLED_ID);
    const { conversation, messages } = await rowsOf(conversationId);
    expect(conversation.user_id).toBe('default');
    expect(messages.map((m: any) => [m.role, m.status])).toEqual([
      ['user', 'completed'],
      ['assistant', 'completed'],
    ]);
    for (const m of messages) {
      expect(Number(m.created_at)).toBeGreaterThanOrEqual(started - 1000);
    }
    expectNoTrace({ conversation, messages });

    // The owner sees it with server values; the user named in the body does not see it at all.
    const detail = await gw.get(`/c1/conversations/${conversationId}`);
    expect(detail.body.messages.map((m: any) => m.status)).toEqual(['completed', 'completed']);
    expectApiError(
      await gw.get(`/c1/conversations/${conversationId}`, { key: malloryKey }),
      404,
      'conversation_not_found',
    );
    expect((await gw.get('/c1/conversations', { key: malloryKey })).body.data).toEqual([]);
  });

  it('/c1 turns: a status and id on a follow-up message are ignored', async () => {
    const res = await gw.post('/c1/chat/completions', {
      model: 'fake',
      messages: [{ role: 'user', content: 'first' }],
    });
    const id = res.body.conversation_id as string;
    const next = await gw.post(
      '/c1/chat/completions',
      { messages: [{ role: 'user', content: 'second', status: 'pending', id: SMUGGLED_ID }] },
      { headers: { 'x-conversation-id': id } },
    );
    expect(next.status).toBe(200);
    const { conversation, messages } = await rowsOf(id);
    expect(messages.every((m: any) => m.status === 'completed')).toBe(true);
    expectNoTrace({ conversation, messages });
  });

  it('PATCH /c1/conversations/:id changes only title and metadata', async () => {
    const id = (
      await gw.post('/c1/chat/completions', {
        model: 'fake',
        messages: [{ role: 'user', content: 'patch me' }],
      })
    ).body.conversation_id as string;
    const before = await rowsOf(id);
    const res = await gw.patch(`/c1/conversations/${id}`, {
      title: 'renamed',
      ...SMUGGLED,
      model: 'other-model',
    });
    expect(res.status).toBe(200);
    const after = await rowsOf(id);
    expect(after.messages).toEqual(before.messages);
    const { title, updated_at: _u, ...rest } = after.conversation;
    const { title: _t, updated_at: _v, ...restBefore } = before.conversation;
    expect(title).toBe('renamed');
    expect(rest).toEqual(restBefore);
    expectNoTrace(after);
  });

  it('POST /c1/conversations/:id/fork takes only message_id', async () => {
    const id = (
      await gw.post('/c1/chat/completions', {
        model: 'fake',
        messages: [{ role: 'user', content: 'fork me' }],
      })
    ).body.conversation_id as string;
    const head = (await rowsOf(id)).conversation.head_message_id as string;
    const res = await gw.post(`/c1/conversations/${id}/fork`, { message_id: head, ...SMUGGLED });
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe(SMUGGLED_ID);
    const fork = await rowsOf(res.body.id);
    expect(fork.conversation.user_id).toBe('default');
    expectNoTrace(fork);
  });

  it('PATCH /api/keys/:id refuses user_id and key, ignores id, hashes and timestamps', async () => {
    const created = await gw.admin('POST', '/api/keys', { name: 'k', user_id: 'alice' });
    const id = created.body.id as string;
    const rowOf = async () =>
      (await db().query(`SELECT * FROM api_keys WHERE id = ${p()}`, [id]))[0] as Record<
        string,
        unknown
      >;
    const before = await rowOf();
    for (const [field, value] of [
      ['user_id', 'mallory'],
      ['key', 'pk-smuggled-0123456789abcdef01234'],
    ]) {
      const res = await gw.admin('PATCH', `/api/keys/${id}`, { [field]: value });
      expectApiError(res, 400, 'invalid_field', { param: field });
    }
    const res = await gw.admin('PATCH', `/api/keys/${id}`, {
      name: 'renamed',
      id: SMUGGLED_ID,
      key_hash: 'f'.repeat(64),
      created_at: SMUGGLED_TIME,
      last_used_at: SMUGGLED_TIME,
    });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(id);
    const after = await rowOf();
    expect({ ...after, name: before.name, updated_at: before.updated_at }).toEqual(before);
    expect(after.name).toBe('renamed');
    expectNoTrace(after);
  });
});
