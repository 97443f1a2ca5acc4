import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { EPOCH_MS } from 'src/modules/conversations/db-columns';

/**
 * A conversation is a pointer into a tree of messages: `headMessageId` is its last message and
 * the history is the chain of parents from there. A fork is a new conversation whose head is a
 * message of the same tree (`treeId`), so nothing is copied.
 */
@Entity({ name: 'conversations' })
@Index('idx_conversations_user_updated', ['userId', 'updatedAt', 'id'])
@Index('idx_conversations_turn_expiry', ['activeTurnExpiresAt'])
/** The retention sweep's scan (issue #19). */
@Index('idx_conversations_updated', ['updatedAt'])
export class ConversationEntity {
  /** Random UUIDv4, never sequential (ids are not to be guessed). */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  userId: string;

  /** The tree of messages this conversation points into (shared with its forks). */
  @Column({ type: 'varchar', length: 36 })
  @Index('idx_conversations_tree')
  treeId: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  title: string | null;

  /** JSON object of string values (at most 16 keys), or null. */
  @Column({ type: 'text', nullable: true })
  metadata: string | null;

  /** The catalog alias of the last turn: used when a turn omits `model`. */
  @Column({ type: 'varchar', length: 200, nullable: true })
  model: string | null;

  @Column({ type: 'varchar', length: 36, nullable: true })
  headMessageId: string | null;

  /**
   * The turn that holds the conversation (one turn at a time), claimed by a conditional UPDATE
   * so the database arbitrates between gateway instances. Expires after the longest a turn can
   * last, so a crashed process cannot hold it forever.
   */
  @Column({ type: 'varchar', length: 36, nullable: true })
  activeTurnId: string | null;

  @Column({ type: 'bigint', nullable: true, transformer: EPOCH_MS })
  activeTurnExpiresAt: number | null;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  createdAt: number;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  updatedAt: number;
}
