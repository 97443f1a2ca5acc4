import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectApiError } from 'test/support/expect-api-error';
import { spawnGateway, SpawnedGateway } from 'test/support/spawn-gateway';
import { sql } from 'test/support/sql';
import { startGateway, TEST_ADMIN_TOKEN, TestGateway } from 'test/support/start-gateway';
import { createTestDatabase, TestDatabase } from 'test/support/test-database';
import { sleep } from 'test/support/time';

const ROOT = join(__dirname, '..', '..');
/** The key line of the framed first-start banner (see first-key-banner.ts). */
const ANNOUNCEMENT = /^│ +API key: (\S+) +│$/m;

function me(gw: SpawnedGateway, key: string) {
  return fetch(`${gw.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
}

async function stop(gw: SpawnedGateway) {
  gw.kill('SIGTERM');
  expect(await gw.exited).toEqual({ code: 0, signal: null });
}

async function keyCount(databaseUrl: string): Promise<number> {
  const rows = await sql<{ n: number | string }>(databaseUrl, 'SELECT COUNT(*) AS n FROM api_keys');
  return Number(rows[0].n);
}

describe('first start', () => {
  let dir: string;
  let database: TestDatabase;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-boot-'));
    database = await createTestDatabase(dir);
  });
  afterEach(async () => {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a key for user "default" and prints it once, outside the JSON log stream', async () => {
    const databaseUrl = database.url;
    const first = await spawnGateway({ DATABASE_URL: databaseUrl, BOOTSTRAP_API_KEY: '' });
    const output = first.output();
    const key = ANNOUNCEMENT.exec(output)?.[1];
    expect(key).toMatch(/^pk-[A-Za-z0-9_-]{43}$/);
    const jsonLines = output.split('\n').filter((line) => line.startsWith('{'));
    expect(jsonLines.length).toBeGreaterThan(0);
    for (const line of jsonLines) {
      expect(line).not.toContain(key!);
    }
    // One banner, holding the key twice: its key line and its ready curl line.
    expect(output.match(/┌/g)).toHaveLength(1);
    const banner = output.slice(output.indexOf('┌'), output.indexOf('┘'));
    expect(banner.split(key!).length - 1).toBe(2);
    expect(output.split(key!).length - 1).toBe(2);
    expect(await (await me(first, key!)).json()).toMatchObject({
      user_id: 'default',
      role: 'user',
    });
    await stop(first);

    const second = await spawnGateway({ DATABASE_URL: databaseUrl, BOOTSTRAP_API_KEY: '' });
    expect(second.output()).not.toMatch(ANNOUNCEMENT);
    expect((await me(second, key!)).status).toBe(200);
    await stop(second);
    expect(await keyCount(databaseUrl)).toBe(1);
  });

  it('upserts BOOTSTRAP_API_KEY instead, active for user "default", and prints nothing', async () => {
    const databaseUrl = database.url;
    const bootstrap = 'pk-bootstrap-from-env-0123456789';
    const env = { DATABASE_URL: databaseUrl, BOOTSTRAP_API_KEY: bootstrap };
    const first = await spawnGateway(env);
    expect(first.output()).not.toMatch(ANNOUNCEMENT);
    expect(first.output()).not.toContain(bootstrap);
    const own = (await (await me(first, bootstrap)).json()) as { key_id: string };
    expect(own).toMatchObject({ user_id: 'default' });
    // An operator deactivates it; the next start with the variable still set re-activates it.
    const patched = await fetch(`${first.url}/api/keys/${own.key_id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ is_active: false }),
    });
    expect(patched.status).toBe(200);
    expect((await me(first, bootstrap)).status).toBe(401);
    await stop(first);

    const second = await spawnGateway(env);
    expect((await me(second, bootstrap)).status).toBe(200);
    expect(second.output()).not.toContain(bootstrap);
    await stop(second);
    expect(await keyCount(databaseUrl)).toBe(1);
  });
});

