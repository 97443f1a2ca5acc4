import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Covering indexes for the console's usage report (issue #16): a day range is summed per
 * (day, key) or (day, model) in index order, without a table lookup or a sort per row, which
 * keeps a month of a million-row table in the hundreds of milliseconds.
 */
export class UsageReportIndex1796400000001 implements MigrationInterface {
  name = 'UsageReportIndex1796400000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sums = ['prompt_tokens', 'completion_tokens', 'requests'];
    await queryRunner.createIndices('usage_daily', [
      new TableIndex({
        name: 'idx_usage_daily_report_key',
        columnNames: ['day', 'key_id', ...sums],
      }),
      new TableIndex({
        name: 'idx_usage_daily_report_model',
        columnNames: ['day', 'model', ...sums],
      }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('usage_daily', 'idx_usage_daily_report_model');
    await queryRunner.dropIndex('usage_daily', 'idx_usage_daily_report_key');
  }
}
