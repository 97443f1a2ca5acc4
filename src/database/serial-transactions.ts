import { DataSource, EntityManager } from 'typeorm';

const chains = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Runs `work` in a transaction. On PostgreSQL each transaction gets its own pooled connection.
 * TypeORM's better-sqlite3 driver shares ONE query runner for the whole DataSource, so two
 * overlapping `dataSource.transaction()` calls would silently nest (the second becomes a
 * SAVEPOINT inside the first); on SQLite the transactions are therefore queued one after the
 * other. better-sqlite3 is synchronous, so a queued transaction waits for microseconds, not for
 * I/O. Keep `work` free of anything but database calls.
 */
export async function inTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  if (dataSource.options.type !== 'better-sqlite3') {
    return dataSource.transaction(work);
  }
  return serially(dataSource, async () => {
    try {
      return await dataSource.transaction(work);
    } catch (error) {
      leaveSqliteTransaction(dataSource);
      throw error;
    }
  });
}

/** The parts of TypeORM's better-sqlite3 driver that hold the transaction state. */
interface SqliteDriverState {
  databaseConnection?: { inTransaction: boolean; exec(sql: string): unknown };
  queryRunner?: { isTransactionActive: boolean; transactionDepth: number };
}

/**
 * After a failed transaction, puts the shared SQLite connection back outside any transaction,
 * in SQLite and in TypeORM's bookkeeping alike. SQLite rolls a transaction back by itself on
 * some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM); TypeORM's own ROLLBACK then fails and
 * its query runner still counts one open transaction, so it runs the next transaction as a
 * SAVEPOINT, and a failure of that one (`ROLLBACK TO`) leaves a real transaction open for good:
 * every later write stays uncommitted — lost at the next crash — and holds the write lock.
 */
function leaveSqliteTransaction(dataSource: DataSource): void {
  const driver = dataSource.driver as unknown as SqliteDriverState;
  if (driver.databaseConnection?.inTransaction) {
    driver.databaseConnection.exec('ROLLBACK');
  }
  if (driver.queryRunner) {
    driver.queryRunner.isTransactionActive = false;
    driver.queryRunner.transactionDepth = 0;
  }
}

/**
 * Runs `work` (database reads or single statements) on SQLite outside any transaction another
 * caller has open on the shared connection: a read would otherwise see that transaction's
 * uncommitted rows, and a write would join it.
 */
export async function serially<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  if (dataSource.options.type !== 'better-sqlite3') {
    return work();
  }
  const previous = chains.get(dataSource) ?? Promise.resolve();
  const result = previous.then(work, work);
  chains.set(
    dataSource,
    result.then(
      () => undefined,
      () => undefined,
    ),
  );
  return result;
}
