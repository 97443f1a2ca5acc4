import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { sql } from 'test/support/sql';
import { createKey, startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';
import { createTestDatabase, TestDatabase } from 'test/support/test-database';

/**
 * Issue #22 item 7, SPEC "Auth and keys": a service key acts for its end users inside its own
 * namespace (`<service key's user_id>/<x-user-id>`), never as another frontend's end user, a
 * plain key's user or `default`.
 */
describe('x-user-id lives in the service key’s namespace', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let frontendA: string;
  let frontendB: string;
  let aliceKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({ models: fakeModelCatalog(up.url) });
    frontendA = (await createKey(gw, { name: 'a', user_id: 'frontend-a', role: 'service' })).key;
    frontendB = (await createKey(gw, { name: 'b', user_id: 'frontend-b', role: 'service' })).key;
    aliceKey = (await createKey(gw, { name: 'alice', user_id: 'alice' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  async function converse(key: string, headers: Record<string, string> = {}): Promise<string> {
    const res = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: 'private words' }] },
      { key, headers },
    );
    expect(res.status).toBe(200);
    return res.body.conversation_id as string;
  }

  async function visibleTo(id: string, key: string, headers: Record<string, string> = {}) {
    const one = await gw.get(`/c1/conversations/${id}`, { key, headers });
    const list = await gw.get('/c1/conversations?limit=100', { key, headers });
    const listed = (list.body.data as { id: string }[]).some((c) => c.id === id);
    expect(one.status === 200).toBe(listed);
    if (one.status !== 200) {
      expectApiError(one, 404, 'conversation_not_found');
    }
    return listed;
  }

  it('reports the namespaced user on /v1/me', async () => {
    const me = await gw.get('/v1/me', { key: frontendA, headers: { 'x-user-id': 'alice' } });
    expect(me.body.user_id).toBe('frontend-a/alice');
  });

  it('keeps two frontends’ end users of the same name apart', async () => {
    const ofA = await converse(frontendA, { 'x-user-id': 'sam' });
    const ofB = await converse(frontendB, { 'x-user-id': 'sam' });
    expect(await visibleTo(ofA, frontendA, { 'x-user-id': 'sam' })).toBe(true);
    expect(await visibleTo(ofA, frontendB, { 'x-user-id': 'sam' })).toBe(false);
    expect(await visibleTo(ofB, frontendA, { 'x-user-id': 'sam' })).toBe(false);
    expect(await visibleTo(ofB, frontendB, { 'x-user-id': 'sam' })).toBe(true);
    const stolen = await gw.patch(
      `/c1/conversations/${ofA}`,
      { title: 'taken' },
      { key: frontendB, headers: { 'x-user-id': 'sam' } },
    );
    expectApiError(stolen, 404, 'conversation_not_found');
  });

  it('cannot reach a plain key’s user or default, and they cannot reach its end users', async () => {
    const ofAlice = await converse(aliceKey);
    const ofDefault = await converse(TEST_API_KEY);
    for (const [id, name] of [
      [ofAlice, 'alice'],
      [ofDefault, 'default'],
    ]) {
      expect(await visibleTo(id, frontendA, { 'x-user-id': name })).toBe(false);
      expect(await visibleTo(id, frontendA, { 'x-user-id': `../${name}` })).toBe(false);
    }
    const ofEndUser = await converse(frontendA, { 'x-user-id': 'alice' });
    expect(await visibleTo(ofEndUser, aliceKey)).toBe(false);
    expect(await visibleTo(ofEndUser, frontendA)).toBe(false);
    expect(await visibleTo(ofEndUser, frontendA, { 'x-user-id': 'alice' })).toBe(true);
  });

  it('refuses a key whose user_id contains "/" (it would enter a service namespace)', async () => {
    const res = await gw.admin('POST', '/api/keys', { name: 'x', user_id: 'frontend-a/alice' });
    expectApiError(res, 400, 'invalid_field', { param: 'user_id' });
  });

  it('refuses an x-user-id that would make the user id longer than 200 characters', async () => {
    const longUser = 'f'.repeat(100);
    const key = (await createKey(gw, { name: 'long', user_id: longUser, role: 'service' })).key;
    const fits = await gw.get('/v1/me', { key, headers: { 'x-user-id': 'u'.repeat(99) } });
    expect(fits.body.user_id).toBe(`${longUser}/${'u'.repeat(99)}`);
    const tooLong = await gw.get('/v1/me', { key, headers: { 'x-user-id': 'u'.repeat(100) } });
    expectApiError(tooLong, 400, 'invalid_field', {
      param: 'x-user-id',
      message: 'x-user-id must be 1 to 99 visible ASCII characters (no spaces)',
    });
  });
});

