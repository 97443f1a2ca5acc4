import { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

/** Whether the data source speaks PostgreSQL (else SQLite, the only other driver). */
export function isPostgres(dataSource: DataSource): boolean {
  return dataSource.driver.options.type === 'postgres';
}

/** `entity`'s table as SQL text: each part of its path quoted by the driver. */
export function quotedTable(dataSource: DataSource, entity: EntityTarget<ObjectLiteral>): string {
  return dataSource
    .getMetadata(entity)
    .tablePath.split('.')
    .map((part) => dataSource.driver.escape(part))
    .join('.');
}

/**
 * The parameters of one hand-written statement: `mark(value)` records a value and returns its
 * placeholder, `?` on SQLite and `$n` on PostgreSQL (with a cast where PostgreSQL cannot infer
 * the type, e.g. in a `SELECT` list).
 */
export class SqlParams {
  readonly values: unknown[] = [];
  private readonly isPostgres: boolean;

  constructor(dataSource: DataSource) {
    this.isPostgres = isPostgres(dataSource);
  }

  mark(value: unknown, pgType?: string): string {
    this.values.push(value);
    if (!this.isPostgres) {
      return '?';
    }
    return pgType ? `$${this.values.length}::${pgType}` : `$${this.values.length}`;
  }
}
