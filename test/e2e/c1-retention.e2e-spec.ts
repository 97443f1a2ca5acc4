import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { parseMetrics } from 'test/support/metrics';
import { sql } from 'test/support/sql';
import { startGateway, TestGateway } from 'test/support/start-gateway';

const DAY_MS = 86_400_000;

/** CONVERSATION_TTL_DAYS: idle conversations are deleted by a background sweep (#19). */
describe('retention (CONVERSATION_TTL_DAYS)', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      models: fakeModelCatalog(up.url),
      env: { CONVERSATION_TTL_DAYS: '1', RETENTION_SWEEP_SECS: '1', SHUTDOWN_GRACE_SECS: '1' },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  async function create(text: string): Promise<string> {
    const res = await gw.post('/c1/chat/completions', {
      model: 'fake',
      messages: [{ role: 'user', content: text }],
    });
    expect(res.status).toBe(200);
    return res.body.conversation_id as string;
  }

  const backdate = (id: string, ms: number) =>
    sql(gw.databaseUrl, 'UPDATE conversations SET updated_at = $1 WHERE id = $2', [
      Date.now() - ms,
      id,
    ]);

  const messagesOfTree = async (treeId: string) =>
    Number(
      (
        await sql<{ n: number | string }>(
          gw.databaseUrl,
          'SELECT count(*) AS n FROM messages WHERE tree_id = $1',
          [treeId],
        )
      )[0].n,
    );

  it('deletes only conversations idle past the TTL, never one with a turn running', async () => {
    const idle = await create('idle for two days');
    const fresh = await create('active an hour ago');
    const forked = await create('the original of a fork');
    const running = await create('an old conversation with a turn in progress');
    const forkSource = (await gw.get(`/c1/conversations/${forked}`)).body;
    const fork = await gw.post(`/c1/conversations/${forked}/fork`, {
      message_id: forkSource.messages[0].id,
    });
    expect(fork.status).toBe(201);

    // A turn that is still waiting for its upstream when the sweep runs.
    up.next({ kind: 'hang' });
    const abort = new AbortController();
    const inFlight = gw
      .post(
        '/c1/chat/completions',
        { model: 'fake', messages: [{ role: 'user', content: 'still thinking' }] },
        { headers: { 'x-conversation-id': running }, signal: abort.signal },
      )
      .catch(() => null);
    for (let i = 0; i < 50 && !(await gw.get(`/c1/conversations/${running}`)).body.busy; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await gw.get(`/c1/conversations/${running}`)).body.busy).toBe(true);

    await backdate(idle, 2 * DAY_MS);
    await backdate(fresh, DAY_MS - 3_600_000);
    await backdate(forked, 3 * DAY_MS);
    await backdate(running, 5 * DAY_MS);

    for (let i = 0; i < 100 && (await gw.get(`/c1/conversations/${idle}`)).status !== 404; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await gw.get(`/c1/conversations/${idle}`)).status).toBe(404);
    expect((await gw.get(`/c1/conversations/${forked}`)).status).toBe(404);
    expect(await messagesOfTree(idle)).toBe(0);
    // The fork still points into the deleted original's tree: those messages stay.
    const forkDetail = await gw.get(`/c1/conversations/${fork.body.id}`);
    expect(forkDetail.status).toBe(200);
    expect(forkDetail.body.messages[0].content).toBe('the original of a fork');
    expect((await gw.get(`/c1/conversations/${fresh}`)).status).toBe(200);
    expect((await gw.get(`/c1/conversations/${running}`)).status).toBe(200);
    expect(await messagesOfTree(running)).toBeGreaterThan(0);
    // Nothing of the deleted conversations is found by search either.
    expect((await gw.get('/c1/conversations?q=idle')).body.data).toEqual([]);

    const metrics = parseMetrics((await gw.get('/metrics', { key: null })).text);
    expect(metrics.value('parley_retention_conversations_deleted_total')).toBe(2);
    expect(metrics.value('parley_retention_messages_deleted_total')).toBe(2);
    abort.abort();
    await inFlight;
  });
});
