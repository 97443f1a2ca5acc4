import { ApiError } from 'src/common/errors/api-error';
import { ApiKeyEntity } from 'src/modules/auth/api-key.entity';
import { ApiKeyLookup } from 'src/modules/auth/api-key-lookup';
import { ApiKeyChanges, ApiKeysRepository, KeyCursor } from 'src/modules/auth/api-keys.repository';
import { ApiKeysService, DEFAULT_USER_ID } from 'src/modules/auth/api-keys.service';
import { hashApiKey } from 'src/modules/auth/key-material';

/**
 * `ApiKeysRepository` in memory, with the two rules the service relies on: the key hash is
 * unique (a second insert of the same key is refused), and pages are newest first by
 * (created_at, id), strictly after the cursor.
 */
class InMemoryKeysRepository {
  readonly rows = new Map<string, ApiKeyEntity>();
  /** Hashes another instance inserts between the service's read and its insert. */
  readonly insertedElsewhere = new Set<string>();

  findByHash(keyHash: string): Promise<ApiKeyEntity | null> {
    return Promise.resolve([...this.rows.values()].find((k) => k.keyHash === keyHash) ?? null);
  }

  findById(id: string): Promise<ApiKeyEntity | null> {
    return Promise.resolve(this.rows.get(id) ?? null);
  }

  hasAny(): Promise<boolean> {
    return Promise.resolve(this.rows.size > 0);
  }

  async insertUnlessDuplicate(entity: ApiKeyEntity): Promise<boolean> {
    if (this.insertedElsewhere.delete(entity.keyHash)) {
      this.rows.set('elsewhere', { ...entity, id: 'elsewhere', isActive: false, userId: 'bob' });
      return false;
    }
    if (await this.findByHash(entity.keyHash)) {
      return false;
    }
    this.rows.set(entity.id, { ...entity });
    return true;
  }

  update(id: string, changes: ApiKeyChanges): Promise<ApiKeyEntity | null> {
    const row = this.rows.get(id);
    if (!row) {
      return Promise.resolve(null);
    }
    Object.assign(row, changes);
    return Promise.resolve({ ...row });
  }

  delete(id: string): Promise<ApiKeyEntity | null> {
    const row = this.rows.get(id) ?? null;
    this.rows.delete(id);
    return Promise.resolve(row);
  }

  listPage(limit: number, after: KeyCursor | null, userId: string | null) {
    const newestFirst = [...this.rows.values()]
      .filter((k) => userId === null || k.userId === userId)
      .filter(
        (k) =>
          !after ||
          k.createdAt < after.createdAt ||
          (k.createdAt === after.createdAt && k.id < after.id),
      )
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    return Promise.resolve(newestFirst.slice(0, limit));
  }
}

