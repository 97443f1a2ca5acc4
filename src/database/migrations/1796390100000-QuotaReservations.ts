import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Tokens held by requests in flight against a key's quota (issue #22 item 5). */
export class QuotaReservations1796390100000 implements MigrationInterface {
  name = 'QuotaReservations1796390100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'quota_reservations',
        columns: [
          {
            name: 'id',
            type: 'varchar',
            length: '36',
            isPrimary: true,
            primaryKeyConstraintName: 'pk_quota_reservations',
          },
          { name: 'key_id', type: 'varchar', length: '64', isNullable: false },
          { name: 'tokens', type: 'bigint', isNullable: false },
          { name: 'expires_at', type: 'bigint', isNullable: false },
        ],
      }),
    );
    await queryRunner.createIndex(
      'quota_reservations',
      new TableIndex({
        name: 'idx_quota_reservations_key',
        columnNames: ['key_id', 'expires_at'],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('quota_reservations');
  }
}
