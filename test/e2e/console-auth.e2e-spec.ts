import { ConsoleUsersService } from 'src/modules/console-auth/console-users.service';
import { CONSOLE_ADMIN_PASSWORD, signIn, withSession } from 'test/support/console-session';
import { expectApiError } from 'test/support/expect-api-error';
import { sql } from 'test/support/sql';
import { startGateway, TEST_ADMIN_TOKEN, TestGateway } from 'test/support/start-gateway';

/**
 * Console sign-in, sessions and CSRF over HTTP (issue #16, SPEC "Console and sessions"), on
 * SQLite (e2e) and PostgreSQL (e2e-postgres), including two instances sharing one database.
 */
const ENV = { CONSOLE_ADMIN_PASSWORD, CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: '1000' };

describe('console sign-in and sessions', () => {
  let gw: TestGateway;
  let second: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({ env: ENV });
    // A second instance on the same database: sessions must be honoured by both.
    second = await startGateway({ env: ENV, databaseUrl: gw.databaseUrl });
    await gw.app.get(ConsoleUsersService).create('vera', 'viewer-password-1', 'viewer');
  });
  afterAll(async () => {
    await second?.close();
    await gw?.close();
  });

  it('signs in with the admin from CONSOLE_ADMIN_PASSWORD and sets a strict HttpOnly cookie', async () => {
    const session = await signIn(gw);
    expect(session.res.body).toEqual({
      authenticated: true,
      user: 'admin',
      role: 'admin',
      csrf_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(session.setCookie).toMatch(
      /^parley_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    );
    expect(session.setCookie).not.toMatch(/Secure/);
    const me = await withSession(gw, session, 'GET', '/api/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual(session.res.body);
    // Only a hash of the session id is stored.
    const rows = await sql<{ id_hash: string }>(
      gw.databaseUrl,
      'SELECT id_hash FROM console_sessions',
    );
    const id = session.cookie.split('=')[1];
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(id);
  });

  it('answers anonymous /api/me with 401 and "authenticated": false beside the error', async () => {
    const res = await gw.get('/api/me', { key: null });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      authenticated: false,
      error: {
        type: 'authentication_error',
        code: 'missing_authorization',
        message: expect.any(String),
        param: null,
      },
    });
    const forged = await gw.get('/api/me', {
      key: null,
      headers: { cookie: `parley_session=${'A'.repeat(43)}` },
    });
    expect(forged.status).toBe(401);
    expect(forged.body.authenticated).toBe(false);
  });

  it('refuses a wrong password and an unknown user with the very same 401 body', async () => {
    const wrong = await gw.post(
      '/api/login',
      { username: 'admin', password: 'not-the-password' },
      { key: null },
    );
    const unknown = await gw.post(
      '/api/login',
      { username: 'nobody', password: 'not-the-password' },
      { key: null },
    );
    const disabled = await gw.post(
      '/api/login',
      { username: 'admin ', password: 'x'.repeat(300) },
      { key: null },
    );
    expectApiError(wrong, 401, 'invalid_credentials', { param: null });
    expect(unknown.text).toBe(wrong.text);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expectApiError(disabled, 400, 'invalid_field', { param: 'password' });
    const missing = await gw.post('/api/login', { username: 'admin' }, { key: null });
    expectApiError(missing, 400, 'missing_field', { param: 'password' });
  });

  it('gives a new session id at every sign-in and ends the one the browser held', async () => {
    const first = await signIn(gw);
    const again = await signIn(gw, 'admin', CONSOLE_ADMIN_PASSWORD, { cookie: first.cookie });
    expect(again.cookie).not.toBe(first.cookie);
    expect(again.csrf).not.toBe(first.csrf);
    expect((await withSession(gw, first, 'GET', '/api/me')).status).toBe(401);
    expect((await withSession(gw, again, 'GET', '/api/me')).status).toBe(200);
  });

  it('lets a session use /api routes, and mutations only with its CSRF token', async () => {
    const session = await signIn(gw);
    const list = await withSession(gw, { cookie: session.cookie }, 'GET', '/api/keys');
    expect(list.status).toBe(200);
    const body = { name: 'from-console', user_id: 'carol' };
    const noToken = await withSession(gw, { cookie: session.cookie }, 'POST', '/api/keys', body);
    expectApiError(noToken, 403, 'csrf_failed', { param: null });
    const otherToken = await signIn(gw);
    const wrongToken = await withSession(
      gw,
      { cookie: session.cookie, csrf: otherToken.csrf },
      'POST',
      '/api/keys',
      body,
    );
    expectApiError(wrongToken, 403, 'csrf_failed', { param: null });
    const created = await withSession(gw, session, 'POST', '/api/keys', body);
    expect(created.status).toBe(201);
    // Nothing was created by the refused attempts.
    const mine = await gw.admin('GET', '/api/keys?user_id=carol');
    expect(mine.body.data.map((k: { name: string }) => k.name)).toEqual(['from-console']);
    // Automation keeps using the admin token, without any CSRF token.
    const automated = await gw.admin('POST', '/api/keys', { name: 'automation', user_id: 'carol' });
    expect(automated.status).toBe(201);
  });

  it('lets a viewer read but not change anything', async () => {
    const viewer = await signIn(gw, 'vera', 'viewer-password-1');
    expect(viewer.res.body.role).toBe('viewer');
    expect((await withSession(gw, viewer, 'GET', '/api/keys')).status).toBe(200);
    const create = await withSession(gw, viewer, 'POST', '/api/keys', { name: 'x', user_id: 'v' });
    expectApiError(create, 403, 'console_role_forbidden', { param: null });
    const logout = await withSession(gw, viewer, 'POST', '/api/logout');
    expect(logout.status).toBe(204);
  });

  it('honours a session started on one instance on the other, and a sign-out on either ends it', async () => {
    const session = await signIn(gw);
    const there = await withSession(second, session, 'GET', '/api/me');
    expect(there.status).toBe(200);
    expect(there.body.user).toBe('admin');
    const created = await withSession(second, session, 'POST', '/api/keys', {
      name: 'on-second',
      user_id: 'dan',
    });
    expect(created.status).toBe(201);
    const withoutToken = await withSession(
      second,
      { cookie: session.cookie },
      'POST',
      '/api/logout',
    );
    expectApiError(withoutToken, 403, 'csrf_failed', { param: null });
    const out = await withSession(second, session, 'POST', '/api/logout');
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(
      /^parley_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/,
    );
    const after = await withSession(gw, session, 'GET', '/api/keys');
    expectApiError(after, 401, 'invalid_authorization', { param: null });
  });

  it('ends every session of a user who is disabled, on every instance', async () => {
    const users = gw.app.get(ConsoleUsersService);
    await users.create('temp', 'temporary-password', 'admin');
    const session = await signIn(second, 'temp', 'temporary-password');
    await users.disable('temp');
    expect((await withSession(second, session, 'GET', '/api/keys')).status).toBe(401);
    const again = await second.post(
      '/api/login',
      { username: 'temp', password: 'temporary-password' },
      { key: null },
    );
    expectApiError(again, 401, 'invalid_credentials', { param: null });
  });

  it('ends a session left idle longer than CONSOLE_SESSION_IDLE_MINUTES, and one past its absolute expiry', async () => {
    const idle = await signIn(gw);
    const expired = await signIn(gw);
    const hour = 3_600_000;
    // Another instance's clock, as seen through the shared table.
    await sql(gw.databaseUrl, 'UPDATE console_sessions SET last_seen_at = last_seen_at - $1', [
      hour,
    ]);
    expect((await withSession(gw, idle, 'GET', '/api/me')).status).toBe(401);
    const fresh = await signIn(gw);
    await sql(gw.databaseUrl, 'UPDATE console_sessions SET expires_at = $1', [Date.now() - 1]);
    expect((await withSession(gw, fresh, 'GET', '/api/me')).status).toBe(401);
    expect((await withSession(gw, expired, 'GET', '/api/me')).status).toBe(401);
  });

  it('chats through /c1 as user console:<name>, with CSRF like any other mutation', async () => {
    const session = await signIn(gw);
    const body = {
      model: 'echo',
      messages: [{ role: 'user', content: 'hello from the playground' }],
    };
    const refused = await withSession(
      gw,
      { cookie: session.cookie },
      'POST',
      '/c1/chat/completions',
      body,
    );
    expectApiError(refused, 403, 'csrf_failed', { param: null });
    const turn = await withSession(gw, session, 'POST', '/c1/chat/completions', body);
    expect(turn.status).toBe(200);
    const id = turn.headers.get('x-conversation-id');
    expect(id).toBeTruthy();
    const read = await withSession(gw, session, 'GET', `/c1/conversations/${id}`);
    expect(read.status).toBe(200);
    // The conversation belongs to console:admin, not to any key's user.
    const rows = await sql<{ user_id: string }>(
      gw.databaseUrl,
      'SELECT user_id FROM conversations WHERE id = $1',
      [id],
    );
    expect(rows).toEqual([{ user_id: 'console:admin' }]);
    expect((await gw.get(`/c1/conversations/${id}`)).status).toBe(404);
  });
});