describe('the keys CLI (node dist/cli/keys.js)', () => {
  let dir: string;
  let database: TestDatabase;
  let databaseUrl: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
    database = await createTestDatabase(dir);
    databaseUrl = database.url;
  });
  afterAll(async () => {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  function keys(...args: string[]) {
    const result = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli', 'keys.js'), ...args], {
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('lists nothing on a fresh database (it does not bootstrap a key)', () => {
    const result = keys('list', '--json');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual([]);
  });

  it('creates, lists and revokes keys that a running gateway on the same database honours', async () => {
    const created = keys('create', '--user', 'alice', '--name', 'laptop');
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; user_id: string };
    expect(key).toMatchObject({ user_id: 'alice', name: 'laptop', role: 'user', is_active: true });
    expect(key.key).toMatch(/^pk-/);
    expect(created.stderr).toContain('shown only this once');

    const service = keys('create', '--user', 'web', '--name', 'frontend', '--role', 'service');
    expect(JSON.parse(service.stdout)).toMatchObject({ role: 'service' });

    const listed = keys('list', '--json');
    expect(listed.code).toBe(0);
    const all = JSON.parse(listed.stdout) as { id: string }[];
    expect(all.map((k) => k.id)).toContain(key.id);
    expect(listed.stdout).not.toContain(key.key);
    const table = keys('list', '--user', 'alice');
    expect(table.stdout.split('\n')[0]).toMatch(
      /^ID\s+USER\s+NAME\s+ROLE\s+ACTIVE\s+CREATED\s+LAST USED$/,
    );
    expect(table.stdout).toContain(key.id);
    expect(table.stdout).not.toContain('frontend');

    const gw: TestGateway = await startGateway({ databaseUrl });
    try {
      expect((await gw.get('/v1/me', { key: key.key })).body).toMatchObject({ user_id: 'alice' });
      const revoked = keys('revoke', key.id);
      expect(revoked.code).toBe(0);
      expect(JSON.parse(revoked.stdout)).toMatchObject({ id: key.id, is_active: false });
      // The server caches a key for a second (ApiKeyLookup's unit test, on a fake clock); the
      // bound, three times that, tells it from a cache that would hold keys for minutes.
      const started = Date.now();
      let res = await gw.get('/v1/me', { key: key.key });
      while (res.status === 200 && Date.now() - started < 10_000) {
        await sleep(50);
        res = await gw.get('/v1/me', { key: key.key });
      }
      expectApiError(res, 401, 'invalid_authorization');
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await gw.close();
    }
  });

  it('refuses bad input with the API messages and a non-zero exit code', () => {
    expect(keys('create', '--user', 'alice', '--name', '')).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'error: invalid_field: name must not be empty (name)\n',
    });
    expect(keys('create', '--name', 'x')).toMatchObject({
      code: 1,
      stderr: 'error: missing_field: user_id is required (user_id)\n',
    });
    expect(keys('create', '--user', 'a', '--name', 'x', '--key', 'short')).toMatchObject({
      code: 1,
      stderr: 'error: invalid_field: key must be at least 16 characters (key)\n',
    });
    expect(keys('revoke', '00000000-0000-4000-8000-000000000000')).toMatchObject({
      code: 1,
      stderr: 'error: key_not_found: No API key has this id\n',
    });
    const unknown = keys('rotate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown command "rotate"\n\nUsage: npm run keys/);
    expect(keys('revoke').code).toBe(2);
    expect(keys('create', '--bogus').code).toBe(2);
  });

  it('refuses a duplicate explicit key with key_already_exists', () => {
    const explicit = 'cli-explicit-key-0123456789';
    expect(keys('create', '--user', 'bob', '--name', 'a', '--key', explicit).code).toBe(0);
    expect(keys('create', '--user', 'bob', '--name', 'b', '--key', explicit)).toMatchObject({
      code: 1,
      stderr: 'error: key_already_exists: A key with this value already exists (key)\n',
    });
  });
});
