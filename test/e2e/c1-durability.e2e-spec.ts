import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog, writeModelsFile } from 'test/support/fake-catalog';
import { TEST_API_KEY } from 'test/support/start-gateway';
import { AckedTurn, killDuringTurns } from 'test/support/kill-during-turns';
import { spawnGateway, SpawnedGateway, sqliteGatewayEnv } from 'test/support/spawn-gateway';
import { e2eDatabaseKind } from 'test/support/test-database';
import { describeUnless } from 'test/support/describe-if-env';

/**
 * SIGKILL during many in-flight /c1 turns, restart on the same SQLite file, and check what the
 * clients were told: every turn that got a 200 is stored exactly once (user message completed,
 * assistant answer identical), the file passes `PRAGMA integrity_check`, and no message is left
 * pending (the boot reaper fails what the dead process left). Bounded: ROUNDS × TURNS requests.
 */
const ROUNDS = Number(process.env.C1_KILL_ROUNDS ?? 3);
const TURNS = Number(process.env.C1_KILL_TURNS ?? 80);

// SQLite only: the file is checked with PRAGMA integrity_check, and on PostgreSQL the turns a
// dead instance left are resolved when their claim expires (docs/notes/conversations.md).
describeUnless(
  e2eDatabaseKind() === 'sqlite' ? null : 'runs on SQLite only',
  '/c1 durability under kill -9',
  () => {
    let up: FakeUpstream;
    let dir: string;
    let gw: SpawnedGateway | null = null;

    beforeAll(async () => {
      up = await startFakeUpstream({ firstByteDelayMs: 40 });
      dir = mkdtempSync(join(tmpdir(), 'parley-kill-'));
      writeModelsFile(dir, fakeModelCatalog(up.url));
    });
    afterAll(async () => {
      gw?.kill('SIGKILL');
      await up?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const start = () => spawnGateway(sqliteGatewayEnv(dir));

    it(`stores every acknowledged turn exactly once across ${ROUNDS} kills`, async () => {
      const acked: AckedTurn[] = [];
      const conversations: string[] = [];
      let unacked = 0;
      for (let round = 0; round < ROUNDS; round++) {
        gw = await start();
        // Let some turns finish while many are in flight, then pull the plug.
        const killed = await killDuringTurns(gw, {
          turns: TURNS,
          label: `round ${round}`,
          continuing: conversations,
          spread: 1 / 4,
          waitMs: 10_000,
        });
        acked.push(...killed.acked);
        conversations.push(...killed.started);
        unacked += TURNS - killed.acked.length;
      }
      // The kill must have hit turns in flight, or the test proves nothing.
      expect(unacked).toBeGreaterThan(0);
      expect(acked.length).toBeGreaterThan(0);

      gw = await start();
      for (const turn of acked) {
        const res = await fetch(`${gw.url}/c1/conversations/${turn.conversationId}`, {
          headers: { authorization: `Bearer ${TEST_API_KEY}` },
        });
        expect(res.status).toBe(200);
        const detail = (await res.json()) as any;
        const at = detail.messages
          .map((m: any, i: number) => (m.content === turn.text ? i : -1))
          .filter((i: number) => i >= 0);
        expect({ text: turn.text, count: at.length }).toEqual({ text: turn.text, count: 1 });
        expect(detail.messages[at[0]].status).toBe('completed');
        expect(detail.messages[at[0] + 1]).toMatchObject({
          role: 'assistant',
          status: 'completed',
          content: turn.answer,
        });
      }
      gw.kill('SIGTERM');
      expect(await gw.exited).toEqual({ code: 0, signal: null });
      gw = null;

      const db = new Database(join(dir, 'parley.sqlite'), { readonly: true });
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        expect(
          db.prepare(`SELECT count(*) AS n FROM messages WHERE status = 'pending'`).get(),
        ).toEqual({ n: 0 });
        expect(
          db
            .prepare('SELECT count(*) AS n FROM conversations WHERE active_turn_id IS NOT NULL')
            .get(),
        ).toEqual({ n: 0 });
        // Turns the kill interrupted were resolved at restart, not left pending.
        const interrupted = db
          .prepare(`SELECT count(*) AS n FROM messages WHERE status = 'failed' AND error_code = ?`)
          .get('internal_error') as { n: number };
        console.log(
          `durability: ${acked.length} turns acknowledged, ${unacked} cut by ${ROUNDS} kills, ${interrupted.n} interrupted messages marked failed at restart`,
        );
        expect(interrupted.n).toBeGreaterThan(0);
        const texts = acked.map((t) => JSON.stringify([{ type: 'text', text: t.text }]));
        const stored = db.prepare('SELECT count(*) AS n FROM messages WHERE content = ?');
        for (const content of texts) {
          expect(stored.get(content)).toEqual({ n: 1 });
        }
      } finally {
        db.close();
      }
    }, 180_000);
  },
);
