import { ApiKeyEntity } from 'src/modules/auth/api-key.entity';
import { hashApiKey } from 'src/modules/auth/key-material';

/** An active key entity for unit tests. */
export function keyEntity(key: string, overrides: Partial<ApiKeyEntity> = {}): ApiKeyEntity {
  return Object.assign(new ApiKeyEntity(), {
    id: `id-${key}`,
    name: 'test',
    userId: 'alice',
    keyHash: hashApiKey(key),
    isActive: true,
    role: 'user',
    allowedModels: null,
    rateLimit: null,
    tokenQuota: null,
    createdAt: 0,
    lastUsedAt: null,
    ...overrides,
  } satisfies ApiKeyEntity);
}

/** An in-memory key source that counts its queries. */
export class InMemoryKeySource {
  readonly keys = new Map<string, ApiKeyEntity>();
  queries = 0;

  add(entity: ApiKeyEntity): void {
    this.keys.set(entity.keyHash, entity);
  }

  findByHash(keyHash: string): Promise<ApiKeyEntity | null> {
    this.queries++;
    return Promise.resolve(this.keys.get(keyHash) ?? null);
  }
}
