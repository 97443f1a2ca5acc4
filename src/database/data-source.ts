import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DataSource, DataSourceOptions, MigrationExecutor } from 'typeorm';
import { AppConfig } from 'src/config/load-config';
import { ENTITIES } from 'src/database/entities';
import { MIGRATIONS } from 'src/database/migrations';
import { SnakeNamingStrategy } from 'src/database/naming-strategy';

export type DatabaseKind = 'sqlite' | 'postgres';

export function databaseKind(url: string): DatabaseKind {
  return url.startsWith('sqlite:') ? 'sqlite' : 'postgres';
}

/** Builds the TypeORM options for the app, the CLI and the tests from `DATABASE_URL`. */
export function dataSourceOptions(db: AppConfig['db']): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    namingStrategy: new SnakeNamingStrategy(),
    logging: false,
  } as const;
  if (databaseKind(db.url) === 'sqlite') {
    const path = db.url.slice('sqlite:'.length);
    const database = path === ':memory:' ? ':memory:' : resolve(path);
    if (database !== ':memory:') {
      mkdirSync(dirname(database), { recursive: true });
    }
    return {
      ...common,
      type: 'better-sqlite3',
      database,
      enableWAL: database !== ':memory:',
      timeout: Math.max(db.statementTimeoutMs, 1000),
      // NORMAL is crash-safe with WAL for a process that dies (kill -9): a committed
      // transaction is in the OS's hands; only a power loss can take the last ones.
      prepareDatabase: (sqlite: { pragma: (s: string) => unknown }) => {
        sqlite.pragma('synchronous = NORMAL');
        sqlite.pragma('foreign_keys = ON');
      },
    };
  }
  return {
    ...common,
    type: 'postgres',
    url: db.url,
    extra: {
      // Names the gateway's sessions in pg_stat_activity, for operators (and their scripts).
      application_name: 'parley',
      max: db.poolMax,
      statement_timeout: db.statementTimeoutMs || undefined,
      connectionTimeoutMillis: 5000,
    },
  };
}

/** Opens the database and applies pending migrations: the app does this before it listens. */
export async function openDatabase(db: AppConfig['db']): Promise<DataSource> {
  const dataSource = new DataSource(dataSourceOptions(db));
  await dataSource.initialize();
  try {
    await runMigrations(dataSource);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}

/** The advisory lock that lets one instance at a time migrate a PostgreSQL database. */
const MIGRATION_LOCK_KEY = 0x7061726c; // "parl"

/**
 * Applies pending migrations. Several instances started together on one PostgreSQL database
 * (a compose file, a rolling deploy) would run the same migration at once and all but one
 * would fail to start: on PostgreSQL they take turns on a session advisory lock, and the ones
 * after the first find nothing pending. The lock and the migrations share one connection, so
 * `DATABASE_POOL_MAX=1` works too.
 */
async function runMigrations(dataSource: DataSource): Promise<void> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'each' });
    return;
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      await executor.executePendingMigrations();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
