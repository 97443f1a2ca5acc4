import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** /c1 storage: conversations, their messages (a parent-linked tree) and idempotency keys. */
export class Conversations1795322800000 implements MigrationInterface {
  name = 'Conversations1795322800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const id = (name: string, nullable = false) => ({
      name,
      type: 'varchar',
      length: '36',
      isNullable: nullable,
    });
    const varchar = (name: string, length: number, nullable = true) => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable: nullable,
    });
    const epochMs = (name: string, nullable = false) => ({
      name,
      type: 'bigint',
      isNullable: nullable,
    });

    await queryRunner.createTable(
      new Table({
        name: 'conversations',
        columns: [
          { ...id('id'), isPrimary: true },
          varchar('user_id', 200, false),
          id('tree_id'),
          varchar('title', 200),
          { name: 'metadata', type: 'text', isNullable: true },
          varchar('model', 200),
          id('head_message_id', true),
          id('active_turn_id', true),
          epochMs('active_turn_expires_at', true),
          epochMs('created_at'),
          epochMs('updated_at'),
        ],
      }),
    );
    await queryRunner.createIndices('conversations', [
      new TableIndex({
        name: 'idx_conversations_user_updated',
        columnNames: ['user_id', 'updated_at', 'id'],
      }),
      new TableIndex({
        name: 'idx_conversations_turn_expiry',
        columnNames: ['active_turn_expires_at'],
      }),
      new TableIndex({ name: 'idx_conversations_tree', columnNames: ['tree_id'] }),
    ]);

    await queryRunner.createTable(
      new Table({
        name: 'messages',
        columns: [
          { ...id('id'), isPrimary: true },
          id('tree_id'),
          id('parent_id', true),
          { name: 'depth', type: 'integer' },
          id('turn_id'),
          varchar('role', 16, false),
          { name: 'content', type: 'text' },
          varchar('name', 200),
          varchar('status', 16, false),
          varchar('finish_reason', 64),
          { name: 'prompt_tokens', type: 'integer', isNullable: true },
          { name: 'completion_tokens', type: 'integer', isNullable: true },
          { name: 'token_estimate', type: 'integer' },
          varchar('model', 200),
          varchar('error_code', 64),
          epochMs('created_at'),
          epochMs('updated_at'),
        ],
      }),
    );
    await queryRunner.createIndices('messages', [
      new TableIndex({ name: 'idx_messages_tree', columnNames: ['tree_id'] }),
      new TableIndex({ name: 'idx_messages_turn', columnNames: ['turn_id'] }),
    ]);

    await queryRunner.createTable(
      new Table({
        name: 'idempotency_keys',
        columns: [
          { ...varchar('user_id', 200, false), isPrimary: true },
          { ...varchar('key', 255, false), isPrimary: true },
          varchar('fingerprint', 64, false),
          id('conversation_id'),
          id('turn_id'),
          id('assistant_message_id', true),
          epochMs('created_at'),
        ],
      }),
    );
    await queryRunner.createIndices('idempotency_keys', [
      new TableIndex({ name: 'idx_idempotency_keys_created', columnNames: ['created_at'] }),
      new TableIndex({ name: 'idx_idempotency_keys_turn', columnNames: ['turn_id'] }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('idempotency_keys');
    await queryRunner.dropTable('messages');
    await queryRunner.dropTable('conversations');
  }
}
