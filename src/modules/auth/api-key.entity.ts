import { Column, Entity, Index, PrimaryColumn, ValueTransformer } from 'typeorm';

/** `node`: a GPU node's agent, which may only report statistics (POST /api/gpu-stats). */
export type ApiKeyRole = 'user' | 'service' | 'node';

/** Wire shape of a per-key rate-limit override (`RATE_LIMIT_PER_SECOND`/`_BURST` otherwise). */
export interface StoredRateLimit {
  per_second: number;
  burst: number;
}

export type QuotaPeriod = 'day' | 'month' | 'total';

export interface StoredTokenQuota {
  limit: number;
  period: QuotaPeriod;
}

/**
 * Epoch milliseconds stored as `bigint` on both drivers (`pg` returns BIGINT as a string;
 * timestamps stay far below 2^53, so they are read back as numbers).
 */
const EPOCH_MS: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/** JSON in a `text` column: the same type and behaviour on SQLite and PostgreSQL. */
const JSON_TEXT: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? undefined : JSON.stringify(value)),
  from: (value: string | null) => (value === null ? null : (JSON.parse(value) as unknown)),
};

/**
 * An API key. Only the SHA-256 of the key is stored (`keyHash`, unique): the plaintext is
 * shown once, in the create response, and can never be read back.
 */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  /** Random UUIDv4. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ type: 'varchar', length: 120 })
  name: string;

  /** Keys sharing a user id share its conversations. */
  @Index('idx_api_keys_user_id')
  @Column({ type: 'varchar', length: 128 })
  userId: string;

  /** SHA-256 (hex) of the key. The unique index arbitrates duplicate explicit keys. */
  @Index('idx_api_keys_key_hash', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  keyHash: string;

  @Column({ type: 'boolean' })
  isActive: boolean;

  @Column({ type: 'varchar', length: 16 })
  role: ApiKeyRole;

  /** Catalog aliases this key may use; null = every model. */
  @Column({ type: 'text', nullable: true, transformer: JSON_TEXT })
  allowedModels: string[] | null;

  @Column({ type: 'text', nullable: true, transformer: JSON_TEXT })
  rateLimit: StoredRateLimit | null;

  @Column({ type: 'text', nullable: true, transformer: JSON_TEXT })
  tokenQuota: StoredTokenQuota | null;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  createdAt: number;

  /** Written at most about once a minute per key, off the request path. */
  @Column({ type: 'bigint', nullable: true, transformer: EPOCH_MS })
  lastUsedAt: number | null;
}
