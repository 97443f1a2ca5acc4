import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SQLITE_SEARCH_TRIGGERS } from 'src/modules/search/search-index.ddl';

/**
 * Recreates the SQLite search triggers at boot if they are gone. TypeORM changes a SQLite
 * table (a later migration adding a column to `messages`) by copying it into a new table,
 * and the old table's triggers are dropped with it: without this, search would silently stop
 * seeing new messages. PostgreSQL alters tables in place, so there is nothing to restore.
 */
@Injectable()
export class SearchIndexKeeper implements OnApplicationBootstrap {
  private readonly logger = new Logger('search');

  constructor(private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.dataSource.options.type !== 'better-sqlite3') {
      return;
    }
    const rows: { name: string }[] = await this.dataSource.query(
      "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%search%'",
    );
    if (rows.length >= SQLITE_SEARCH_TRIGGERS.length) {
      return;
    }
    this.logger.warn('search triggers were missing (a migration rebuilt messages); recreated');
    for (const statement of SQLITE_SEARCH_TRIGGERS) {
      await this.dataSource.query(statement.create);
    }
  }
}
