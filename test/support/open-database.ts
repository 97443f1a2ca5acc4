import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from 'src/database/data-source';

export interface OpenDatabase {
  dataSource: DataSource;
  kind: 'sqlite' | 'postgres';
  /** For SQLite: the file's path. */
  file?: string;
  close(): Promise<void>;
}

/**
 * A fresh database for a unit test or a benchmark: a temp SQLite file, or (with a `postgres://` URL) a schema
 * of its own in that database, dropped on close, so test runs never see each other's rows.
 * Migrations are applied unless `migrate` is false. `url` is 'sqlite' or a PostgreSQL URL.
 */
export async function openTestDatabase(
  url: string,
  options: { migrate?: boolean } = {},
): Promise<OpenDatabase> {
  const migrate = options.migrate ?? true;
  if (url === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'parley-db-'));
    const file = join(dir, 'test.sqlite');
    const dataSource = new DataSource(
      dataSourceOptions({ url: `sqlite:${file}`, poolMax: 1, statementTimeoutMs: 5000 }),
    );
    await dataSource.initialize();
    if (migrate) {
      await dataSource.runMigrations({ transaction: 'each' });
    }
    return {
      dataSource,
      kind: 'sqlite',
      file,
      close: async () => {
        await dataSource.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `parley_t_${randomBytes(6).toString('hex')}`;
  const admin = new DataSource({ type: 'postgres', url });
  await admin.initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const base = dataSourceOptions({ url, poolMax: 5, statementTimeoutMs: 10_000 });
  const dataSource = new DataSource({
    ...base,
    schema,
    extra: { ...(base as { extra?: object }).extra, options: `-c search_path=${schema}` },
  } as typeof base);
  await dataSource.initialize();
  if (migrate) {
    await dataSource.runMigrations({ transaction: 'each' });
  }
  return {
    dataSource,
    kind: 'postgres',
    close: async () => {
      await dataSource.destroy();
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

/** The PostgreSQL server for database tests (`TEST_DATABASE_URL`), or '' when unset. */
export function testDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL ?? '';
}
