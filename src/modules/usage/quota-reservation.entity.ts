import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { BIGINT_NUMBER } from 'src/modules/usage/daily-usage.entity';

/**
 * Tokens a request of a key with a quota holds while it runs (issue #22 item 5): its maximum
 * while in flight, then its real usage until that usage is written to `usage_daily`. A row
 * counts toward the key's quota until `expiresAt`, so a crashed instance's reservations lapse
 * by themselves. Written only by `QuotaReservationsRepository`.
 */
@Entity({ name: 'quota_reservations' })
@Index('idx_quota_reservations_key', ['keyId', 'expiresAt'])
export class QuotaReservationEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_quota_reservations' })
  id: string;

  @Column({ type: 'varchar', length: 64 })
  keyId: string;

  @Column({ type: 'bigint', transformer: BIGINT_NUMBER })
  tokens: number;

  /** Epoch milliseconds. */
  @Column({ type: 'bigint', transformer: BIGINT_NUMBER })
  expiresAt: number;
}
