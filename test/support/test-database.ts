import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';

/**
 * Which database engine the e2e suites run on: the `e2e` jest project uses SQLite files, the
 * `e2e-postgres` project (only when TEST_DATABASE_URL is set) runs the same files on PostgreSQL.
 */
export function e2eDatabaseKind(): 'sqlite' | 'postgres' {
  return process.env.PARLEY_E2E_DB === 'postgres' ? 'postgres' : 'sqlite';
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database for one gateway: a SQLite file in `dir`, or a new PostgreSQL database. */
export async function createTestDatabase(dir: string): Promise<TestDatabase> {
  if (e2eDatabaseKind() === 'sqlite') {
    return { url: `sqlite:${join(dir, 'parley.sqlite')}`, drop: async () => undefined };
  }
  return createPostgresDatabase();
}

/** A fresh, empty PostgreSQL database on the TEST_DATABASE_URL server, whatever the project. */
export async function createPostgresDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    throw new Error('a PostgreSQL test database needs TEST_DATABASE_URL');
  }
  const name = `parley_t_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
