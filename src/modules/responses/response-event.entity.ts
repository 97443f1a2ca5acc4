import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One stored event of a background response (the SSE `data` JSON), by sequence number. */
@Entity({ name: 'response_events' })
export class ResponseEventEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_response_events' })
  responseId: string;

  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'pk_response_events' })
  sequenceNumber: number;

  @Column({ type: 'text' })
  data: string;
}
