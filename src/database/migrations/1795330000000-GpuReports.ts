import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** The last GPU report of each node (issue #17, SPEC "Fleet"). */
export class GpuReports1795330000000 implements MigrationInterface {
  name = 'GpuReports1795330000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'gpu_reports',
        columns: [
          {
            name: 'node',
            type: 'varchar',
            length: '128',
            isPrimary: true,
            primaryKeyConstraintName: 'pk_gpu_reports',
          },
          { name: 'gpus', type: 'text', isNullable: false },
          { name: 'reported_at', type: 'bigint', isNullable: false },
          { name: 'key_id', type: 'varchar', length: '36', isNullable: false },
        ],
      }),
    );
    await queryRunner.createIndex(
      'gpu_reports',
      new TableIndex({ name: 'idx_gpu_reports_reported_at', columnNames: ['reported_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('gpu_reports');
  }
}
