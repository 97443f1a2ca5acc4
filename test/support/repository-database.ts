import { randomUUID } from 'node:crypto';
import { DataSource, DataSourceOptions } from 'typeorm';
import { dataSourceOptions } from 'src/database/data-source';

export interface RepositoryDatabase {
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * A migrated database for repository tests: SQLite in memory, or, with `url` (usually
 * `TEST_DATABASE_URL`), a schema of its own on that PostgreSQL, dropped on close, so suites
 * running at the same time never share tables.
 */
export async function openTestDatabase(url = 'sqlite::memory:'): Promise<RepositoryDatabase> {
  const db = { url, poolMax: 4, statementTimeoutMs: 10_000 };
  if (url.startsWith('sqlite:')) {
    const dataSource = new DataSource(dataSourceOptions(db));
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    return { dataSource, close: () => dataSource.destroy() };
  }
  const schema = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new DataSource({ type: 'postgres', url });
  await admin.initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const dataSource = new DataSource({ ...dataSourceOptions(db), schema } as DataSourceOptions);
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  return {
    dataSource,
    close: async () => {
      await dataSource.destroy();
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

/** The URL of the PostgreSQL test database (suites using it sit inside `describeIfEnv`). */
export function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    throw new Error('TEST_DATABASE_URL is not set');
  }
  return url;
}
