import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { expectApiError } from 'test/support/expect-api-error';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { GatewayResponse, startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * The database becomes unwritable in the middle of a run (issue #11): /c1 answers 500
 * `storage_error` — never a 200 for a turn it did not store — and works again by itself once
 * the database does. Two faults SQLite lets a test cause without root tricks (the tests run as
 * root here, so a read-only file would still be writable): the file is full (`max_page_count`
 * pinned to its current size, what a full disk looks like to SQLite), and another process holds
 * the write lock longer than the busy timeout.
 */
const TURNS = 30;

describe('/c1 when the database cannot be written', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      // Storage only: the fault must not be an upstream one. SQLite's busy timeout is
      // max(DATABASE_STATEMENT_TIMEOUT_MS, 1000).
      env: { DATABASE_STATEMENT_TIMEOUT_MS: '1000' },
      models: fakeModelCatalog(up.url, { contextWindow: 1_000_000 }),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const db = () => gw.app.get(DataSource);
  const turn = (text: string, conversationId?: string) =>
    gw.post(
      '/c1/chat/completions',
      conversationId
        ? { messages: [{ role: 'user', content: text }] }
        : { model: 'fake', messages: [{ role: 'user', content: text }] },
      { headers: conversationId ? { 'x-conversation-id': conversationId } : {} },
    );

  /** The outcome of every turn: stored and acknowledged, or refused with storage_error. */
  async function turnsDuringFault(conversations: string[], onForwarded?: () => Promise<void>) {
    const texts = Array.from(
      { length: TURNS },
      // Large enough that every turn needs new pages.
      (_, i) => `fault turn ${i} ${Math.random().toString(36).slice(2)} ${'z'.repeat(20_000)}`,
    );
    const seen = up.received.length;
    const pending = Promise.all(
      texts.map((text, i) => turn(text, i % 2 === 0 ? conversations[i / 2] : undefined)),
    );
    if (onForwarded) {
      // Every question is stored (pending) and at the upstream: now the fault hits.
      for (let i = 0; i < 500 && up.received.length < seen + TURNS; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(up.received.length - seen).toBe(TURNS);
      await onForwarded();
    }
    const results = await pending;
    const acked: { text: string; res: GatewayResponse }[] = [];
    for (const [i, res] of results.entries()) {
      if (res.status === 200) {
        acked.push({ text: texts[i], res });
      } else {
        expectApiError(res, 500, 'storage_error', { param: null });
      }
    }
    return { acked, refused: results.length - acked.length };
  }

  /** After the fault: every conversation takes turns again, and nothing is left pending. */
  async function expectRecovered(
    conversations: string[],
    acked: { text: string; res: GatewayResponse }[],
  ) {
    expect((await turn('a new conversation after the fault')).status).toBe(200);
    // A turn the gateway could not resolve during the fault is released within a second or
    // so of the database taking writes again (TurnReaper.releaseLater); until then 409.
    const deadline = Date.now() + 5000;
    let slowestMs = 0;
    const restored = Date.now();
    for (const id of conversations) {
      let res = await turn('still there after the fault?', id);
      while (res.status === 409 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        res = await turn('still there after the fault?', id);
      }
      slowestMs = Math.max(slowestMs, Date.now() - restored);
      expect({ id, status: res.status }).toEqual({ id, status: 200 });
    }
    for (const { text, res } of acked) {
      const detail = await gw.get(`/c1/conversations/${res.body.conversation_id}`);
      const stored = detail.body.messages.filter((m: any) => m.content === text);
      expect(stored).toHaveLength(1);
      expect(stored[0].status).toBe('completed');
    }
    const [{ n }] = await db().query(`SELECT count(*) AS n FROM messages WHERE status = 'pending'`);
    expect(Number(n)).toBe(0);
    // Everything is committed: another process sees the same rows (no transaction left open
    // on the gateway's connection, holding the write lock and every write since).
    const reader = new Database(gw.databaseUrl.replace(/^sqlite:/, ''), { readonly: true });
    try {
      const [{ n: mine }] = await db().query('SELECT count(*) AS n FROM messages');
      expect(reader.prepare('SELECT count(*) AS n FROM messages').get()).toEqual({
        n: Number(mine),
      });
    } finally {
      reader.close();
    }
    expect((db().driver as any).databaseConnection.inTransaction).toBe(false);
    return slowestMs;
  }

  async function conversationsFor(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await turn(`seed ${i}`);
      expect(res.status).toBe(200);
      ids.push(res.body.conversation_id as string);
    }
    return ids;
  }

  it('a full database: 500 storage_error, never a 200 for a lost turn; works again once there is room', async () => {
    const conversations = await conversationsFor(TURNS / 2);
    const [{ page_count: pages }] = await db().query('PRAGMA page_count');
    await db().query(`PRAGMA max_page_count = ${Number(pages)}`);
    let outcome: Awaited<ReturnType<typeof turnsDuringFault>>;
    try {
      outcome = await turnsDuringFault(conversations);
    } finally {
      await db().query('PRAGMA max_page_count = 1073741823');
    }
    expect(outcome.refused).toBeGreaterThan(0);
    console.log(
      `database full: ${outcome.refused} refused with storage_error, ${outcome.acked.length} stored`,
    );
    await expectRecovered(conversations, outcome.acked);
  });

  it('full between storing the question and the answer: 500 storage_error, nothing left pending', async () => {
    const conversations = await conversationsFor(TURNS / 2);
    up.options.firstByteDelayMs = 500;
    let outcome: Awaited<ReturnType<typeof turnsDuringFault>>;
    try {
      outcome = await turnsDuringFault(conversations, async () => {
        const [{ page_count: pages }] = await db().query('PRAGMA page_count');
        await db().query(`PRAGMA max_page_count = ${Number(pages)}`);
      });
    } finally {
      up.options.firstByteDelayMs = 0;
      await db().query('PRAGMA max_page_count = 1073741823');
    }
    expect(outcome.refused).toBeGreaterThan(0);
    const recoveredMs = await expectRecovered(conversations, outcome.acked);
    console.log(
      `full mid-turn: ${outcome.refused} refused with storage_error, ${outcome.acked.length} stored, every conversation took turns again within ${recoveredMs} ms`,
    );
  });

  it('a write lock held by another process: 500 storage_error after the busy timeout; works again once released', async () => {
    const conversations = await conversationsFor(TURNS / 2);
    const file = gw.databaseUrl.replace(/^sqlite:/, '');
    expect(file).toBe(join(gw.dir, 'parley.sqlite'));
    const other = new Database(file, { timeout: 5000 });
    other.exec('BEGIN EXCLUSIVE');
    let outcome: Awaited<ReturnType<typeof turnsDuringFault>>;
    try {
      outcome = await turnsDuringFault(conversations);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    expect(outcome.refused).toBe(TURNS);
    await expectRecovered(conversations, outcome.acked);
  });
});
