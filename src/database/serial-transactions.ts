import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

/** The parts of TypeORM's better-sqlite3 driver that hold the transaction state. */
interface SqliteDriverState {
  databaseConnection?: { inTransaction: boolean; exec(sql: string): unknown };
  queryRunner?: { isTransactionActive: boolean; transactionDepth: number };
}

/**
 * The SQLite write queue: transactions, and reads or single statements that must not see or
 * join another caller's open transaction, one after the other. On PostgreSQL each transaction
 * gets its own pooled connection and nothing is queued.
 *
 * TypeORM's better-sqlite3 driver shares ONE query runner for the whole DataSource, so two
 * overlapping `dataSource.transaction()` calls would silently nest (the second becomes a
 * SAVEPOINT inside the first). better-sqlite3 is synchronous, so a queued transaction waits
 * for microseconds, not for I/O. One instance per DataSource (the database module provides
 * it): two queues on one connection would interleave again.
 */
@Injectable()
export class SerialTransactions {
  private readonly isSqlite: boolean;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly dataSource: DataSource) {
    this.isSqlite = dataSource.options.type === 'better-sqlite3';
  }

  /** Runs `work` in a transaction. Keep `work` free of anything but database calls. */
  inTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (!this.isSqlite) {
      return this.dataSource.transaction(work);
    }
    return this.serially(async () => {
      try {
        return await this.dataSource.transaction(work);
      } catch (error) {
        this.leaveSqliteTransaction();
        throw error;
      }
    });
  }

  /**
   * Runs `work` (database reads or single statements) on SQLite outside any transaction
   * another caller has open on the shared connection: a read would otherwise see that
   * transaction's uncommitted rows, and a write would join it.
   */
  serially<T>(work: () => Promise<T>): Promise<T> {
    if (!this.isSqlite) {
      return work();
    }
    const result = this.chain.then(work, work);
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /**
   * After a failed transaction, puts the shared SQLite connection back outside any
   * transaction, in SQLite and in TypeORM's bookkeeping alike. SQLite rolls a transaction back
   * by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM); TypeORM's own ROLLBACK
   * then fails and its query runner still counts one open transaction, so it runs the next
   * transaction as a SAVEPOINT, and a failure of that one (`ROLLBACK TO`) leaves a real
   * transaction open for good: every later write stays uncommitted — lost at the next crash —
   * and holds the write lock.
   */
  private leaveSqliteTransaction(): void {
    const driver = this.dataSource.driver as unknown as SqliteDriverState;
    if (driver.databaseConnection?.inTransaction) {
      driver.databaseConnection.exec('ROLLBACK');
    }
    if (driver.queryRunner) {
      driver.queryRunner.isTransactionActive = false;
      driver.queryRunner.transactionDepth = 0;
    }
  }
}
