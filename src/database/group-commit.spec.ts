import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { GroupCommit } from 'src/database/group-commit';
import { SerialTransactions } from 'src/database/serial-transactions';
import { SqliteStatements } from 'src/database/sqlite-statements';
import { ApiError } from 'src/common/errors/api-error';

describe(GroupCommit.name, () => {
  let dir: string;
  let file: string;
  let dataSource: DataSource;
  let groupCommit: GroupCommit;
  let commits = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-group-commit-'));
    file = join(dir, 'test.sqlite');
    dataSource = new DataSource({ type: 'better-sqlite3', database: file, enableWAL: true });
    await dataSource.initialize();
    // Transactions end with a prepared COMMIT on the connection: each one run is a commit.
    const statements = new SqliteStatements(dataSource);
    const run = statements.run.bind(statements);
    jest.spyOn(statements, 'run').mockImplementation((sql, values) => {
      commits += sql === 'COMMIT' ? 1 : 0;
      return run(sql, values);
    });
    groupCommit = new GroupCommit(new SerialTransactions(dataSource, statements));
    await dataSource.query('CREATE TABLE turns (id TEXT PRIMARY KEY, n INTEGER NOT NULL)');
  });
  afterAll(async () => {
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await dataSource.query('DELETE FROM turns');
    commits = 0;
  });

  const insert = (id: string, n: number) =>
    groupCommit.run(async (em) => {
      await em.query('INSERT INTO turns (id, n) VALUES (?, ?)', [id, n]);
      return id;
    });

  /** What another process reading the file sees: only committed rows. */
  const committedIds = () => {
    const reader = new Database(file, { readonly: true });
    try {
      return (reader.prepare('SELECT id FROM turns ORDER BY id').all() as { id: string }[]).map(
        (r) => r.id,
      );
    } finally {
      reader.close();
    }
  };

  it('writes concurrent units in one transaction and resolves each once it is committed', async () => {
    const seenAtResolve: string[][] = [];
    const ids = ['a', 'b', 'c', 'd', 'e'];
    await Promise.all(
      ids.map((id, n) => insert(id, n).then(() => seenAtResolve.push(committedIds()))),
    );
    expect(commits).toBe(1);
    for (const seen of seenAtResolve) {
      expect(seen).toEqual(ids);
    }
  });

  it('gives a refused unit its own error and keeps nothing of it, the others committed', async () => {
    const refused = groupCommit.run(async (em) => {
      await em.query('INSERT INTO turns (id, n) VALUES (?, ?)', ['refused', 0]);
      throw new ApiError('conversation_busy', 'Busy');
    });
    const results = await Promise.allSettled([insert('x', 1), refused, insert('y', 2)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      code: 'conversation_busy',
    });
    expect(committedIds()).toEqual(['x', 'y']);
  });

  it('lets a unit see the writes of the units before it in the same group', async () => {
    const first = insert('p', 1);
    const duplicate = insert('p', 2);
    const results = await Promise.allSettled([first, duplicate]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(await dataSource.query('SELECT n FROM turns')).toEqual([{ n: 1 }]);
  });

  it('groups the units that arrive while a group is being written into the next one', async () => {
    const first = insert('m1', 1);
    await new Promise((resolve) => setImmediate(resolve));
    const later = ['m2', 'm3', 'm4'].map((id, n) => insert(id, n));
    await Promise.all([first, ...later]);
    expect(committedIds()).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(commits).toBeLessThanOrEqual(2);
  });
});
