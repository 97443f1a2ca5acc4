import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { SqliteStatements } from 'src/database/sqlite-statements';

/** The parts of TypeORM's query runner that hold its transaction state. */
interface TransactionState {
  isTransactionActive: boolean;
  transactionDepth: number;
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
  private readonly beforeCommitSteps: (() => void)[] = [];
  /** The driver's one query runner, with an EntityManager bound to it. */
  private runner: QueryRunner | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly statements: SqliteStatements,
  ) {
    this.isSqlite = dataSource.options.type === 'better-sqlite3';
  }

  /**
   * Adds a step every SQLite transaction runs after its work, before COMMIT, as part of it
   * (a failure rolls the transaction back). Synchronous: SQLite statements only.
   */
  beforeSqliteCommit(step: () => void): void {
    this.beforeCommitSteps.push(step);
  }

  /** Runs `work` in a transaction. Keep `work` free of anything but database calls. */
  inTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (!this.isSqlite) {
      return this.dataSource.transaction(work);
    }
    return this.serially(() => this.sqliteTransaction(work));
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
   * BEGIN IMMEDIATE / COMMIT / ROLLBACK as prepared statements on the connection rather than
   * through TypeORM's query runner, whose query path (logger, subscriber broadcasts, promises)
   * cost as much CPU as a /c1 turn's own statements. TypeORM is still told a transaction is
   * open, so an EntityManager call inside `work` (a `save`) joins it instead of opening its own.
   *
   * After a failure the connection is put back outside any transaction, in SQLite and in
   * TypeORM's bookkeeping alike: SQLite rolls a transaction back by itself on some errors
   * (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM), and a transaction left open would keep every
   * later write uncommitted — lost at the next crash — and hold the write lock.
   */
  private async sqliteTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.sqliteRunner();
    const state = runner as unknown as TransactionState;
    this.statements.run('BEGIN IMMEDIATE', []);
    state.isTransactionActive = true;
    state.transactionDepth = 1;
    try {
      const result = await work(runner.manager);
      for (const step of this.beforeCommitSteps) {
        step();
      }
      this.statements.run('COMMIT', []);
      return result;
    } catch (error) {
      if (this.statements.isInTransaction) {
        this.statements.run('ROLLBACK', []);
      }
      throw error;
    } finally {
      state.isTransactionActive = false;
      state.transactionDepth = 0;
    }
  }

  private sqliteRunner(): QueryRunner {
    // The driver creates its one runner lazily and a re-initialised DataSource has a new one.
    const shared = (this.dataSource.driver as unknown as { queryRunner?: QueryRunner }).queryRunner;
    if (!this.runner || shared !== this.runner) {
      this.runner = this.dataSource.createQueryRunner();
    }
    return this.runner;
  }
}
