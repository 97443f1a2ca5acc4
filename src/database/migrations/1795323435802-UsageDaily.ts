import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Token usage per key, model and UTC day (issue #6). */
export class UsageDaily1795323435802 implements MigrationInterface {
  name = 'UsageDaily1795323435802';

  async up(queryRunner: QueryRunner): Promise<void> {
    const key = (name: string, length: number) => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable: false,
      isPrimary: true,
      primaryKeyConstraintName: 'pk_usage_daily',
    });
    const count = (name: string) => ({ name, type: 'bigint', isNullable: false });
    await queryRunner.createTable(
      new Table({
        name: 'usage_daily',
        columns: [
          key('key_id', 64),
          key('model', 200),
          key('day', 10),
          count('prompt_tokens'),
          count('completion_tokens'),
          count('requests'),
        ],
      }),
    );
    await queryRunner.createIndex(
      'usage_daily',
      new TableIndex({ name: 'idx_usage_daily_day', columnNames: ['day'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('usage_daily');
  }
}
