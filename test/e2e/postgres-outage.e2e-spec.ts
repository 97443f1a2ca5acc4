import { Client } from 'pg';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { describeIfEnv } from 'test/support/describe-if-env';
import { expectApiError } from 'test/support/expect-api-error';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { parseSseJson } from 'test/support/sse-frames';
import { startGateway, TestGateway } from 'test/support/start-gateway';
import { createPostgresDatabase, TestDatabase } from 'test/support/test-database';
import { sleep } from 'test/support/time';

/**
 * The database goes away under a running gateway, on a real PostgreSQL server: only this test's
 * own database is touched (its sessions terminated, connections refused, writes blocked),
 * never the shared server. Requests fail with 500 storage_error, never a 200 whose turn is not
 * stored, and the gateway recovers by itself once the database is back.
 */
describeIfEnv('TEST_DATABASE_URL', 'PostgreSQL outages under a running gateway', () => {
  let db: TestDatabase;
  let name: string;
  let admin: Client;
  let up: FakeUpstream;
  let gw: TestGateway;

  /** Ends every session the gateway holds on its database (what a server restart does). */
  const terminateGatewaySessions = async () => {
    const { rows } = await admin.query(
      `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
        WHERE datname = $1 AND application_name = 'parley'`,
      [name],
    );
    return rows.length;
  };

  beforeAll(async () => {
    db = await createPostgresDatabase();
    name = new URL(db.url).pathname.slice(1);
    admin = new Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    up = await startFakeUpstream({ firstByteDelayMs: 50 });
    gw = await startGateway({
      databaseUrl: db.url,
      env: { DATABASE_STATEMENT_TIMEOUT_MS: '2000' },
      models: fakeModelCatalog(up.url),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end();
    await db?.drop();
  });

  const turn = (text: string, id?: string, stream = false) =>
    gw.post(
      '/c1/chat/completions',
      { ...(id ? {} : { model: 'fake' }), stream, messages: [{ role: 'user', content: text }] },
      { headers: id ? { 'x-conversation-id': id } : {} },
    );
  const contents = async (id: string, withErrors = false) =>
    ((await gw.get(`/c1/conversations/${id}`)).body.messages as any[]).map((m) => [
      m.role,
      m.status,
      m.content,
      ...(withErrors ? [m.error?.code ?? null] : []),
    ]);

  it('answers storage_error while the database refuses connections, and recovers by itself', async () => {
    const first = await turn('before the outage');
    expect(first.status).toBe(200);
    const id = first.body.conversation_id as string;

    await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
    expect(await terminateGatewaySessions()).toBeGreaterThan(0);
    try {
      for (const res of [
        await turn('during the outage', id),
        await turn('during the outage, streamed', id, true),
        await turn('a new conversation during the outage'),
        await gw.get(`/c1/conversations/${id}`),
      ]) {
        expectApiError(res, 500, 'storage_error', { param: null });
      }
      expect((await gw.get('/readyz', { key: null })).status).toBe(503);
      // Once the key's cached lookup is stale (1 s), authentication needs the database too.
      await sleep(1_100);
      expectApiError(await gw.get('/v1/me'), 500, 'storage_error', { param: null });
    } finally {
      await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`);
    }

    // Back: the very next requests succeed, and the history has no trace of the outage.
    const after = await turn('after the outage', id);
    expect(after.status).toBe(200);
    expect(await contents(id)).toEqual([
      ['user', 'completed', 'before the outage'],
      ['assistant', 'completed', 'You said: before the outage'],
      ['user', 'completed', 'after the outage'],
      ['assistant', 'completed', 'You said: after the outage'],
    ]);
    expect((await gw.get('/readyz', { key: null })).status).toBe(200);
  });

  it('never answers 200 for a turn it could not store when writes fail mid-turn', async () => {
    const json = (await turn('json, before')).body.conversation_id as string;
    const streamed = (await turn('streamed, before')).body.conversation_id as string;
    // The upstream is slow now: the turns are stored pending, then the database turns
    // read-only (new sessions only, so the gateway's are ended) before the answers arrive.
    up.options.firstByteDelayMs = 1_500;
    const upstreamCalls = up.received.length + 2;
    const pending = [turn('json, during', json), turn('streamed, during', streamed, true)];
    const deadline = Date.now() + 5_000;
    while (up.received.length < upstreamCalls && Date.now() < deadline) {
      await sleep(10);
    }
    expect(up.received.length).toBe(upstreamCalls);
    await admin.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
    await terminateGatewaySessions();
    let jsonRes, streamRes;
    try {
      [jsonRes, streamRes] = await Promise.all(pending);
    } finally {
      up.options.firstByteDelayMs = 50;
      await admin.query(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
      await terminateGatewaySessions();
    }
    expectApiError(jsonRes, 500, 'storage_error', { param: null });
    // The stream had started: it ends with a storage_error event instead of its [DONE].
    expect(streamRes.status).toBe(200);
    expect(streamRes.text).not.toContain('[DONE]');
    const events = parseSseJson(streamRes.text) as any[];
    expect(events.at(-1)).toEqual({
      error: expect.objectContaining({ code: 'storage_error', type: 'internal_error' }),
    });
    // No exception filter line for a stream that started: the operator's line is the turn's,
    // under the request's id.
    expect(gw.logs).toContainEqual(
      expect.objectContaining({
        reqId: streamRes.headers.get('x-request-id'),
        context: 'conversations',
        msg: expect.stringMatching(`^could not store the answer of conversation ${streamed}: `),
      }),
    );

    // Recovered: within seconds (the gateway retries marking the turns failed every second)
    // both conversations are free again and take turns, the failed turns marked as such.
    for (const [id, name] of [
      [json, 'json'],
      [streamed, 'streamed'],
    ]) {
      const freeBy = Date.now() + 15_000; // generous: the machine may be loaded
      // A read may itself fail while the pool replaces its terminated sessions: wait for a
      // successful read that says the conversation is free.
      const isFree = async () => {
        const res = await gw.get(`/c1/conversations/${id}`);
        return res.status === 200 && res.body.busy === false;
      };
      while (!(await isFree()) && Date.now() < freeBy) {
        await sleep(100);
      }
      const next = await turn(`${name}, after`, id);
      expect(next.status).toBe(200);
      expect(await contents(id, true)).toEqual([
        ['user', 'completed', `${name}, before`, null],
        ['assistant', 'completed', `You said: ${name}, before`, null],
        ['user', 'failed', `${name}, during`, 'storage_error'],
        ['assistant', 'failed', null, 'storage_error'],
        ['user', 'completed', `${name}, after`, null],
        ['assistant', 'completed', `You said: ${name}, after`, null],
      ]);
    }
  });
});
