import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { EPOCH_MS } from 'src/modules/conversations/db-columns';

export type MessageStatus = 'pending' | 'completed' | 'incomplete' | 'failed';

/**
 * One stored message. `parentId` links it to the previous message of its conversation: reading
 * a history walks that chain from the conversation's head (one recursive query over the
 * primary key), and a fork simply points at an existing message.
 */
@Entity({ name: 'messages' })
@Index('idx_messages_tree', ['treeId'])
@Index('idx_messages_turn', ['turnId'])
export class MessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ type: 'varchar', length: 36 })
  treeId: string;

  @Column({ type: 'varchar', length: 36, nullable: true })
  parentId: string | null;

  /** Position in its chain: 0 for the first message; orders a history. */
  @Column({ type: 'integer' })
  depth: number;

  /** The turn that wrote it; every message of a turn shares it. */
  @Column({ type: 'varchar', length: 36 })
  turnId: string;

  @Column({ type: 'varchar', length: 16 })
  role: string;

  /** `NeutralPart[]` as JSON text (src/kernel/neutral-history.ts). */
  @Column({ type: 'text' })
  content: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  name: string | null;

  @Column({ type: 'varchar', length: 16 })
  status: MessageStatus;

  @Column({ type: 'varchar', length: 64, nullable: true })
  finishReason: string | null;

  /** Upstream-reported usage of the turn (assistant messages). */
  @Column({ type: 'integer', nullable: true })
  promptTokens: number | null;

  @Column({ type: 'integer', nullable: true })
  completionTokens: number | null;

  /** Tokenizer estimate of this message's size, computed once when stored (history budget). */
  @Column({ type: 'integer' })
  tokenEstimate: number;

  /** Catalog alias that answered (assistant messages). */
  @Column({ type: 'varchar', length: 200, nullable: true })
  model: string | null;

  /** Catalog code of the failure, for `failed` messages. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  errorCode: string | null;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  createdAt: number;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  updatedAt: number;
}
