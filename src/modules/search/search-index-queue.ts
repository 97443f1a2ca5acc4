import { Injectable, OnModuleInit } from '@nestjs/common';
import { SerialTransactions } from 'src/database/serial-transactions';
import { SqliteStatements } from 'src/database/sqlite-statements';
import { SQLITE_INDEX_QUEUED } from 'src/modules/search/search-index.ddl';

/**
 * Indexes the search docs the SQLite triggers queued (`message_search_pending`) as the last
 * step of every transaction, so the FTS5 indexes get one batch per transaction — a group
 * commit's turns together — instead of one segment per message. A turn is searchable as soon
 * as it is acknowledged: its docs are indexed in the transaction that stores it. Writes made
 * outside `SerialTransactions` (none on the request paths) are indexed by the next transaction
 * or before the next search. Nothing to do on PostgreSQL.
 */
@Injectable()
export class SearchIndexQueue implements OnModuleInit {
  constructor(
    private readonly transactions: SerialTransactions,
    private readonly statements: SqliteStatements,
  ) {}

  onModuleInit(): void {
    if (this.statements.isAvailable) {
      this.transactions.beforeSqliteCommit(() => this.indexQueued());
    }
  }

  /** Before a search: indexes what writes outside a transaction left queued (rarely any). */
  async indexLeftovers(): Promise<void> {
    if (this.statements.isAvailable && this.hasQueued()) {
      // An empty transaction: its before-commit step indexes the queue atomically.
      await this.transactions.inTransaction(() => Promise.resolve());
    }
  }

  private indexQueued(): void {
    if (!this.hasQueued()) {
      return;
    }
    for (const statement of SQLITE_INDEX_QUEUED.statements) {
      this.statements.run(statement, []);
    }
  }

  private hasQueued(): boolean {
    return this.statements.all(SQLITE_INDEX_QUEUED.hasQueued, [])[0].queued === 1;
  }
}
