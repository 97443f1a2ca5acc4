import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';
import {
  POSTGRES_SEARCH_TRIGGERS,
  SQLITE_DIRECT_INDEX_TRIGGERS,
  SQLITE_MESSAGE_TRIGGERS,
} from 'src/modules/search/search-index.ddl';

/** This migration's SQLite triggers (SearchIndexQueue1796500000000 replaced the first four). */
const SQLITE_SEARCH_TRIGGERS = [...SQLITE_DIRECT_INDEX_TRIGGERS, ...SQLITE_MESSAGE_TRIGGERS];

/**
 * Issue #19 (docs/notes/history.md): an index on `conversations.updated_at` for the retention
 * sweep, and full-text search over stored messages.
 *
 * SQLite: `message_search_docs` holds each message's searchable text and owner; two FTS5
 * indexes use it as their external content (the text is stored once): `message_search_words`
 * (porter stemmer over unicode61: "running" finds "runs") and `message_search_grams`
 * (trigram: substrings, for scripts without spaces between words such as Chinese and
 * Japanese). Triggers keep both in step with `messages`.
 *
 * PostgreSQL: the same docs table with a stored `tsvector` (english stemming) under a GIN
 * index, plus a pg_trgm GIN index for substrings when the extension can be created.
 *
 * Existing messages are indexed here, once.
 */
export class History1795500000000 implements MigrationInterface {
  name = 'History1795500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex(
      'conversations',
      new TableIndex({ name: 'idx_conversations_updated', columnNames: ['updated_at'] }),
    );
    if (queryRunner.connection.options.type === 'postgres') {
      await this.upPostgres(queryRunner);
      return;
    }
    await queryRunner.query(`CREATE TABLE message_search_docs (
      rid INTEGER PRIMARY KEY,
      message_id varchar(36) NOT NULL UNIQUE,
      user_id varchar(200) NOT NULL,
      tree_id varchar(36) NOT NULL,
      owner text NOT NULL,
      body text NOT NULL
    )`);
    await queryRunner.query(
      'CREATE INDEX idx_message_search_docs_user ON message_search_docs (user_id)',
    );
    await queryRunner.query(
      `CREATE VIRTUAL TABLE message_search_words USING fts5(owner, body, content='message_search_docs', content_rowid='rid', tokenize='porter unicode61 remove_diacritics 2')`,
    );
    await queryRunner.query(
      `CREATE VIRTUAL TABLE message_search_grams USING fts5(body, content='message_search_docs', content_rowid='rid', tokenize='trigram')`,
    );
    for (const statement of SQLITE_SEARCH_TRIGGERS) {
      await queryRunner.query(statement.create);
    }
    await queryRunner.query(SQLITE_BACKFILL);
  }

  private async upPostgres(queryRunner: QueryRunner): Promise<void> {
    await useConfiguredSchema(queryRunner);
    await queryRunner.query(`CREATE TABLE message_search_docs (
      message_id varchar(36) PRIMARY KEY,
      user_id varchar(200) NOT NULL,
      tree_id varchar(36) NOT NULL,
      body text NOT NULL,
      tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED
    )`);
    await queryRunner.query(
      'CREATE INDEX idx_message_search_docs_user ON message_search_docs (user_id)',
    );
    await queryRunner.query(
      'CREATE INDEX idx_message_search_docs_tsv ON message_search_docs USING GIN (tsv)',
    );
    // Substring search (CJK) works without it, scoped to the caller's rows by the user index;
    // pg_trgm only makes it faster. A role without CREATE on the database, or an extension
    // installed in a schema outside the search_path, must not stop the migration.
    await queryRunner.query('SAVEPOINT parley_trgm');
    try {
      await queryRunner.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
      await queryRunner.query(
        'CREATE INDEX idx_message_search_docs_trgm ON message_search_docs USING GIN (body gin_trgm_ops)',
      );
      await queryRunner.query('RELEASE SAVEPOINT parley_trgm');
    } catch {
      await queryRunner.query('ROLLBACK TO SAVEPOINT parley_trgm');
    }
    for (const statement of POSTGRES_SEARCH_TRIGGERS) {
      await queryRunner.query(statement.create);
    }
    await queryRunner.query(POSTGRES_BACKFILL);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const isPostgres = queryRunner.connection.options.type === 'postgres';
    if (isPostgres) {
      await useConfiguredSchema(queryRunner);
    }
    const statements = isPostgres ? POSTGRES_SEARCH_TRIGGERS : SQLITE_SEARCH_TRIGGERS;
    for (const statement of [...statements].reverse()) {
      await queryRunner.query(statement.drop);
    }
    if (!isPostgres) {
      await queryRunner.query('DROP TABLE message_search_grams');
      await queryRunner.query('DROP TABLE message_search_words');
    }
    await queryRunner.query('DROP TABLE message_search_docs');
    await queryRunner.dropIndex('conversations', 'idx_conversations_updated');
  }
}

const SQLITE_BACKFILL = `INSERT INTO message_search_docs (message_id, user_id, tree_id, owner, body)
  SELECT m.id, c.user_id, m.tree_id, 'U' || hex(c.user_id) || 'U', b.body
  FROM messages m
  JOIN conversations c ON c.id = (SELECT id FROM conversations WHERE tree_id = m.tree_id LIMIT 1)
  JOIN (SELECT id, (SELECT group_concat(coalesce(json_extract(p.value, '$.text'), json_extract(p.value, '$.content')), char(10))
          FROM json_each(content) p WHERE json_extract(p.value, '$.type') IN ('text', 'tool_result')) AS body
        FROM messages) b ON b.id = m.id
  WHERE b.body IS NOT NULL AND b.body <> ''`;

const POSTGRES_BACKFILL = `INSERT INTO message_search_docs (message_id, user_id, tree_id, body)
  SELECT m.id, c.user_id, m.tree_id, parley_message_search_text(m.content)
  FROM messages m
  JOIN conversations c ON c.id = (SELECT id FROM conversations WHERE tree_id = m.tree_id LIMIT 1)
  WHERE parley_message_search_text(m.content) <> ''`;

/**
 * The raw statements above name tables unqualified; with a configured `schema` (TypeORM
 * qualifies its own DDL with it) they must resolve there too, as the entities' tables do.
 */
async function useConfiguredSchema(queryRunner: QueryRunner): Promise<void> {
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  if (schema) {
    await queryRunner.query(`SET search_path TO "${schema.replace(/"/g, '""')}", public`);
  }
}
