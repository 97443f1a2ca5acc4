import Database from 'better-sqlite3';
import { Client } from 'pg';

/**
 * Runs one statement directly on a gateway's database (SQLite file or PostgreSQL), behind the
 * gateway's back: what another instance or the CLI would do, or a look at what is stored.
 * Placeholders are `$1, $2, …` on both engines.
 */
export async function sql<T = Record<string, unknown>>(
  databaseUrl: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length));
    try {
      const statement = db.prepare(text.replace(/\$\d+/g, '?'));
      if (statement.reader) {
        return statement.all(...params) as T[];
      }
      statement.run(...params);
      return [];
    } finally {
      db.close();
    }
  }
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Every row of every table, as JSON text: for "this value is stored nowhere" checks. */
export async function dumpDatabase(databaseUrl: string): Promise<string> {
  const tables = databaseUrl.startsWith('sqlite:')
    ? await sql<{ name: string }>(
        databaseUrl,
        "SELECT name FROM sqlite_master WHERE type = 'table'",
      )
    : await sql<{ name: string }>(
        databaseUrl,
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
      );
  const parts: string[] = [];
  for (const { name } of tables) {
    parts.push(`${name}: ${JSON.stringify(await sql(databaseUrl, `SELECT * FROM "${name}"`))}`);
  }
  return parts.join('\n');
}
