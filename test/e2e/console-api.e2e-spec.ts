import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CONSOLE_ADMIN_PASSWORD, signIn, withSession } from 'test/support/console-session';
import { expectApiError } from 'test/support/expect-api-error';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { sql } from 'test/support/sql';
import { createKey, startGateway, TestGateway } from 'test/support/start-gateway';

const ROOT = join(__dirname, '..', '..');

/** The operator routes the console reads (issue #16): usage report, any user's conversations, overview. */
describe('console operator routes', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({ env: { CONSOLE_ADMIN_PASSWORD }, models: fakeModelCatalog(up.url) });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('reports usage by key, user and model over a day range, paged, with per-day series', async () => {
    const alice = await createKey(gw, { user_id: 'alice', name: 'a' });
    const bob = await createKey(gw, { user_id: 'bob', name: 'b' });
    // Rows written behind the gateway's back, as the usage recorder of any instance would.
    const rows: [string, string, string, number, number, number][] = [
      [alice.id, 'm1', '2026-01-01', 10, 5, 1],
      [alice.id, 'm2', '2026-01-02', 100, 50, 2],
      [bob.id, 'm1', '2026-01-02', 1, 1, 1],
      ['console:admin', 'm1', '2026-01-03', 7, 3, 1],
      [bob.id, 'm1', '2025-12-31', 999, 999, 9], // outside the range
    ];
    for (const r of rows) {
      await sql(
        gw.databaseUrl,
        'INSERT INTO usage_daily (key_id, model, day, prompt_tokens, completion_tokens, requests) VALUES ($1, $2, $3, $4, $5, $6)',
        r,
      );
    }
    const range = 'from=2026-01-01&to=2026-01-03';
    const byUser = await gw.admin('GET', `/api/usage/report?by=user&${range}`);
    expect(byUser.status).toBe(200);
    expect(byUser.body.groups).toEqual([
      { label: 'alice', prompt_tokens: 110, completion_tokens: 55, requests: 3 },
      { label: 'console:admin', prompt_tokens: 7, completion_tokens: 3, requests: 1 },
      { label: 'bob', prompt_tokens: 1, completion_tokens: 1, requests: 1 },
    ]);
    expect(byUser.body.total_groups).toBe(3);
    const byModel = await gw.admin('GET', `/api/usage/report?by=model&${range}&limit=1&offset=1`);
    expect(byModel.body).toMatchObject({
      by: 'model',
      total_groups: 2,
      groups: [{ label: 'm1', prompt_tokens: 18, completion_tokens: 9, requests: 3 }],
    });
    expect(byModel.body.series).toEqual([
      { day: '2026-01-01', label: 'm1', prompt_tokens: 10, completion_tokens: 5, requests: 1 },
      { day: '2026-01-02', label: 'm1', prompt_tokens: 1, completion_tokens: 1, requests: 1 },
      { day: '2026-01-03', label: 'm1', prompt_tokens: 7, completion_tokens: 3, requests: 1 },
    ]);
    const byKey = await gw.admin('GET', `/api/usage/report?by=key&${range}&limit=10`);
    expect(byKey.body.groups.map((g: { label: string }) => g.label)).toEqual([
      alice.id,
      'console:admin',
      bob.id,
    ]);
  });

  it('refuses unbounded or malformed report queries with the parameter named', async () => {
    const cases: [string, string][] = [
      ['by=everything', 'by'],
      ['from=2020-01-01&to=2026-01-01', 'from'],
      ['from=2026-02-01&to=2026-01-01', 'from'],
      ['from=2026-13-01', 'from'],
      ['limit=101', 'limit'],
      ['limit=0', 'limit'],
      ['offset=-1', 'offset'],
    ];
    for (const [query, param] of cases) {
      const res = await gw.admin('GET', `/api/usage/report?${query}`);
      expect({ query, status: res.status, param: res.body?.error?.param }).toEqual({
        query,
        status: 400,
        param,
      });
    }
  });

  it("lets an operator list, read and delete a user's conversations; another user's id is the same 404 as a missing one", async () => {
    const carol = await createKey(gw, { user_id: 'carol', name: 'c' });
    const turn = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: 'hi there' }] },
      { key: carol.key },
    );
    expect(turn.status).toBe(200);
    const id = turn.headers.get('x-conversation-id')!;
    const head = (await gw.get(`/c1/conversations/${id}`, { key: carol.key })).body.messages[0].id;
    const fork = await gw.post(
      `/c1/conversations/${id}/fork`,
      { message_id: head },
      { key: carol.key },
    );
    expect(fork.status).toBeLessThan(300);

    const list = await gw.admin('GET', '/api/users/carol/conversations');
    expect(list.status).toBe(200);
    expect(list.body.data.map((c: { id: string }) => c.id)).toContain(id);
    const detail = await gw.admin('GET', `/api/users/carol/conversations/${id}`);
    expect(detail.status).toBe(200);
    expect(
      detail.body.messages.map((m: { role: string; status: string }) => [m.role, m.status]),
    ).toEqual([
      ['user', 'completed'],
      ['assistant', 'completed'],
    ]);
    expect(detail.body.forks).toEqual([
      { id: fork.body.id, title: expect.any(String), updated_at: expect.any(Number) },
    ]);

    const asOther = await gw.admin('GET', `/api/users/dave/conversations/${id}`);
    const missing = await gw.admin(
      'GET',
      '/api/users/dave/conversations/00000000-0000-4000-8000-000000000000',
    );
    expectApiError(asOther, 404, 'conversation_not_found');
    expect(asOther.text).toBe(missing.text);
    expectApiError(await gw.admin('GET', '/api/users/%20/conversations'), 400, 'invalid_field', {
      param: 'user_id',
    });
    expectApiError(
      await gw.admin('DELETE', `/api/users/dave/conversations/${id}`),
      404,
      'conversation_not_found',
    );

    const session = await signIn(gw);
    const refused = await withSession(
      gw,
      { cookie: session.cookie },
      'DELETE',
      `/api/users/carol/conversations/${id}`,
    );
    expectApiError(refused, 403, 'csrf_failed');
    const deleted = await withSession(
      gw,
      session,
      'DELETE',
      `/api/users/carol/conversations/${id}`,
    );
    expect(deleted.status).toBe(200);
    expect((await gw.get(`/c1/conversations/${id}`, { key: carol.key })).status).toBe(404);
  });

  it("shows this instance's traffic and everyone's tokens on the overview", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // earlier tests' usage, flushed
    const before = (await gw.admin('GET', '/api/overview')).body;
    const key = await createKey(gw, { user_id: 'erin', name: 'e' });
    for (let i = 0; i < 3; i++) {
      const res = await gw.post(
        '/v1/chat/completions',
        { model: 'fake', messages: [{ role: 'user', content: `ping ${i}` }] },
        { key: key.key },
      );
      expect(res.status).toBe(200);
    }
    up.next({ kind: 'error', status: 503 });
    await gw.post(
      '/v1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: 'x' }] },
      { key: key.key },
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // usage flushes every second
    const after = (await gw.admin('GET', '/api/overview')).body;
    expect(
      after.traffic.last_hour.requests - before.traffic.last_hour.requests,
    ).toBeGreaterThanOrEqual(4);
    expect(after.traffic.last_hour.errors - before.traffic.last_hour.errors).toBeGreaterThanOrEqual(
      1,
    );
    expect(after.traffic.last_hour.avg_latency_ms).toBeGreaterThan(0);
    expect(after.tokens.today.requests - before.tokens.today.requests).toBe(3);
    expect(after.tokens.last_7_days.prompt_tokens).toBeGreaterThanOrEqual(
      after.tokens.today.prompt_tokens,
    );
  });
});