describe('the ServiceUserNamespace migration', () => {
  let up: FakeUpstream;
  let dir: string;
  let database: TestDatabase;

  beforeAll(async () => {
    up = await startFakeUpstream();
    dir = mkdtempSync(join(tmpdir(), 'parley-namespace-'));
    database = await createTestDatabase(dir);
  });
  afterAll(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
    await up?.close();
  });

  /** Puts the database back as the previous release left it, then boots (which migrates). */
  async function asStoredBefore(rows: { id: string; bareUser: string }[]) {
    for (const { id, bareUser } of rows) {
      await sql(database.url, 'UPDATE conversations SET user_id = $1 WHERE id = $2', [
        bareUser,
        id,
      ]);
    }
    await sql(
      database.url,
      "DELETE FROM migrations WHERE name = 'ServiceUserNamespace1796390000000'",
    );
    return startGateway({ databaseUrl: database.url, models: fakeModelCatalog(up.url) });
  }

  it('moves end users’ conversations into the only service user’s namespace', async () => {
    let gw = await startGateway({ databaseUrl: database.url, models: fakeModelCatalog(up.url) });
    const service = (await createKey(gw, { name: 's', user_id: 'web', role: 'service' })).key;
    const plain = (await createKey(gw, { name: 'p', user_id: 'carol' })).key;
    const post = (key: string, headers: Record<string, string> = {}) =>
      gw.post(
        '/c1/chat/completions',
        { model: 'fake', messages: [{ role: 'user', content: 'hi' }] },
        { key, headers },
      );
    const ofDan = (await post(service, { 'x-user-id': 'dan' })).body.conversation_id as string;
    const ofCarol = (await post(plain)).body.conversation_id as string;
    await gw.close();

    gw = await asStoredBefore([{ id: ofDan, bareUser: 'dan' }]);
    try {
      const asDan = await gw.get(`/c1/conversations/${ofDan}`, {
        key: service,
        headers: { 'x-user-id': 'dan' },
      });
      expect(asDan.status).toBe(200);
      expect((await gw.get(`/c1/conversations/${ofCarol}`, { key: plain })).status).toBe(200);
      const users = await sql<{ id: string; user_id: string }>(
        database.url,
        'SELECT id, user_id FROM conversations ORDER BY user_id',
      );
      expect(users).toEqual(
        expect.arrayContaining([
          { id: ofDan, user_id: 'web/dan' },
          { id: ofCarol, user_id: 'carol' },
        ]),
      );
      // With a second service user the creator of a bare end user's row cannot be known: the
      // row is left as it is.
      await createKey(gw, { name: 's2', user_id: 'mobile', role: 'service' });
    } finally {
      await gw.close();
    }
    gw = await asStoredBefore([{ id: ofDan, bareUser: 'dan' }]);
    try {
      const [row] = await sql<{ user_id: string }>(
        database.url,
        'SELECT user_id FROM conversations WHERE id = $1',
        [ofDan],
      );
      expect(row.user_id).toBe('dan');
    } finally {
      await gw.close();
    }
  });
});
