import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { EPOCH_MS } from 'src/modules/conversations/db-columns';

/**
 * A stored OpenAI response: one turn of a conversation (its id is the turn's id, its input
 * and output are the turn's messages). Holds what the turn tables do not.
 */
@Entity({ name: 'responses' })
@Index('idx_responses_conversation', ['conversationId'])
@Index('idx_responses_run_state', ['runState'])
export class ResponseEntity {
  /** The turn id (`resp_<id>` on the wire). */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  userId: string;

  /** The conversation the turn belongs to (also when the client named none). */
  @Column({ type: 'varchar', length: 36 })
  conversationId: string;

  @Column({ type: 'varchar', length: 200 })
  model: string;

  @Column({ type: 'varchar', length: 36, nullable: true })
  previousResponseId: string | null;

  /** JSON: the request fields the response object echoes (`ResponseSettings`). */
  @Column({ type: 'text' })
  request: string;

  /**
   * `running` while a background generation runs (null otherwise, and once its final event is
   * stored). With `heartbeatAt`, finds generations whose process died.
   */
  @Column({ type: 'varchar', length: 16, nullable: true })
  runState: 'running' | null;

  /** Renewed by the running generation; a stale one means its process is gone. */
  @Column({ type: 'bigint', nullable: true, transformer: EPOCH_MS })
  heartbeatAt: number | null;

  /** Set by `POST /v1/responses/{id}/cancel` on any instance; the runner stops on seeing it. */
  @Column({ type: 'bigint', nullable: true, transformer: EPOCH_MS })
  cancelRequestedAt: number | null;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  createdAt: number;
}
