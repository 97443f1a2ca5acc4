import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** API keys, stored as SHA-256 hashes (issue #3). */
export class ApiKeys1795322890000 implements MigrationInterface {
  name = 'ApiKeys1795322890000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const varchar = (name: string, length: number) => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable: false,
    });
    const jsonText = (name: string) => ({ name, type: 'text', isNullable: true });
    await queryRunner.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          { ...varchar('id', 36), isPrimary: true },
          varchar('name', 120),
          varchar('user_id', 128),
          varchar('key_hash', 64),
          { name: 'is_active', type: 'boolean', isNullable: false },
          varchar('role', 16),
          jsonText('allowed_models'),
          jsonText('rate_limit'),
          jsonText('token_quota'),
          { name: 'created_at', type: 'bigint', isNullable: false },
          { name: 'last_used_at', type: 'bigint', isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndices('api_keys', [
      new TableIndex({ name: 'idx_api_keys_key_hash', columnNames: ['key_hash'], isUnique: true }),
      new TableIndex({ name: 'idx_api_keys_user_id', columnNames: ['user_id'] }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_keys');
  }
}
