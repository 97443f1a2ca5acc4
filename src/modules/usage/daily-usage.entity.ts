import { Column, Entity, Index, PrimaryColumn, ValueTransformer } from 'typeorm';

/** `pg` returns BIGINT as a string; token counts stay far below 2^53, so read them as numbers. */
export const BIGINT_NUMBER: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | number) => Number(value),
};

/**
 * Tokens one key used on one model on one UTC day, summed over every upstream answer. Written
 * only by `UsageRepository.add` (an additive upsert), never read-modify-written.
 */
@Entity({ name: 'usage_daily' })
@Index('idx_usage_daily_day', ['day'])
// The console's usage report sums a day range per key or per model from these alone.
@Index('idx_usage_daily_report_key', [
  'day',
  'keyId',
  'promptTokens',
  'completionTokens',
  'requests',
])
@Index('idx_usage_daily_report_model', [
  'day',
  'model',
  'promptTokens',
  'completionTokens',
  'requests',
])
export class DailyUsageEntity {
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'pk_usage_daily' })
  keyId: string;

  /** The catalog alias the request named. */
  @PrimaryColumn({ type: 'varchar', length: 200, primaryKeyConstraintName: 'pk_usage_daily' })
  model: string;

  /** `YYYY-MM-DD`, UTC: sorts and compares as text on both drivers. */
  @PrimaryColumn({ type: 'varchar', length: 10, primaryKeyConstraintName: 'pk_usage_daily' })
  day: string;

  @Column({ type: 'bigint', transformer: BIGINT_NUMBER })
  promptTokens: number;

  @Column({ type: 'bigint', transformer: BIGINT_NUMBER })
  completionTokens: number;

  /** Upstream answers that reported usage. */
  @Column({ type: 'bigint', transformer: BIGINT_NUMBER })
  requests: number;
}
