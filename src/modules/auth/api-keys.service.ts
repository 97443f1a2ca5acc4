import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ApiError } from 'src/common/errors/api-error';
import { ApiKeyEntity } from 'src/modules/auth/api-key.entity';
import { ApiKeyLookup } from 'src/modules/auth/api-key-lookup';
import { ApiKeyChanges, ApiKeysRepository, KeyCursor } from 'src/modules/auth/api-keys.repository';
import { Clock, CLOCK } from 'src/common/time/clock';
import { CreateKeyDto } from 'src/modules/auth/dto/create-key.dto';
import {
  CreatedKeyResponseDto,
  DeletedKeyResponseDto,
  KeyListResponseDto,
  KeyResponseDto,
} from 'src/modules/auth/dto/key-response.dto';
import { DEFAULT_PAGE_SIZE, ListKeysQueryDto } from 'src/modules/auth/dto/list-keys-query.dto';
import { UPDATABLE_FIELDS, UpdateKeyDto } from 'src/modules/auth/dto/update-key.dto';
import { generateApiKey, hashApiKey } from 'src/modules/auth/key-material';

export const DEFAULT_USER_ID = 'default';

/** Key management, shared by `/api/keys` and the `keys` CLI. */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly lookup: ApiKeyLookup,
    @Inject(CLOCK) private readonly now: Clock,
  ) {}

  /** Newest first; `after` is the `next_cursor` of the previous page. */
  async list(query: ListKeysQueryDto): Promise<KeyListResponseDto> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = query.after === undefined ? null : decodeCursor(query.after);
    const rows = await this.keys.listPage(limit + 1, after, query.user_id ?? null);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    const last = page[page.length - 1];
    return {
      data: page.map(toResponse),
      has_more: hasMore,
      next_cursor:
        hasMore && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
    };
  }

  /**
   * Stores a new key (generated unless `key` is given) and returns it with the plaintext key,
   * the only time it is ever shown. A key that is already stored → 409 `key_already_exists`,
   * decided by the unique index on the hash.
   */
  async create(dto: CreateKeyDto): Promise<CreatedKeyResponseDto> {
    const key = dto.key ?? generateApiKey();
    const entity = Object.assign(new ApiKeyEntity(), {
      id: randomUUID(),
      name: dto.name,
      userId: dto.user_id,
      keyHash: hashApiKey(key),
      isActive: dto.is_active ?? true,
      role: dto.role ?? 'user',
      allowedModels: dto.allowed_models ?? null,
      rateLimit: dto.rate_limit
        ? { per_second: dto.rate_limit.per_second, burst: dto.rate_limit.burst }
        : null,
      tokenQuota: dto.token_quota
        ? { limit: dto.token_quota.limit, period: dto.token_quota.period }
        : null,
      createdAt: this.now(),
      lastUsedAt: null,
    } satisfies ApiKeyEntity);
    if (!(await this.keys.insertUnlessDuplicate(entity))) {
      throw new ApiError('key_already_exists', 'A key with this value already exists', {
        param: 'key',
      });
    }
    return { ...toResponse(entity), key };
  }

  async get(id: string): Promise<KeyResponseDto> {
    return toResponse(await this.mustFind(id));
  }

  /** Applies the given fields; the change is effective at once on this instance. */
  async update(id: string, dto: UpdateKeyDto): Promise<KeyResponseDto> {
    if (UPDATABLE_FIELDS.every((field) => dto[field] === undefined)) {
      throw new ApiError('missing_field', 'No fields to update');
    }
    const changes: ApiKeyChanges = {};
    if (dto.name !== undefined) {
      changes.name = dto.name;
    }
    if (dto.is_active !== undefined) {
      changes.isActive = dto.is_active;
    }
    if (dto.role !== undefined) {
      changes.role = dto.role;
    }
    if (dto.allowed_models !== undefined) {
      changes.allowedModels = dto.allowed_models;
    }
    if (dto.rate_limit !== undefined) {
      changes.rateLimit = dto.rate_limit && {
        per_second: dto.rate_limit.per_second,
        burst: dto.rate_limit.burst,
      };
    }
    if (dto.token_quota !== undefined) {
      changes.tokenQuota = dto.token_quota && {
        limit: dto.token_quota.limit,
        period: dto.token_quota.period,
      };
    }
    const updated = await this.keys.update(id, changes);
    if (!updated) {
      throw notFound();
    }
    this.lookup.forget(updated.keyHash);
    return toResponse(updated);
  }

  /** Deactivates a key (reversible with `is_active: true`). */
  revoke(id: string): Promise<KeyResponseDto> {
    return this.update(id, { is_active: false });
  }

  /** Deletes a key for good: its hash is gone, so the same explicit key can be created again. */
  async remove(id: string): Promise<DeletedKeyResponseDto> {
    const deleted = await this.keys.delete(id);
    if (!deleted) {
      throw notFound();
    }
    this.lookup.forget(deleted.keyHash);
    return { id: deleted.id, deleted: true };
  }

  /**
   * First-start bootstrap. With `bootstrapKey` (BOOTSTRAP_API_KEY): upserts it for user
   * `default`, active, and returns null. Without it: when the database holds no key at all,
   * creates one for user `default` and returns the plaintext (the caller prints it once).
   */
  async ensureBootstrapKey(bootstrapKey: string | null): Promise<CreatedKeyResponseDto | null> {
    if (bootstrapKey !== null) {
      await this.upsertBootstrapKey(bootstrapKey);
      return null;
    }
    if (await this.keys.hasAny()) {
      return null;
    }
    return this.create({ name: 'bootstrap', user_id: DEFAULT_USER_ID });
  }

  private async upsertBootstrapKey(key: string): Promise<void> {
    const keyHash = hashApiKey(key);
    for (let attempt = 0; attempt < 2; attempt++) {
      const existing = await this.keys.findByHash(keyHash);
      if (existing) {
        if (!existing.isActive || existing.userId !== DEFAULT_USER_ID) {
          await this.keys.update(existing.id, { isActive: true, userId: DEFAULT_USER_ID });
          this.lookup.forget(keyHash);
        }
        return;
      }
      try {
        await this.create({ name: 'BOOTSTRAP_API_KEY', user_id: DEFAULT_USER_ID, key });
        return;
      } catch (error) {
        // Another instance inserted it between our read and our insert: read it again.
        if (!(error instanceof ApiError && error.code === 'key_already_exists')) {
          throw error;
        }
      }
    }
  }

  private async mustFind(id: string): Promise<ApiKeyEntity> {
    const key = await this.keys.findById(id);
    if (!key) {
      throw notFound();
    }
    return key;
  }
}

function notFound(): ApiError {
  return new ApiError('key_not_found', 'No API key has this id');
}

export function toResponse(key: ApiKeyEntity): KeyResponseDto {
  return {
    id: key.id,
    name: key.name,
    user_id: key.userId,
    role: key.role,
    is_active: key.isActive,
    allowed_models: key.allowedModels,
    rate_limit: key.rateLimit,
    token_quota: key.tokenQuota,
    created_at: new Date(key.createdAt).toISOString(),
    last_used_at: key.lastUsedAt === null ? null : new Date(key.lastUsedAt).toISOString(),
  };
}

/** Opaque to clients: base64url of `[created_at, id]` of the last row of a page. */
export function encodeCursor(cursor: KeyCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

export function decodeCursor(value: string): KeyCursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      Number.isSafeInteger(parsed[0]) &&
      typeof parsed[1] === 'string' &&
      parsed[1].length <= 36
    ) {
      return { createdAt: parsed[0] as number, id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new ApiError('invalid_field', 'after must be a next_cursor returned by this endpoint', {
    param: 'after',
  });
}
