import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Console users and their database-backed sessions (issue #16). */
export class ConsoleUsers1796400000000 implements MigrationInterface {
  name = 'ConsoleUsers1796400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const varchar = (name: string, length: number) => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable: false,
    });
    const epochMs = (name: string) => ({ name, type: 'bigint', isNullable: false });
    await queryRunner.createTable(
      new Table({
        name: 'console_users',
        columns: [
          { ...varchar('id', 36), isPrimary: true },
          varchar('username', 64),
          varchar('password_hash', 255),
          varchar('role', 16),
          { name: 'is_active', type: 'boolean', isNullable: false },
          epochMs('created_at'),
          epochMs('updated_at'),
        ],
      }),
    );
    await queryRunner.createIndex(
      'console_users',
      new TableIndex({
        name: 'idx_console_users_username',
        columnNames: ['username'],
        isUnique: true,
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'console_sessions',
        columns: [
          { ...varchar('id_hash', 64), isPrimary: true },
          varchar('user_id', 36),
          varchar('csrf_token', 64),
          epochMs('created_at'),
          epochMs('last_seen_at'),
          epochMs('expires_at'),
        ],
      }),
    );
    await queryRunner.createIndices('console_sessions', [
      new TableIndex({ name: 'idx_console_sessions_user_id', columnNames: ['user_id'] }),
      new TableIndex({ name: 'idx_console_sessions_expires_at', columnNames: ['expires_at'] }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('console_sessions');
    await queryRunner.dropTable('console_users');
  }
}
