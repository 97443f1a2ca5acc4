import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { openDatabase, dataSourceOptions } from 'src/database/data-source';
import { describeIfEnv } from 'test/support/describe-if-env';

/** The statements TypeORM would still run to make the schema match the entities. */
async function pendingStatements(dataSource: DataSource): Promise<string[]> {
  const sql = await dataSource.driver.createSchemaBuilder().log();
  return sql.upQueries.map((q) => q.query);
}

describe('schema migrations', () => {
  it('leave nothing for the entities to change on a fresh SQLite database', async () => {
    const dataSource = await openDatabase({
      url: 'sqlite::memory:',
      poolMax: 1,
      statementTimeoutMs: 1000,
    });
    try {
      expect(await pendingStatements(dataSource)).toEqual([]);
    } finally {
      await dataSource.destroy();
    }
  });
});

describeIfEnv('TEST_DATABASE_URL', 'schema migrations on PostgreSQL', () => {
  it('leave nothing for the entities to change on a fresh schema', async () => {
    const url = process.env.TEST_DATABASE_URL as string;
    const schema = `drift_${randomBytes(4).toString('hex')}`;
    const admin = new DataSource({ type: 'postgres', url });
    await admin.initialize();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const dataSource = new DataSource({
      ...dataSourceOptions({ url, poolMax: 2, statementTimeoutMs: 10_000 }),
      schema,
    } as never);
    try {
      await dataSource.initialize();
      await dataSource.runMigrations({ transaction: 'each' });
      expect(await pendingStatements(dataSource)).toEqual([]);
    } finally {
      if (dataSource.isInitialized) {
        await dataSource.destroy();
      }
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.destroy();
    }
  });
});
