import { SerialTransactions } from 'src/database/serial-transactions';
import { SqliteStatements } from 'src/database/sqlite-statements';
import { SearchIndexQueue } from 'src/modules/search/search-index-queue';
import { openTestDatabase, OpenDatabase } from 'test/support/open-database';

/** The SQLite search index fed in batches: what a search sees, and that FTS5 stays whole. */
describe(SearchIndexQueue.name, () => {
  let db: OpenDatabase;
  let statements: SqliteStatements;
  let transactions: SerialTransactions;
  let queue: SearchIndexQueue;
  let n = 0;

  beforeAll(async () => {
    db = await openTestDatabase('sqlite');
    statements = new SqliteStatements(db.dataSource);
    transactions = new SerialTransactions(db.dataSource, statements);
    queue = new SearchIndexQueue(transactions, statements);
    queue.onModuleInit();
    await db.dataSource.query(
      "INSERT INTO conversations (id, user_id, tree_id, created_at, updated_at) VALUES ('c', 'alice', 't', 0, 0)",
    );
  });
  afterAll(() => db?.close());

  const INSERT_MESSAGE =
    'INSERT INTO messages (id, tree_id, depth, turn_id, role, content, status, token_estimate, created_at, updated_at) ' +
    "VALUES (?, 't', 0, 'turn', 'user', ?, 'completed', 1, 0, 0)";
  const insert = (text: string) => {
    const id = `m${++n}`;
    statements.run(INSERT_MESSAGE, [id, JSON.stringify([{ type: 'text', text }])]);
    return id;
  };
  const remove = (id: string) => statements.run('DELETE FROM messages WHERE id = ?', [id]);
  const inTransaction = <T>(work: () => T) => transactions.inTransaction(async () => work());

  const found = async (table: 'words' | 'grams', query: string) =>
    (
      await db.dataSource.query<{ message_id: string }[]>(
        `SELECT d.message_id FROM message_search_${table} f
         JOIN message_search_docs d ON d.rid = f.rowid
         WHERE message_search_${table} MATCH ? ORDER BY d.rid`,
        [query],
      )
    ).map((r) => r.message_id);
  const queued = async () =>
    Number((await db.dataSource.query('SELECT count(*) AS n FROM message_search_pending'))[0].n);
  /**
   * FTS5 checks its index; the words index also against the docs table (the grams index holds
   * only some docs, so it can only be checked on its own). Throws when they disagree.
   */
  const expectIndexesWhole = async () => {
    await db.dataSource.query(
      "INSERT INTO message_search_words (message_search_words, rank) VALUES ('integrity-check', 1)",
    );
    await db.dataSource.query(
      "INSERT INTO message_search_grams (message_search_grams, rank) VALUES ('integrity-check', 0)",
    );
  };

  it('makes the messages a transaction stores searchable when it commits', async () => {
    const ids = await inTransaction(() => [
      insert('the fjord runs north'),
      insert('东京的天气很好'),
      insert('un café crème'),
    ]);
    expect(await found('words', 'fjord')).toEqual([ids[0]]);
    expect(await found('words', 'crème')).toEqual([ids[2]]);
    // Only text of a script written without spaces goes into the trigram index.
    expect(await found('grams', '天气很')).toEqual([ids[1]]);
    expect(await found('grams', 'fjord')).toEqual([]);
    expect(await found('grams', 'café')).toEqual([]);
    expect(await queued()).toBe(0);
    await expectIndexesWhole();
  });

  it('indexes nothing of a transaction that is rolled back', async () => {
    const failed = inTransaction(() => {
      insert('a rolled back walrus');
      throw new Error('refused');
    });
    await expect(failed).rejects.toThrow('refused');
    expect(await found('words', 'walrus')).toEqual([]);
    expect(await queued()).toBe(0);
    await expectIndexesWhole();
  });

  it('keeps both indexes whole when a message is deleted before or after it was indexed', async () => {
    const kept = await inTransaction(() => {
      const gone = insert('a short lived 企鹅企鹅 penguin');
      remove(gone);
      return insert('a lasting penguin');
    });
    expect(await found('words', 'penguin')).toEqual([kept]);
    expect(await found('grams', '企鹅企')).toEqual([]);
    const cjk = await inTransaction(() => insert('企鹅企鹅 later'));
    await inTransaction(() => remove(cjk));
    expect(await found('grams', '企鹅企')).toEqual([]);
    await expectIndexesWhole();
  });

  it('indexes what a write outside a transaction left queued before the next search', async () => {
    const id = insert('an autocommitted narwhal');
    expect(await found('words', 'narwhal')).toEqual([]);
    await queue.indexLeftovers();
    expect(await found('words', 'narwhal')).toEqual([id]);
    expect(await queued()).toBe(0);
    await expectIndexesWhole();
  });
});
