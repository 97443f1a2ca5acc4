import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { dumpDatabase, sql } from 'test/support/sql';
import { createKey, startGateway, TestGateway } from 'test/support/start-gateway';

/** DELETE /api/users/{user_id}/data: an operator erases a user's stored history (#19). */
describe('DELETE /api/users/{user_id}/data', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let erinKey: string;
  let bobKey: string;
  let serviceKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({ models: fakeModelCatalog(up.url) });
    erinKey = (await createKey(gw, { name: 'erin', user_id: 'erin' })).key;
    bobKey = (await createKey(gw, { name: 'bob', user_id: 'bob' })).key;
    serviceKey = (await createKey(gw, { name: 'svc', user_id: 'svc', role: 'service' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  async function say(
    key: string,
    text: string,
    headers: Record<string, string> = {},
  ): Promise<string> {
    const res = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: text }] },
      { key, headers },
    );
    expect(res.status).toBe(200);
    return res.body.conversation_id as string;
  }

  const count = async (text: string, params: unknown[]) =>
    Number((await sql<{ n: number | string }>(gw.databaseUrl, text, params))[0].n);

  it('erases conversations, messages, Idempotency-Keys and search entries; usage stays', async () => {
    const first = await say(erinKey, 'erin-secret-marmalade recipe', { 'idempotency-key': 'k-1' });
    await say(erinKey, 'second erin-secret-marmalade turn', { 'x-conversation-id': first });
    const second = await say(erinKey, 'another erin-secret-marmalade chat', {
      'idempotency-key': 'k-2',
    });
    const detail = (await gw.get(`/c1/conversations/${second}`, { key: erinKey })).body;
    expect(
      (
        await gw.post(
          `/c1/conversations/${second}/fork`,
          { message_id: detail.messages[0].id },
          { key: erinKey },
        )
      ).status,
    ).toBe(201);
    const bobs = await say(bobKey, 'bob keeps his marmalade');
    // Usage is flushed to the database every second.
    let usageBefore = 0;
    for (let i = 0; i < 50 && usageBefore === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      usageBefore = await count('SELECT count(*) AS n FROM usage_daily', []);
    }
    expect(usageBefore).toBeGreaterThan(0);

    expectApiError(
      await gw.delete('/api/users/erin/data', { key: erinKey }),
      401,
      'invalid_authorization',
    );
    const res = await gw.admin('DELETE', '/api/users/erin/data');
    expect(res.status).toBe(200);
    // The operator's record of it, under the request's id.
    expect(gw.logs).toContainEqual(
      expect.objectContaining({
        reqId: res.headers.get('x-request-id'),
        context: 'erase',
        msg: 'erased user data: 3 conversation(s), 6 message(s)',
      }),
    );
    expect(res.body).toEqual({
      object: 'user_data.deleted',
      user_id: 'erin',
      include_end_users: false,
      deleted: { conversations: 3, messages: 6, idempotency_keys: 2, search_entries: 6 },
    });

    // Nothing of erin is left in the database.
    expect(await count("SELECT count(*) AS n FROM conversations WHERE user_id = 'erin'", [])).toBe(
      0,
    );
    expect(
      await count("SELECT count(*) AS n FROM idempotency_keys WHERE user_id = 'erin'", []),
    ).toBe(0);
    expect(
      await count("SELECT count(*) AS n FROM message_search_docs WHERE user_id = 'erin'", []),
    ).toBe(0);
    expect(await count('SELECT count(*) AS n FROM messages', [])).toBe(2); // bob's two
    expect(await dumpDatabase(gw.databaseUrl)).not.toContain('erin-secret');
    expect(await count('SELECT count(*) AS n FROM usage_daily', [])).toBe(usageBefore);

    // erin starts empty; bob is untouched.
    const list = await gw.get('/c1/conversations', { key: erinKey });
    expect(list.body).toMatchObject({ data: [], has_more: false });
    expect((await gw.get('/c1/conversations?q=marmalade', { key: erinKey })).body.data).toEqual([]);
    expect((await gw.get('/c1/export', { key: erinKey })).text).toBe('');
    expect((await gw.get(`/c1/conversations/${first}`, { key: erinKey })).status).toBe(404);
    const fresh = await say(erinKey, 'a new start', { 'idempotency-key': 'k-1' });
    expect(fresh).not.toBe(first);
    expect((await gw.get(`/c1/conversations/${bobs}`, { key: bobKey })).status).toBe(200);
    expect((await gw.get('/c1/conversations?q=marmalade', { key: bobKey })).body.data).toHaveLength(
      2,
    );

    // A second erase finds nothing more of the old data.
    const again = await gw.admin('DELETE', '/api/users/erin/data');
    expect(again.body.deleted).toEqual({
      conversations: 1,
      messages: 2,
      idempotency_keys: 1,
      search_entries: 2,
    });
  });

  it('erases a service user alone, one end user, or the service with all its end users', async () => {
    // The end users of service key `svc` are the users `svc/<x-user-id>` (SPEC, "Auth and
    // keys"): the service acts for them with x-user-id.
    const as = (user: string) => ({ 'x-user-id': user });
    const listOf = async (user: string) =>
      (await gw.get('/c1/conversations', { key: serviceKey, headers: as(user) })).body.data;
    await say(serviceKey, 'service itself');
    await say(serviceKey, 'end user one', as('one'));
    await say(serviceKey, 'end user two', as('two'));
    // A user whose id merely starts with the service's is not one of its end users.
    const other = (await createKey(gw, { name: 'svc_x', user_id: 'svc_x', role: 'service' })).key;
    await say(other, 'not an end user of svc', as('y'));
    const alone = await gw.admin('DELETE', '/api/users/svc/data');
    expect(alone.body.deleted.conversations).toBe(1);
    const erasedOne = await gw.admin('DELETE', `/api/users/${encodeURIComponent('svc/one')}/data`);
    expect(erasedOne.body).toMatchObject({ user_id: 'svc/one', deleted: { conversations: 1 } });
    expect(await listOf('one')).toEqual([]);
    expect(await listOf('two')).toHaveLength(1);
    const all = await gw.admin('DELETE', '/api/users/svc/data?include_end_users=true');
    expect(all.body).toMatchObject({ include_end_users: true, deleted: { conversations: 1 } });
    expect(await listOf('two')).toEqual([]);
    expect(
      await count("SELECT count(*) AS n FROM conversations WHERE user_id = 'svc_x/y'", []),
    ).toBe(1);
    expectApiError(
      await gw.admin('DELETE', '/api/users/svc/data?include_end_users=maybe'),
      400,
      'invalid_field',
      { param: 'include_end_users' },
    );
  });
});
