import { Injectable } from '@nestjs/common';
import { DataSource, In, QueryFailedError, Repository } from 'typeorm';
import { ApiKeyEntity } from 'src/modules/auth/api-key.entity';

/** Position in the newest-first listing: the last row of the previous page. */
export interface KeyCursor {
  createdAt: number;
  id: string;
}

export type ApiKeyChanges = Partial<
  Pick<
    ApiKeyEntity,
    'name' | 'userId' | 'isActive' | 'role' | 'allowedModels' | 'rateLimit' | 'tokenQuota'
  >
>;

/** Every query on `api_keys`. Services never build queries. */
@Injectable()
export class ApiKeysRepository {
  private readonly repo: Repository<ApiKeyEntity>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(ApiKeyEntity);
  }

  findByHash(keyHash: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOne({ where: { keyHash } });
  }

  findById(id: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOne({ where: { id } });
  }

  async hasAny(): Promise<boolean> {
    return (await this.repo.find({ select: { id: true }, take: 1 })).length > 0;
  }

  /**
   * Inserts a key; false when its hash is already stored. The unique index decides, so two
   * concurrent creations of the same key (on any number of instances) cannot both succeed.
   */
  async insertUnlessDuplicate(entity: ApiKeyEntity): Promise<boolean> {
    try {
      await this.repo.insert(entity);
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) {
        return false;
      }
      throw error;
    }
  }

  /** Applies the changes; the updated row, or null when no key has this id. */
  async update(id: string, changes: ApiKeyChanges): Promise<ApiKeyEntity | null> {
    const result = await this.repo.update({ id }, changes);
    if (result.affected === 0) {
      return null;
    }
    return this.findById(id);
  }

  /** Deletes the key; the deleted row (its hash is needed to drop it from caches), or null. */
  async delete(id: string): Promise<ApiKeyEntity | null> {
    const existing = await this.findById(id);
    if (!existing) {
      return null;
    }
    const result = await this.repo.delete({ id });
    return result.affected === 0 ? null : existing;
  }

  /** Up to `limit` keys, newest first, strictly after the cursor, optionally of one user. */
  listPage(limit: number, after: KeyCursor | null, userId: string | null): Promise<ApiKeyEntity[]> {
    const query = this.repo
      .createQueryBuilder('k')
      .where('1 = 1')
      .orderBy('k.created_at', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .limit(limit);
    if (userId !== null) {
      query.andWhere('k.user_id = :userId', { userId });
    }
    if (after) {
      query.andWhere('(k.created_at < :createdAt OR (k.created_at = :createdAt AND k.id < :id))', {
        createdAt: after.createdAt,
        id: after.id,
      });
    }
    return query.getMany();
  }

  /** Sets `last_used_at` of these keys, in statements of at most 500 ids. */
  async touchLastUsed(ids: readonly string[], at: number): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.repo.update({ id: In(ids.slice(i, i + 500)) }, { lastUsedAt: at });
    }
  }
}

/** SQLite `SQLITE_CONSTRAINT_UNIQUE` / PostgreSQL `23505`. */
export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) {
    return false;
  }
  const code = (error.driverError as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}