describe('console sign-in limits and https', () => {
  it('answers the 11th sign-in attempt in a minute from one address with 429 and retry-after', async () => {
    const gw = await startGateway({ env: { CONSOLE_ADMIN_PASSWORD } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await gw.post(
          '/api/login',
          { username: 'admin', password: `wrong-${i}-password` },
          { key: null },
        );
        statuses.push(res.status);
      }
      expect(statuses).toEqual(Array(10).fill(401));
      const limited = await gw.post(
        '/api/login',
        { username: 'admin', password: CONSOLE_ADMIN_PASSWORD },
        { key: null },
      );
      expectApiError(limited, 429, 'rate_limit_exceeded', { param: null });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // The admin token is not affected by the console limiter.
      expect((await gw.admin('GET', '/api/keys')).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('marks the cookie Secure when a trusted proxy says the request came over https, and only then', async () => {
    const gw = await startGateway({ env: { ...ENV, TRUST_PROXY: 'loopback' } });
    const untrusting = await startGateway({ env: ENV, databaseUrl: gw.databaseUrl });
    try {
      const proto = { 'x-forwarded-proto': 'https' };
      expect((await signIn(gw, 'admin', CONSOLE_ADMIN_PASSWORD, proto)).setCookie).toMatch(
        /; Secure$/,
      );
      expect((await signIn(gw)).setCookie).not.toMatch(/Secure/);
      expect(
        (await signIn(untrusting, 'admin', CONSOLE_ADMIN_PASSWORD, proto)).setCookie,
      ).not.toMatch(/Secure/);
    } finally {
      await untrusting.close();
      await gw.close();
    }
  });

  it('accepts ADMIN_TOKEN on /api routes even when a stale session cookie is sent along', async () => {
    const gw = await startGateway({ env: ENV });
    try {
      const res = await gw.get('/api/keys', {
        key: TEST_ADMIN_TOKEN,
        headers: { cookie: `parley_session=${'B'.repeat(43)}` },
      });
      expect(res.status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
