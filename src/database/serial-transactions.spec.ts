import { SerialTransactions } from 'src/database/serial-transactions';
import { SqliteStatements } from 'src/database/sqlite-statements';
import { IdempotencyKeyEntity } from 'src/modules/conversations/idempotency-key.entity';
import { openTestDatabase, OpenDatabase } from 'test/support/open-database';

/** SQLite transactions opened on the connection, with TypeORM's EntityManager inside them. */
describe(SerialTransactions.name, () => {
  let db: OpenDatabase;
  let statements: SqliteStatements;
  let transactions: SerialTransactions;
  const steps: string[] = [];
  let failStep = false;

  beforeAll(async () => {
    db = await openTestDatabase('sqlite');
    statements = new SqliteStatements(db.dataSource);
    transactions = new SerialTransactions(db.dataSource, statements);
    transactions.beforeSqliteCommit(() => {
      steps.push('step');
      if (failStep) {
        throw new Error('step failed');
      }
    });
  });
  afterAll(() => db?.close());
  beforeEach(async () => {
    await db.dataSource.query('DELETE FROM idempotency_keys');
    steps.length = 0;
    failStep = false;
  });

  const key = (k: string) => ({
    userId: 'alice',
    key: k,
    fingerprint: 'f',
    conversationId: 'c',
    turnId: 't',
    assistantMessageId: null,
    createdAt: 1,
  });
  const keys = async () =>
    (await db.dataSource.manager.find(IdempotencyKeyEntity, { order: { key: 'ASC' } })).map(
      (r) => r.key,
    );

  it('commits what the EntityManager saved inside the work, with the prepared statements', async () => {
    await transactions.inTransaction(async (em) => {
      await em.save(IdempotencyKeyEntity, key('a'));
      statements.run(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, conversation_id, turn_id, created_at) VALUES ('alice', 'b', 'f', 'c', 't', 1)",
        [],
      );
    });
    expect(await keys()).toEqual(['a', 'b']);
    expect(steps).toEqual(['step']);
  });

  it('rolls back everything of a failed work, EntityManager saves included', async () => {
    const failed = transactions.inTransaction(async (em) => {
      await em.save(IdempotencyKeyEntity, key('a'));
      throw new Error('refused');
    });
    await expect(failed).rejects.toThrow('refused');
    expect(await keys()).toEqual([]);
    expect(steps).toEqual([]);
    // The connection is outside any transaction again: the next one commits on its own.
    await transactions.inTransaction((em) => em.save(IdempotencyKeyEntity, key('b')));
    expect(await keys()).toEqual(['b']);
  });

  it('runs the before-commit steps inside the transaction: a failing step rolls it back', async () => {
    failStep = true;
    const failed = transactions.inTransaction((em) => em.save(IdempotencyKeyEntity, key('a')));
    await expect(failed).rejects.toThrow('step failed');
    expect(await keys()).toEqual([]);
  });
});
