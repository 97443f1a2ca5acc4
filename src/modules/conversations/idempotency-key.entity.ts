import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { EPOCH_MS } from 'src/modules/conversations/db-columns';

/**
 * An `Idempotency-Key` seen on a /c1 turn, per user, kept 24 hours. The primary key makes two
 * concurrent requests with the same key collide in the database, so exactly one runs.
 */
@Entity({ name: 'idempotency_keys' })
@Index('idx_idempotency_keys_created', ['createdAt'])
@Index('idx_idempotency_keys_turn', ['turnId'])
export class IdempotencyKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  userId: string;

  @PrimaryColumn({ type: 'varchar', length: 255 })
  key: string;

  /** SHA-256 of the canonical request (conversation id and body). */
  @Column({ type: 'varchar', length: 64 })
  fingerprint: string;

  @Column({ type: 'varchar', length: 36 })
  conversationId: string;

  @Column({ type: 'varchar', length: 36 })
  turnId: string;

  /** Set when the turn is stored; null while it runs. */
  @Column({ type: 'varchar', length: 36, nullable: true })
  assistantMessageId: string | null;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  createdAt: number;
}
