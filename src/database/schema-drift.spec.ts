import { describeIfEnv } from 'test/support/describe-if-env';
import { openTestDatabase, OpenDatabase, testDatabaseUrl } from 'test/support/open-database';

/**
 * The migrations and the entities must describe the same schema: after migrating a fresh
 * database, TypeORM's schema builder must have nothing left to do (STYLE.md, "Database").
 */
function expectNoDrift(url: () => string) {
  let db: OpenDatabase;
  beforeAll(async () => {
    db = await openTestDatabase(url());
  });
  afterAll(() => db?.close());

  it('has no pending schema changes after the migrations', async () => {
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('has applied every migration', async () => {
    expect(await db.dataSource.showMigrations()).toBe(false);
  });

  it('reverts every migration cleanly', async () => {
    for (let i = 0; i < db.dataSource.migrations.length; i++) {
      await db.dataSource.undoLastMigration({ transaction: 'each' });
    }
    const tables = await db.dataSource.createQueryRunner().getTables(['conversations']);
    expect(tables).toEqual([]);
    await db.dataSource.runMigrations({ transaction: 'each' });
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries).toEqual([]);
  });
}

describe('schema drift (SQLite)', () => {
  expectNoDrift(() => 'sqlite');
});

describeIfEnv('TEST_DATABASE_URL', 'schema drift (PostgreSQL)', () => {
  expectNoDrift(() => testDatabaseUrl());
});
