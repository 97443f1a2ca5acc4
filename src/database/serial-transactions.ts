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
  return serially(dataSource, () => dataSource.transaction(work));
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
