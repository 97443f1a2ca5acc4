import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * OpenAI Responses API (issue #15): a response is a turn of a conversation, so its messages
 * stay in `messages`; this table holds what the turn tables do not — the request fields a
 * response echoes, its previous response, its owner for lookups by response id, and the
 * state and event log of background generations.
 */
export class Responses1795400000000 implements MigrationInterface {
  name = 'Responses1795400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'responses',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '200', isNullable: false },
          { name: 'conversation_id', type: 'varchar', length: '36', isNullable: false },
          { name: 'model', type: 'varchar', length: '200', isNullable: false },
          { name: 'previous_response_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'request', type: 'text', isNullable: false },
          { name: 'run_state', type: 'varchar', length: '16', isNullable: true },
          { name: 'heartbeat_at', type: 'bigint', isNullable: true },
          { name: 'cancel_requested_at', type: 'bigint', isNullable: true },
          { name: 'created_at', type: 'bigint', isNullable: false },
        ],
      }),
    );
    await queryRunner.createIndex(
      'responses',
      new TableIndex({ name: 'idx_responses_conversation', columnNames: ['conversation_id'] }),
    );
    await queryRunner.createIndex(
      'responses',
      new TableIndex({ name: 'idx_responses_run_state', columnNames: ['run_state'] }),
    );
    // The event log of background responses: what a resumed stream replays, on any instance.
    await queryRunner.createTable(
      new Table({
        name: 'response_events',
        columns: [
          {
            name: 'response_id',
            type: 'varchar',
            length: '36',
            isPrimary: true,
            primaryKeyConstraintName: 'pk_response_events',
          },
          {
            name: 'sequence_number',
            type: 'integer',
            isPrimary: true,
            primaryKeyConstraintName: 'pk_response_events',
          },
          { name: 'data', type: 'text', isNullable: false },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('response_events');
    await queryRunner.dropTable('responses');
  }
}