describe('npm run users', () => {
  it('creates, lists, re-keys and disables console users, reading passwords from stdin only', async () => {
    const gw = await startGateway();
    const users = (input: string, ...args: string[]) => {
      const result = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli', 'users.js'), ...args], {
        env: { PATH: process.env.PATH, DATABASE_URL: gw.databaseUrl },
        input,
        encoding: 'utf8',
        timeout: 30_000,
      });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    try {
      const created = users('first-password-1\n', 'create', 'olga', '--role', 'viewer');
      expect(created.code).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({
        username: 'olga',
        role: 'viewer',
        is_active: true,
      });
      expect(created.stdout).not.toContain('first-password-1');
      expect((await signIn(gw, 'olga', 'first-password-1')).res.body.role).toBe('viewer');

      expect(users('short\n', 'create', 'pete').code).toBe(1);
      expect(users('whatever-password\n', 'create', 'olga').stderr).toMatch(/already exists/);
      const list = users('', 'list', '--json');
      expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ username: 'olga' })]);
      expect(list.stdout).not.toMatch(/scrypt/);
      const stored = await sql<{ password_hash: string }>(
        gw.databaseUrl,
        'SELECT password_hash FROM console_users',
      );
      expect(stored[0].password_hash).toMatch(/^scrypt\$16384\$8\$5\$/);

      const session = await signIn(gw, 'olga', 'first-password-1');
      expect(users('second-password-2\n', 'set-password', 'olga').code).toBe(0);
      expect((await withSession(gw, session, 'GET', '/api/me')).status).toBe(401);
      expect((await signIn(gw, 'olga', 'second-password-2')).res.status).toBe(200);

      expect(users('', 'disable', 'olga').code).toBe(0);
      const refused = await gw.post(
        '/api/login',
        { username: 'olga', password: 'second-password-2' },
        { key: null },
      );
      expectApiError(refused, 401, 'invalid_credentials');
      expect(users('', 'disable', 'nobody').code).toBe(1);
      expect(users('', 'frobnicate').code).toBe(2);
    } finally {
      await gw.close();
    }
  });
});
