import { MigrationInterface, QueryRunner } from 'typeorm';
import {
  SQLITE_DIRECT_INDEX_TRIGGERS,
  SQLITE_INDEX_QUEUED,
  SQLITE_QUEUE_TRIGGERS,
} from 'src/modules/search/search-index.ddl';

/**
 * SQLite only: new search docs are queued in `message_search_pending` and indexed into the
 * FTS5 tables at the end of each transaction, in one batch, rather than one by one from a
 * trigger (why: src/modules/search/search-index.ddl.ts). The docs already indexed stay as they
 * are; nothing is rebuilt. PostgreSQL's GIN indexes are unchanged.
 */
export class SearchIndexQueue1796500000000 implements MigrationInterface {
  name = 'SearchIndexQueue1796500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'postgres') {
      return;
    }
    await queryRunner.query('CREATE TABLE message_search_pending (rid INTEGER PRIMARY KEY)');
    for (const statement of SQLITE_DIRECT_INDEX_TRIGGERS) {
      await queryRunner.query(statement.drop);
    }
    for (const statement of SQLITE_QUEUE_TRIGGERS) {
      await queryRunner.query(statement.create);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'postgres') {
      return;
    }
    // What is still queued is indexed first: the direct triggers expect every doc indexed.
    for (const statement of SQLITE_INDEX_QUEUED.statements) {
      await queryRunner.query(statement);
    }
    for (const statement of SQLITE_QUEUE_TRIGGERS) {
      await queryRunner.query(statement.drop);
    }
    for (const statement of SQLITE_DIRECT_INDEX_TRIGGERS) {
      await queryRunner.query(statement.create);
    }
    await queryRunner.query('DROP TABLE message_search_pending');
  }
}