async function errorOf(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe(ApiKeysService.name, () => {
  let repository: InMemoryKeysRepository;
  let lookup: ApiKeyLookup;
  let now: number;
  let service: ApiKeysService;

  beforeEach(() => {
    repository = new InMemoryKeysRepository();
    now = Date.UTC(2026, 0, 1);
    lookup = new ApiKeyLookup(repository, () => now);
    service = new ApiKeysService(repository as unknown as ApiKeysRepository, lookup, () => now);
  });

  /** Whether `key` authenticates now (the guard's question), cached or not. */
  const authenticates = async (key: string) => (await lookup.load(hashApiKey(key))) !== null;

  it('creates a generated key, stores only its hash, and shows the plaintext once', async () => {
    const created = await service.create({ name: 'ci', user_id: 'alice' });
    expect(created).toMatchObject({
      name: 'ci',
      user_id: 'alice',
      role: 'user',
      is_active: true,
      allowed_models: null,
      rate_limit: null,
      token_quota: null,
      created_at: '2026-01-01T00:00:00.000Z',
      last_used_at: null,
    });
    const stored = repository.rows.get(created.id)!;
    expect(stored.keyHash).toBe(hashApiKey(created.key));
    expect(JSON.stringify(stored)).not.toContain(created.key);
    expect(await service.get(created.id)).not.toHaveProperty('key');
    expect(await authenticates(created.key)).toBe(true);
  });

  it('refuses a second key with the same value (409 key_already_exists on `key`)', async () => {
    await service.create({ name: 'a', user_id: 'alice', key: 'sk-explicit-0123456789' });
    const error = await errorOf(
      service.create({ name: 'b', user_id: 'bob', key: 'sk-explicit-0123456789' }),
    );
    expect([error.code, error.param]).toEqual(['key_already_exists', 'key']);
    expect([...repository.rows.values()].map((k) => k.name)).toEqual(['a']);
  });

  it('pages newest first through every key exactly once, per user when asked', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      now += 1000;
      ids.push((await service.create({ name: `k${i}`, user_id: i % 2 ? 'bob' : 'alice' })).id);
    }
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await service.list({ limit: 2, after });
      seen.push(...page.data.map((k) => k.id));
      expect(page.data.length).toBeLessThanOrEqual(2);
      after = page.next_cursor ?? undefined;
      expect(page.has_more).toBe(after !== undefined);
    } while (after);
    expect(seen).toEqual([...ids].reverse());
    const bobs = await service.list({ user_id: 'bob' });
    expect(bobs.data.map((k) => k.name)).toEqual(['k3', 'k1']);
  });

  it('refuses a cursor it did not issue (invalid_field on `after`)', async () => {
    for (const after of ['not-base64-json', Buffer.from('[1,2,3]').toString('base64url')]) {
      const error = await errorOf(service.list({ after }));
      expect([error.code, error.param]).toEqual(['invalid_field', 'after']);
    }
  });

  it('applies an update and drops the cached key at once, so a revocation takes effect', async () => {
    const created = await service.create({ name: 'ci', user_id: 'alice' });
    expect(await authenticates(created.key)).toBe(true);
    const limited = await service.update(created.id, {
      rate_limit: { per_second: 2, burst: 4 },
      allowed_models: ['m'],
    });
    expect(limited).toMatchObject({
      rate_limit: { per_second: 2, burst: 4 },
      allowed_models: ['m'],
    });
    expect(lookup.fresh(hashApiKey(created.key))).toBeUndefined();
    expect(await service.revoke(created.id)).toMatchObject({ is_active: false });
    expect(await authenticates(created.key)).toBe(false);
  });

  it('answers missing_field for an empty update and key_not_found for an unknown id', async () => {
    const created = await service.create({ name: 'ci', user_id: 'alice' });
    expect((await errorOf(service.update(created.id, {}))).code).toBe('missing_field');
    expect((await errorOf(service.update('nope', { name: 'x' }))).code).toBe('key_not_found');
    expect((await errorOf(service.get('nope'))).code).toBe('key_not_found');
    expect((await errorOf(service.remove('nope'))).code).toBe('key_not_found');
  });

  it('deletes a key for good: it stops working and its value can be created again', async () => {
    const key = 'sk-explicit-0123456789';
    const created = await service.create({ name: 'a', user_id: 'alice', key });
    expect(await authenticates(key)).toBe(true);
    expect(await service.remove(created.id)).toEqual({ id: created.id, deleted: true });
    expect(await authenticates(key)).toBe(false);
    expect((await errorOf(service.remove(created.id))).code).toBe('key_not_found');
    await expect(service.create({ name: 'again', user_id: 'alice', key })).resolves.toMatchObject({
      key,
    });
  });

  describe('first-start bootstrap', () => {
    it('creates one key for the default user on an empty database, and none after', async () => {
      const first = await service.ensureBootstrapKey(null);
      expect(first).toMatchObject({ name: 'bootstrap', user_id: DEFAULT_USER_ID });
      expect(await authenticates(first!.key)).toBe(true);
      expect(await service.ensureBootstrapKey(null)).toBeNull();
      expect(repository.rows.size).toBe(1);
    });

    it('stores BOOTSTRAP_API_KEY once, and reactivates it for the default user', async () => {
      const key = 'sk-bootstrap-0123456789';
      expect(await service.ensureBootstrapKey(key)).toBeNull();
      expect(await service.ensureBootstrapKey(key)).toBeNull();
      expect(repository.rows.size).toBe(1);
      const [stored] = repository.rows.values();
      await service.update(stored.id, { is_active: false });
      expect(await authenticates(key)).toBe(false);
      await service.ensureBootstrapKey(key);
      expect(repository.rows.get(stored.id)).toMatchObject({
        isActive: true,
        userId: DEFAULT_USER_ID,
      });
      expect(await authenticates(key)).toBe(true);
    });

    it('takes over the key another instance inserted at the same moment', async () => {
      const key = 'sk-bootstrap-0123456789';
      repository.insertedElsewhere.add(hashApiKey(key));
      await expect(service.ensureBootstrapKey(key)).resolves.toBeNull();
      expect(repository.rows.get('elsewhere')).toMatchObject({
        isActive: true,
        userId: DEFAULT_USER_ID,
      });
      expect(await authenticates(key)).toBe(true);
    });
  });
});
