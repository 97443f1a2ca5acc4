import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import { DataSource } from 'typeorm';

/**
 * Statements prepared once on the better-sqlite3 connection under TypeORM's SQLite driver and
 * run on it directly: for the few statements every /c1 turn runs, TypeORM's query path (logger
 * and subscriber hooks, result objects, two promises per statement) costs about as much as
 * SQLite's own work. They run on the same connection, so inside a transaction TypeORM opened
 * they are part of it; callers keep the queueing rules of `SerialTransactions`.
 * Unavailable (`isAvailable` false) on PostgreSQL.
 */
@Injectable()
export class SqliteStatements {
  readonly isAvailable: boolean;
  private connection: Database | null = null;
  private readonly prepared = new Map<string, Statement>();

  constructor(private readonly dataSource: DataSource) {
    this.isAvailable = dataSource.options.type === 'better-sqlite3';
  }

  /** Runs a write; returns the number of rows it changed. */
  run(sql: string, values: readonly unknown[]): number {
    return this.statement(sql).run(...values).changes;
  }

  /** Whether the connection has a transaction open (SQLite ends one by itself on some errors). */
  get isInTransaction(): boolean {
    return this.connection?.inTransaction ?? false;
  }

  /** Runs a read; returns its rows. */
  all(sql: string, values: readonly unknown[]): Record<string, unknown>[] {
    return this.statement(sql).all(...values) as Record<string, unknown>[];
  }

  private statement(sql: string): Statement {
    // Read each time: a re-initialised DataSource opens a new connection.
    const connection = (this.dataSource.driver as unknown as { databaseConnection: Database })
      .databaseConnection;
    if (connection !== this.connection) {
      this.prepared.clear();
      this.connection = connection;
    }
    let statement = this.prepared.get(sql);
    if (!statement) {
      statement = connection.prepare(sql);
      this.prepared.set(sql, statement);
    }
    return statement;
  }
}
