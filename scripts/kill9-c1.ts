/**
 * kill -9 during many concurrent /c1 turns, again and again on the same SQLite file (issue #11).
 *
 *   npm run reliability:kill9                      # 20 rounds × 200 concurrent turns
 *   KILL9_ROUNDS=5 KILL9_TURNS=100 npm run reliability:kill9
 *
 * Each round starts the built gateway (dist/main.js), sends TURNS turns at once (half start a
 * conversation, half continue one), waits until a random share of them got their 200, then
 * SIGKILLs the process. After the last round it restarts once more and checks what the clients
 * were told: every turn that got a 200 is stored exactly once, completed, with the answer the
 * client received; `PRAGMA integrity_check` is ok; no message is left pending and no
 * conversation holds a turn. Prints a summary and exits 1 when any check fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog, writeModelsFile } from 'test/support/fake-catalog';
import { TEST_API_KEY } from 'test/support/start-gateway';
import { AckedTurn, killDuringTurns } from 'test/support/kill-during-turns';
import { spawnGateway, SpawnedGateway, sqliteGatewayEnv } from 'test/support/spawn-gateway';

const ROUNDS = Number(process.env.KILL9_ROUNDS ?? 20);
const TURNS = Number(process.env.KILL9_TURNS ?? 200);

async function main(): Promise<number> {
  const started = Date.now();
  const up = await startFakeUpstream({ firstByteDelayMs: 40 });
  const dir = mkdtempSync(join(tmpdir(), 'parley-kill9-'));
  const file = join(dir, 'parley.sqlite');
  writeModelsFile(dir, fakeModelCatalog(up.url, { contextWindow: 1_000_000 }));
  const start = () => spawnGateway(sqliteGatewayEnv(dir));
  let gw: SpawnedGateway | null = null;
  const failures: string[] = [];
  const acked: AckedTurn[] = [];
  const conversations: string[] = [];
  const other: Record<string, number> = {};
  let sent = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      gw = await start();
      const ackedBefore = acked.length;
      const killed = await killDuringTurns(gw, {
        turns: TURNS,
        label: `kill9 round ${round}`,
        continuing: [...conversations].sort(() => Math.random() - 0.5),
        spread: 1 / 2,
        waitMs: 20_000,
      });
      gw = null;
      sent += TURNS;
      acked.push(...killed.acked);
      conversations.push(...killed.started);
      for (const [key, count] of Object.entries(killed.refused)) {
        other[key] = (other[key] ?? 0) + count;
      }
      process.stdout.write(
        `round ${round + 1}/${ROUNDS}: ${acked.length - ackedBefore}/${TURNS} acknowledged before the kill\n`,
      );
    }

    // Restart once more: the boot reaper resolves what the dead processes left.
    gw = await start();
    const byConversation = new Map<string, AckedTurn[]>();
    for (const turn of acked) {
      byConversation.set(turn.conversationId, [
        ...(byConversation.get(turn.conversationId) ?? []),
        turn,
      ]);
    }
    for (const [id, turns] of byConversation) {
      const res = await fetch(`${gw.url}/c1/conversations/${id}`, {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      });
      if (res.status !== 200) {
        failures.push(`conversation ${id}: GET answered ${res.status}`);
        continue;
      }
      const detail = (await res.json()) as any;
      for (const turn of turns) {
        const at = detail.messages
          .map((m: any, i: number) => (m.content === turn.text ? i : -1))
          .filter((i: number) => i >= 0);
        if (at.length !== 1) {
          failures.push(`"${turn.text}" stored ${at.length} times`);
          continue;
        }
        const answer = detail.messages[at[0] + 1];
        if (
          detail.messages[at[0]].status !== 'completed' ||
          answer?.role !== 'assistant' ||
          answer?.status !== 'completed' ||
          answer?.content !== turn.answer
        ) {
          failures.push(`"${turn.text}": not stored as completed with the answer the client got`);
        }
      }
    }
    gw.kill('SIGTERM');
    const exit = await gw.exited;
    gw = null;
    if (exit.code !== 0) {
      failures.push(`the final gateway exited with ${JSON.stringify(exit)}`);
    }

    const db = new Database(file, { readonly: true });
    let summary: Record<string, unknown>;
    try {
      const integrity = db.pragma('integrity_check', { simple: true });
      const count = (sql: string, ...args: unknown[]) =>
        (db.prepare(sql).get(...args) as { n: number }).n;
      const pending = count(`SELECT count(*) AS n FROM messages WHERE status = 'pending'`);
      const holding = count(
        'SELECT count(*) AS n FROM conversations WHERE active_turn_id IS NOT NULL',
      );
      const interrupted = count(
        `SELECT count(*) AS n FROM messages WHERE status = 'failed' AND error_code = ?`,
        'internal_error',
      );
      if (integrity !== 'ok') {
        failures.push(`PRAGMA integrity_check: ${String(integrity)}`);
      }
      if (pending !== 0) {
        failures.push(`${pending} messages left pending`);
      }
      if (holding !== 0) {
        failures.push(`${holding} conversations still hold a turn`);
      }
      const stored = db.prepare('SELECT count(*) AS n FROM messages WHERE content = ?');
      let duplicates = 0;
      for (const turn of acked) {
        const n = (stored.get(JSON.stringify([{ type: 'text', text: turn.text }])) as { n: number })
          .n;
        if (n !== 1) {
          duplicates++;
        }
      }
      if (duplicates) {
        failures.push(`${duplicates} acknowledged turns are not stored exactly once`);
      }
      summary = {
        rounds: ROUNDS,
        turns_per_round: TURNS,
        sent,
        acknowledged: acked.length,
        cut_by_kills: sent - acked.length - Object.values(other).reduce((a, b) => a + b, 0),
        other_answers: other,
        interrupted_marked_failed: interrupted,
        pending,
        integrity_check: integrity,
        conversations: count('SELECT count(*) AS n FROM conversations'),
        messages: count('SELECT count(*) AS n FROM messages'),
        seconds: Math.round((Date.now() - started) / 1000),
      };
    } finally {
      db.close();
    }
    process.stdout.write(`\n${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    gw?.kill('SIGKILL');
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (failures.length) {
    process.stdout.write(`\nFAILED (${failures.length}):\n${failures.slice(0, 50).join('\n')}\n`);
    return 1;
  }
  process.stdout.write('\nOK: every acknowledged turn stored exactly once, nothing pending\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
