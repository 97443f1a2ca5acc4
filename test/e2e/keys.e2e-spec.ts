import { existsSync, readFileSync } from 'node:fs';
import { ErrorCode } from 'src/common/errors/error-catalog';
import { expectApiError } from 'test/support/expect-api-error';
import { dumpDatabase, sql } from 'test/support/sql';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

type Case = [body: object, status: number, code: ErrorCode, param: string | null, message: string];

/** Table rows as named fields, so that test titles show the expected error. */
const cases = (rows: Case[]) =>
  rows.map(([body, status, code, param, message]) => ({ body, status, code, param, message }));

const KEY_FIELDS = [
  'allowed_models',
  'created_at',
  'id',
  'is_active',
  'last_used_at',
  'name',
  'rate_limit',
  'role',
  'token_quota',
  'user_id',
];

describe('/api/keys', () => {
  let gw: TestGateway;
  /** Every plaintext key this suite saw, for the "stored nowhere" checks. */
  const plaintexts: string[] = [TEST_API_KEY];

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  async function create(body: Record<string, unknown>) {
    const res = await gw.admin('POST', '/api/keys', body);
    if (res.status === 201) {
      plaintexts.push(res.body.key);
    }
    return res;
  }

  describe('create', () => {
    it('generates a key, shows it once, and the key works', async () => {
      const res = await create({ name: 'laptop', user_id: 'alice' });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual([...KEY_FIELDS, 'key'].sort());
      expect(res.body).toEqual({
        id: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        ),
        name: 'laptop',
        user_id: 'alice',
        role: 'user',
        is_active: true,
        allowed_models: null,
        rate_limit: null,
        token_quota: null,
        created_at: expect.any(String),
        last_used_at: null,
        key: expect.stringMatching(/^pk-[A-Za-z0-9_-]{43}$/),
      });
      expect(Math.abs(Date.parse(res.body.created_at) - Date.now())).toBeLessThan(5000);
      const me = await gw.get('/v1/me', { key: res.body.key });
      expect(me.body).toMatchObject({ key_id: res.body.id, user_id: 'alice' });

      const fetched = await gw.admin('GET', `/api/keys/${res.body.id}`);
      expect(fetched.status).toBe(200);
      expect(Object.keys(fetched.body).sort()).toEqual(KEY_FIELDS);
      expect(fetched.text).not.toContain(res.body.key);
    });

    it('stores every field it is given, and an explicit key works', async () => {
      const key = 'explicit-key-0123456789';
      const res = await create({
        name: 'frontend',
        user_id: 'svc',
        key,
        role: 'service',
        is_active: true,
        allowed_models: ['echo', 'llama'],
        rate_limit: { per_second: 0.5, burst: 10 },
        token_quota: { limit: 1000, period: 'month' },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        key,
        role: 'service',
        allowed_models: ['echo', 'llama'],
        rate_limit: { per_second: 0.5, burst: 10 },
        token_quota: { limit: 1000, period: 'month' },
      });
      expect((await gw.get('/v1/me', { key })).body).toEqual({
        key_id: res.body.id,
        user_id: 'svc',
        role: 'service',
        allowed_models: ['echo', 'llama'],
        rate_limit: { per_second: 0.5, burst: 10 },
        token_quota: { limit: 1000, period: 'month' },
      });
    });

    it('creates an inactive key that does not authenticate', async () => {
      const res = await create({ name: 'later', user_id: 'alice', is_active: false });
      expect(res.body.is_active).toBe(false);
      expectApiError(await gw.get('/v1/me', { key: res.body.key }), 401, 'invalid_authorization');
    });

    it('answers 409 key_already_exists for a key that is already stored', async () => {
      const key = 'duplicate-key-0123456789';
      expect((await create({ name: 'a', user_id: 'alice', key })).status).toBe(201);
      for (const dup of [key, TEST_API_KEY]) {
        const res = await create({ name: 'b', user_id: 'bob', key: dup });
        expectApiError(res, 409, 'key_already_exists', { param: 'key' });
      }
    });

    it('lets the unique index decide between concurrent creations of the same key', async () => {
      const key = 'concurrent-key-0123456789';
      const results = await Promise.all(
        Array.from({ length: 8 }, () => create({ name: 'race', user_id: 'alice', key })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    });

    it('ignores fields a client may not set (id, key_hash, created_at, last_used_at)', async () => {
      const res = await create({
        name: 'sneaky',
        user_id: 'alice',
        id: '00000000-0000-4000-8000-000000000000',
        key_hash: 'f'.repeat(64),
        created_at: '2000-01-01T00:00:00.000Z',
        last_used_at: '2000-01-01T00:00:00.000Z',
      });
      expect(res.status).toBe(201);
      expect(res.body.id).not.toBe('00000000-0000-4000-8000-000000000000');
      expect(res.body.created_at).not.toBe('2000-01-01T00:00:00.000Z');
      expect(res.body.last_used_at).toBeNull();
      expect(res.body).not.toHaveProperty('key_hash');
    });

    const valid = { name: 'ok', user_id: 'alice' };
    it.each(
      cases([
        [{ user_id: 'alice' }, 400, 'missing_field', 'name', 'name is required'],
        [{ ...valid, name: null }, 400, 'missing_field', 'name', 'name is required'],
        [{ ...valid, name: 42 }, 400, 'invalid_field', 'name', 'name must be a string'],
        [{ ...valid, name: '' }, 400, 'invalid_field', 'name', 'name must not be empty'],
        [{ ...valid, name: '   ' }, 400, 'invalid_field', 'name', 'name must not be empty'],
        [
          { ...valid, name: 'n'.repeat(121) },
          400,
          'invalid_field',
          'name',
          'name must be at most 120 characters',
        ],
        [{ name: 'ok' }, 400, 'missing_field', 'user_id', 'user_id is required'],
        [{ ...valid, user_id: 7 }, 400, 'invalid_field', 'user_id', 'user_id must be a string'],
        [{ ...valid, user_id: '' }, 400, 'invalid_field', 'user_id', 'user_id must not be empty'],
        [
          { ...valid, user_id: 'u'.repeat(129) },
          400,
          'invalid_field',
          'user_id',
          'user_id must be at most 128 characters',
        ],
        [
          { ...valid, user_id: 'a b' },
          400,
          'invalid_field',
          'user_id',
          'user_id must contain only visible ASCII characters (no spaces)',
        ],
        [{ ...valid, key: '' }, 400, 'invalid_field', 'key', 'key must be a non-empty string'],
        [{ ...valid, key: 123 }, 400, 'invalid_field', 'key', 'key must be a non-empty string'],
        [{ ...valid, key: null }, 400, 'invalid_field', 'key', 'key must be a non-empty string'],
        [
          { ...valid, key: 'short' },
          400,
          'invalid_field',
          'key',
          'key must be at least 16 characters',
        ],
        [
          { ...valid, key: 'k'.repeat(257) },
          400,
          'invalid_field',
          'key',
          'key must be at most 256 characters',
        ],
        [
          { ...valid, key: 'has a space in it 0123' },
          400,
          'invalid_field',
          'key',
          'key must contain only visible ASCII characters (no spaces)',
        ],
        [
          { ...valid, is_active: 'yes' },
          400,
          'invalid_field',
          'is_active',
          'is_active must be a boolean',
        ],
        [
          { ...valid, is_active: null },
          400,
          'invalid_field',
          'is_active',
          'is_active must be a boolean',
        ],
        [
          { ...valid, role: 'admin' },
          400,
          'invalid_field',
          'role',
          'role must be one of: user, service, node',
        ],
        [
          { ...valid, allowed_models: 'echo' },
          400,
          'invalid_field',
          'allowed_models',
          'allowed_models must be an array of model aliases, or null',
        ],
        [
          { ...valid, allowed_models: [] },
          400,
          'invalid_field',
          'allowed_models',
          'allowed_models must not be empty: use null to allow every model',
        ],
        [
          { ...valid, rate_limit: 5 },
          400,
          'invalid_field',
          'rate_limit',
          'rate_limit must be an object or null',
        ],
        [
          { ...valid, rate_limit: { burst: 5 } },
          400,
          'missing_field',
          'rate_limit.per_second',
          'rate_limit.per_second is required',
        ],
        [
          { ...valid, rate_limit: { per_second: -1, burst: 5 } },
          400,
          'invalid_field',
          'rate_limit.per_second',
          'rate_limit.per_second must be a number between 0 and 1000000',
        ],
        [
          { ...valid, rate_limit: { per_second: 1, burst: 0 } },
          400,
          'invalid_field',
          'rate_limit.burst',
          'rate_limit.burst must be an integer between 1 and 1000000000',
        ],
        [
          { ...valid, token_quota: { limit: 10, period: 'week' } },
          400,
          'invalid_field',
          'token_quota.period',
          'token_quota.period must be one of: day, month, total',
        ],
        [
          { ...valid, token_quota: { period: 'day' } },
          400,
          'missing_field',
          'token_quota.limit',
          'token_quota.limit is required',
        ],
      ]),
    )(
      'refuses a body with $status $code ($param): $message',
      async ({ body, status, code, param, message }) => {
        const res = await gw.admin('POST', '/api/keys', body);
        expectApiError(res, status, code, { param, message });
      },
    );

    it('refuses a request without a body like one without a name', async () => {
      const res = await gw.admin('POST', '/api/keys');
      expectApiError(res, 400, 'missing_field', { param: 'name', message: 'name is required' });
    });
  });

  describe('get, patch, delete', () => {
    let id: string;
    let key: string;
    beforeAll(async () => {
      const res = await create({ name: 'editable', user_id: 'carol' });
      ({ id, key } = res.body);
    });

    it('changes name, role, allowed models and limits, effective at once', async () => {
      const res = await gw.admin('PATCH', `/api/keys/${id}`, {
        name: 'renamed',
        role: 'service',
        allowed_models: ['echo'],
        rate_limit: { per_second: 3, burst: 9 },
        token_quota: { limit: 50, period: 'day' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id,
        name: 'renamed',
        user_id: 'carol',
        role: 'service',
        allowed_models: ['echo'],
        rate_limit: { per_second: 3, burst: 9 },
        token_quota: { limit: 50, period: 'day' },
      });
      expect(res.body).not.toHaveProperty('key');
      expect((await gw.get('/v1/me', { key })).body).toMatchObject({
        role: 'service',
        allowed_models: ['echo'],
        rate_limit: { per_second: 3, burst: 9 },
      });
      const reset = await gw.admin('PATCH', `/api/keys/${id}`, {
        allowed_models: null,
        rate_limit: null,
        token_quota: null,
      });
      expect(reset.body).toMatchObject({
        allowed_models: null,
        rate_limit: null,
        token_quota: null,
      });
      expect((await gw.admin('GET', `/api/keys/${id}`)).body).toEqual(reset.body);
    });

    it.each(
      cases([
        [{}, 400, 'missing_field', null, 'No fields to update'],
        [{ unknown_field: 1 }, 400, 'missing_field', null, 'No fields to update'],
        [{ name: null }, 400, 'invalid_field', 'name', 'name must be a string'],
        [{ name: '' }, 400, 'invalid_field', 'name', 'name must not be empty'],
        [
          { name: 'x'.repeat(121) },
          400,
          'invalid_field',
          'name',
          'name must be at most 120 characters',
        ],
        [{ is_active: 'no' }, 400, 'invalid_field', 'is_active', 'is_active must be a boolean'],
        [
          { user_id: 'mallory' },
          400,
          'invalid_field',
          'user_id',
          'user_id cannot be changed: create a new key for that user',
        ],
        [
          { key: 'new-key-0123456789abc' },
          400,
          'invalid_field',
          'key',
          'key cannot be changed: create a new key instead',
        ],
      ]),
    )(
      'refuses a patch with $status $code ($param): $message',
      async ({ body, status, code, param, message }) => {
        const res = await gw.admin('PATCH', `/api/keys/${id}`, body);
        expectApiError(res, status, code, { param, message });
      },
    );

    it('answers 404 key_not_found for an unknown id', async () => {
      for (const [method, body] of [
        ['GET', undefined],
        ['PATCH', { name: 'x' }],
        ['DELETE', undefined],
      ] as const) {
        for (const unknown of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
          const res = await gw.admin(method, `/api/keys/${unknown}`, body);
          expectApiError(res, 404, 'key_not_found', { param: null });
        }
      }
    });

    it('deletes a key for good: 404 afterwards, the key stops working, the value can be reused', async () => {
      const explicit = 'deleted-key-0123456789';
      const made = await create({ name: 'temp', user_id: 'dave', key: explicit });
      expect((await gw.get('/v1/me', { key: explicit })).status).toBe(200);
      const res = await gw.admin('DELETE', `/api/keys/${made.body.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: made.body.id, deleted: true });
      expectApiError(await gw.admin('GET', `/api/keys/${made.body.id}`), 404, 'key_not_found');
      expectApiError(await gw.get('/v1/me', { key: explicit }), 401, 'invalid_authorization');
      expect((await create({ name: 'again', user_id: 'dave', key: explicit })).status).toBe(201);
    });
  });

  describe('list', () => {
    const ids: string[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 5; i++) {
        ids.push((await create({ name: `page-${i}`, user_id: 'pager' })).body.id);
      }
    });

    it('pages through the keys newest first with limit, after and next_cursor', async () => {
      const seen: { id: string; created_at: string }[] = [];
      let after: string | null = null;
      const pages: number[] = [];
      do {
        const query: string = after ? `&after=${encodeURIComponent(after)}` : '';
        const res = await gw.admin('GET', `/api/keys?user_id=pager&limit=2${query}`);
        expect(res.status).toBe(200);
        expect(Object.keys(res.body).sort()).toEqual(['data', 'has_more', 'next_cursor']);
        seen.push(...res.body.data);
        pages.push(res.body.data.length);
        expect(res.body.has_more).toBe(res.body.next_cursor !== null);
        after = res.body.next_cursor;
      } while (after);
      expect(pages).toEqual([2, 2, 1]);
      expect(seen.map((k) => k.id).sort()).toEqual([...ids].sort());
      const times = seen.map((k) => Date.parse(k.created_at));
      expect(times).toEqual([...times].sort((a, b) => b - a));
    });

    it('lists every key without a filter, never showing a key or its hash', async () => {
      const res = await gw.admin('GET', '/api/keys?limit=100');
      expect(res.body.data.length).toBeGreaterThanOrEqual(6);
      for (const item of res.body.data) {
        expect(Object.keys(item).sort()).toEqual(KEY_FIELDS);
      }
      for (const plaintext of plaintexts) {
        expect(res.text).not.toContain(plaintext);
      }
      const bootstrap = res.body.data.find((k: { user_id: string }) => k.user_id === 'default');
      expect(bootstrap).toMatchObject({ name: 'BOOTSTRAP_API_KEY', is_active: true });
    });

    it.each([
      ['limit=0', 'limit', 'limit must be an integer between 1 and 100'],
      ['limit=101', 'limit', 'limit must be an integer between 1 and 100'],
      ['limit=abc', 'limit', 'limit must be an integer between 1 and 100'],
      ['after=nonsense', 'after', 'after must be a next_cursor returned by this endpoint'],
    ])('refuses ?%s with 400 invalid_field', async (query, param, message) => {
      const res = await gw.admin('GET', `/api/keys?${query}`);
      expectApiError(res, 400, 'invalid_field', { param, message });
    });
  });

  describe('storage', () => {
    it('keeps no plaintext key anywhere in the database, only SHA-256 hashes', async () => {
      expect(plaintexts.length).toBeGreaterThan(5);
      const rows = await sql<{ key_hash: string }>(gw.databaseUrl, 'SELECT * FROM api_keys');
      expect(rows.length).toBeGreaterThan(5);
      for (const row of rows) {
        expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
      }
      // Every table, every column: not only api_keys.
      const everything = await dumpDatabase(gw.databaseUrl);
      expect(everything).toContain('api_keys');
      for (const plaintext of plaintexts) {
        expect(everything).not.toContain(plaintext);
      }
      if (gw.databaseUrl.startsWith('sqlite:')) {
        // The files themselves, write-ahead log included.
        const path = gw.databaseUrl.slice('sqlite:'.length);
        for (const file of [path, `${path}-wal`]) {
          if (existsSync(file)) {
            const bytes = readFileSync(file).toString('latin1');
            for (const plaintext of plaintexts) {
              expect(bytes).not.toContain(plaintext);
            }
          }
        }
      }
    });

    it('writes no key to the logs', () => {
      const logs = gw.logText();
      for (const plaintext of plaintexts) {
        expect(logs).not.toContain(plaintext);
      }
    });
  });
});
