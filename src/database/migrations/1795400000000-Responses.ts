import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * OpenAI Responses API (issue #15): a response is a turn of a conversation, so its messages
 * stay in `messages`; this table holds what the turn tables do not — the request fields a
 * response echoes, its previous response, and its owner for lookups by response id.
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
          { name: 'created_at', type: 'bigint', isNullable: false },
        ],
      }),
    );
    await queryRunner.createIndex(
      'responses',
      new TableIndex({ name: 'idx_responses_conversation', columnNames: ['conversation_id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('responses');
  }
}
