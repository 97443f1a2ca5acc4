import { expectApiError } from 'test/support/expect-api-error';
import { sql } from 'test/support/sql';
import {
  createKey,
  GatewayResponse,
  startGateway,
  TEST_ADMIN_TOKEN,
  TEST_API_KEY,
  TestGateway,
} from 'test/support/start-gateway';
import { sleep } from 'test/support/time';

const INVALID_KEY_BODY = {
  error: {
    type: 'authentication_error',
    code: 'invalid_authorization',
    message:
      'The API key is not valid: it is unknown, revoked or inactive, or the header is malformed',
    param: null,
  },
};

describe('API-key authentication', () => {
  let gw: TestGateway;
  let service: { id: string; key: string };
  let inactive: { id: string; key: string };
  let revoked: { id: string; key: string };
  let deleted: { id: string; key: string };

  beforeAll(async () => {
    gw = await startGateway();
    service = await createKey(gw, { role: 'service', user_id: 'frontend' });
    inactive = await createKey(gw, { is_active: false });
    revoked = await createKey(gw);
    expect((await gw.get('/v1/me', { key: revoked.key })).status).toBe(200);
    expect((await gw.admin('PATCH', `/api/keys/${revoked.id}`, { is_active: false })).status).toBe(
      200,
    );
    deleted = await createKey(gw);
    expect((await gw.admin('DELETE', `/api/keys/${deleted.id}`)).status).toBe(200);
  });
  afterAll(() => gw.close());

  const me = (headers: Record<string, string>) => gw.get('/v1/me', { headers, key: null });

  it('accepts a key as Bearer and as x-api-key', async () => {
    const variants: Record<string, string>[] = [
      { authorization: `Bearer ${TEST_API_KEY}` },
      { 'x-api-key': TEST_API_KEY },
      { authorization: `Bearer ${TEST_API_KEY}`, 'x-api-key': TEST_API_KEY },
    ];
    for (const headers of variants) {
      const res = await me(headers);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        key_id: expect.any(String),
        user_id: 'default',
        role: 'user',
        allowed_models: null,
        rate_limit: null,
        token_quota: null,
      });
    }
  });

  it('accepts the scheme in any case and several spaces after it (RFC 7235)', async () => {
    for (const authorization of [
      `bearer ${TEST_API_KEY}`,
      `BEARER ${TEST_API_KEY}`,
      `Bearer   ${TEST_API_KEY}`,
    ]) {
      expect((await me({ authorization })).status).toBe(200);
    }
  });

  it('answers 401 missing_authorization without credentials', async () => {
    const variants: Record<string, string>[] = [{}, { authorization: '' }, { 'x-api-key': '' }];
    for (const headers of variants) {
      const res = await me(headers);
      expectApiError(res, 401, 'missing_authorization', { param: null });
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="parley"');
    }
  });

  it('answers every wrong, revoked, inactive, deleted or malformed key with the same 401 body', async () => {
    const cases: Record<string, Record<string, string>> = {
      unknown: { authorization: 'Bearer pk-unknown-0123456789abcdef' },
      'unknown (lowercase scheme)': { authorization: 'bearer pk-unknown-0123456789abcdef' },
      'unknown x-api-key': { 'x-api-key': 'pk-unknown-0123456789abcdef' },
      revoked: { authorization: `Bearer ${revoked.key}` },
      inactive: { 'x-api-key': inactive.key },
      deleted: { authorization: `Bearer ${deleted.key}` },
      'no scheme': { authorization: TEST_API_KEY },
      'Basic scheme': { authorization: `Basic ${TEST_API_KEY}` },
      'scheme only': { authorization: 'Bearer' },
      'token with a space': { authorization: `Bearer ${TEST_API_KEY} x` },
      'a 20 KB token': { authorization: `Bearer ${'k'.repeat(20 * 1024)}` },
      'a 20 KB x-api-key': { 'x-api-key': 'k'.repeat(20 * 1024) },
      'conflicting headers': { authorization: `Bearer ${TEST_API_KEY}`, 'x-api-key': service.key },
      'valid x-api-key with a malformed Authorization': {
        authorization: 'Basic dXNlcjpwYXNz',
        'x-api-key': TEST_API_KEY,
      },
    };
    const bodies = new Set<string>();
    for (const [name, headers] of Object.entries(cases)) {
      const res = await me(headers);
      expect({ name, status: res.status, body: res.body }).toEqual({
        name,
        status: 401,
        body: INVALID_KEY_BODY,
      });
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="parley"');
      bodies.add(res.text);
    }
    expect(bodies.size).toBe(1);
  });

  it('lets a service key act for an end user with x-user-id', async () => {
    const own = await me({ authorization: `Bearer ${service.key}` });
    expect(own.body).toMatchObject({ user_id: 'frontend', role: 'service', key_id: service.id });
    const acting = await me({ authorization: `Bearer ${service.key}`, 'x-user-id': 'end-user-7' });
    expect(acting.status).toBe(200);
    expect(acting.body).toMatchObject({ user_id: 'frontend/end-user-7', key_id: service.id });
  });

  it('refuses an invalid x-user-id from a service key with 400 invalid_field', async () => {
    for (const value of ['', 'with space', 'u'.repeat(129)]) {
      const res = await me({ authorization: `Bearer ${service.key}`, 'x-user-id': value });
      expectApiError(res, 400, 'invalid_field', {
        param: 'x-user-id',
        message: 'x-user-id must be 1 to 128 visible ASCII characters (no spaces)',
      });
    }
    const longest = await me({
      authorization: `Bearer ${service.key}`,
      'x-user-id': 'u'.repeat(128),
    });
    expect(longest.status).toBe(200);
  });

  it('refuses x-user-id from a user key with 403 user_override_forbidden', async () => {
    const res = await me({ authorization: `Bearer ${TEST_API_KEY}`, 'x-user-id': 'someone-else' });
    expectApiError(res, 403, 'user_override_forbidden', { param: null });
  });

  it('takes a revocation through the API into account at once', async () => {
    const key = await createKey(gw);
    expect((await gw.get('/v1/me', { key: key.key })).status).toBe(200);
    await gw.admin('PATCH', `/api/keys/${key.id}`, { is_active: false });
    expect((await gw.get('/v1/me', { key: key.key })).body).toEqual(INVALID_KEY_BODY);
    await gw.admin('PATCH', `/api/keys/${key.id}`, { is_active: true });
    expect((await gw.get('/v1/me', { key: key.key })).status).toBe(200);
  });

  it('takes a revocation made by another process into account within about a second', async () => {
    const key = await createKey(gw);
    expect((await gw.get('/v1/me', { key: key.key })).status).toBe(200);
    // What the CLI or a second instance does: change the row behind this gateway's back.
    await sql(gw.databaseUrl, 'UPDATE api_keys SET is_active = FALSE WHERE id = $1', [key.id]);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 10_000) {
      status = (await gw.get('/v1/me', { key: key.key })).status;
      if (status === 200) {
        await sleep(50);
      }
    }
    expect(status).toBe(401);
    // The one-second freshness itself is ApiKeyLookup's unit test (fake clock); this bound,
    // three times it, tells "about a second" from a cache that holds keys for minutes.
    expect(Date.now() - revokedAt).toBeLessThan(3_000);
  });

  it('records last_used_at shortly after a key is used, off the request path', async () => {
    const key = await createKey(gw);
    expect((await gw.admin('GET', `/api/keys/${key.id}`)).body.last_used_at).toBeNull();
    const before = Date.now();
    expect((await gw.get('/v1/me', { key: key.key })).status).toBe(200);
    let lastUsed: string | null = null;
    for (let i = 0; i < 40 && lastUsed === null; i++) {
      await sleep(100);
      lastUsed = (await gw.admin('GET', `/api/keys/${key.id}`)).body.last_used_at;
    }
    expect(lastUsed).not.toBeNull();
    expect(Date.parse(lastUsed!)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('never writes a key or the admin token to the logs', async () => {
    await me({ authorization: `Bearer ${TEST_API_KEY}` });
    await me({ 'x-api-key': service.key, 'x-user-id': 'u1' });
    const logs = gw.logText();
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [TEST_API_KEY, TEST_ADMIN_TOKEN, service.key, revoked.key, inactive.key]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe('admin routes', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  const list = (headers: Record<string, string>) => gw.get('/api/keys', { headers, key: null });

  it('accept ADMIN_TOKEN', async () => {
    expect((await list({ authorization: `Bearer ${TEST_ADMIN_TOKEN}` })).status).toBe(200);
  });

  it('answer 401 missing_authorization without a token', async () => {
    expectApiError(await list({}), 401, 'missing_authorization', { param: null });
  });

  it('answer 401 invalid_authorization to a wrong token, an API key or a malformed header', async () => {
    const bodies = new Set<string>();
    for (const headers of [
      { authorization: `Bearer ${TEST_ADMIN_TOKEN}x` },
      { authorization: `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}` },
      { authorization: `Bearer ${TEST_API_KEY}` },
      { authorization: `Basic ${TEST_ADMIN_TOKEN}` },
      { authorization: `Bearer ${'a'.repeat(20 * 1024)}` },
    ]) {
      const res = await list(headers);
      expectApiError(res, 401, 'invalid_authorization', { param: null });
      bodies.add(res.text);
    }
    expect(bodies.size).toBe(1);
  });

  it('do not take ADMIN_TOKEN as an API key', async () => {
    const res = await gw.get('/v1/me', { key: TEST_ADMIN_TOKEN });
    expectApiError(res, 401, 'invalid_authorization', { param: null });
  });

  it('answer 401 to every call when ADMIN_TOKEN is unset', async () => {
    const closed = await startGateway({ env: { ADMIN_TOKEN: '' } });
    try {
      for (const [method, path] of [
        ['GET', '/api/keys'],
        ['POST', '/api/keys'],
        ['GET', '/api/keys/x'],
        ['PATCH', '/api/keys/x'],
        ['DELETE', '/api/keys/x'],
      ]) {
        const res = await closed.request(method, path, undefined, { key: TEST_ADMIN_TOKEN });
        expectApiError(res, 401, 'invalid_authorization', { param: null });
      }
      expect(closed.logText()).toContain('ADMIN_TOKEN is not set');
    } finally {
      await closed.close();
    }
  });
});

describe('failed-authentication throttling', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { AUTH_FAILURES_PER_MINUTE: '5' } });
  });
  afterAll(() => gw.close());

  it('answers 429 with retry-after past AUTH_FAILURES_PER_MINUTE, without slowing a valid key', async () => {
    expect((await gw.get('/v1/me')).status).toBe(200);
    const statuses: number[] = [];
    let last: GatewayResponse | undefined;
    for (let i = 0; i < 8; i++) {
      last = await gw.get('/v1/me', { key: `pk-guess-${i}-0123456789abcdef` });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expectApiError(last!, 429, 'rate_limit_exceeded', { param: null });
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(last!.headers.get('retry-after'))).toBeLessThanOrEqual(12);
    expectApiError(await gw.get('/v1/me', { key: null }), 429, 'rate_limit_exceeded');
    expectApiError(
      await gw.get('/api/keys', { key: 'wrong-admin-token-0123' }),
      429,
      'rate_limit_exceeded',
    );

    // The valid key keeps working from the same address, at full speed: a key made to wait
    // out the retry-after (at least 1 s a request) would take 20 s, so 10 s is ample margin.
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      expect((await gw.get('/v1/me')).status).toBe(200);
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('failed-authentication throttling behind a load balancer (TRUST_PROXY)', () => {
  const guesses = (gw: TestGateway, forwardedFor: string, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        gw
          .get('/v1/me', {
            key: `pk-guess-${i}-0123456789abcdef`,
            headers: { 'x-forwarded-for': forwardedFor },
          })
          .then((r) => r.status),
      ),
    );

  it('counts failures per forwarded client when the proxy is trusted', async () => {
    const gw = await startGateway({
      env: { AUTH_FAILURES_PER_MINUTE: '3', TRUST_PROXY: '127.0.0.1' },
    });
    try {
      expect((await guesses(gw, '203.0.113.1', 5)).sort()).toEqual([401, 401, 401, 429, 429]);
      // Another client behind the same balancer is not punished for the first one's guesses.
      expect(await guesses(gw, '203.0.113.2', 3)).toEqual([401, 401, 401]);
    } finally {
      await gw.close();
    }
  });

  it('ignores X-Forwarded-For by default (a client could claim any address)', async () => {
    const gw = await startGateway({ env: { AUTH_FAILURES_PER_MINUTE: '3' } });
    try {
      expect((await guesses(gw, '203.0.113.1', 3)).sort()).toEqual([401, 401, 401]);
      expect(await guesses(gw, '203.0.113.2', 2)).toEqual([429, 429]);
    } finally {
      await gw.close();
    }
  });
});
