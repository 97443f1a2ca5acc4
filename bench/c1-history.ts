/**
 * How the cost of one /c1 turn grows with the stored history (10, 100, 1,000 turns).
 *
 *   npm run bench:c1      (SIZES=10,100,1000 SAMPLES=200 by default)
 *
 * Part 1, storage only (in process, SQLite file, history cache off): the database steps of a
 * turn, timed apart: start (claim-and-load: claim, pending user message and the recursive
 * history read, one transaction), history (the recursive read alone, for comparison), finish
 * (answer + completion, one transaction).
 *
 * Part 2, end to end: starts a fake OpenAI upstream and the built gateway (dist/main.js) on
 * 127.0.0.1 with a fresh SQLite file, seeds one conversation per size, then times SAMPLES turns
 * at concurrency 1, cold (history read from the database) and warm (from the history cache).
 * Prints tables; stops by itself and kills what it started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { TurnClaim } from 'src/modules/conversations/turn-store';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog, writeModelsFile } from 'test/support/fake-catalog';
import { spawnGateway, sqliteGatewayEnv } from 'test/support/spawn-gateway';
import { TEST_API_KEY } from 'test/support/start-gateway';
import { openTestDatabase } from 'test/support/open-database';
import { conversationStoresOn } from 'test/support/conversations-repository';

const SIZES = (process.env.SIZES ?? '10,100,1000').split(',').map(Number);
const SAMPLES = Number(process.env.SAMPLES ?? 200);
const WARMUP = 20;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function storage() {
  const db = await openTestDatabase('sqlite');
  const { repo, turns } = conversationStoresOn(db.dataSource, new MetricsService(), {
    cache: new HistoryCache(0),
  });
  const claim = async (input: TurnClaim) => {
    const claimed = await turns.claimAndLoad(input);
    if (claimed.kind !== 'claimed') {
      throw new Error('no Idempotency-Key was sent: nothing to replay');
    }
    return claimed;
  };
  const text = (t: string) => ({
    role: 'user' as const,
    parts: [{ type: 'text' as const, text: t }],
    tokenEstimate: 12,
  });
  const answer = {
    parts: [{ type: 'text' as const, text: 'You said: a short question about the weather' }],
    status: 'completed' as const,
    finishReason: 'stop',
    promptTokens: 10,
    completionTokens: 8,
    tokenEstimate: 10,
    model: 'fake',
  };
  const base = { userId: 'bench', model: 'fake', claimTtlMs: 60_000 };
  console.log(`\n/c1 storage cost of one turn (in process, SQLite, median of ${SAMPLES})\n`);
  console.log('stored turns | start ms | history ms | rows read | finish ms | start+finish');
  console.log('-------------|----------|------------|-----------|-----------|-------------');
  try {
    for (const size of SIZES) {
      let id: string | null = null;
      for (let i = 0; i < size; i++) {
        const turn = await claim({
          ...base,
          conversationId: id,
          messages: [text(`q${i}`)],
        });
        await turns.finish(turn, answer);
        id = turn.turn.conversation.id;
      }
      const source = (await repo.findConversation('bench', id as string))!;
      const head = await repo.findMessage(source.headMessageId as string);
      const start: number[] = [];
      const read: number[] = [];
      const finish: number[] = [];
      let rows = 0;
      for (let s = 0; s < WARMUP + SAMPLES; s++) {
        const fork = await repo.forkConversation(source, head!);
        const t0 = performance.now();
        const turn = await claim({
          ...base,
          conversationId: fork.id,
          messages: [text('x')],
        });
        const t1 = performance.now();
        rows = (await repo.history(turn.turn.inputs[0].parentId)).length;
        const t2 = performance.now();
        await turns.finish(turn, answer);
        const t3 = performance.now();
        if (s >= WARMUP) {
          start.push(t1 - t0);
          read.push(t2 - t1);
          finish.push(t3 - t2);
        }
      }
      const [a, b, c] = [median(start), median(read), median(finish)];
      console.log(
        `${String(size).padStart(12)} | ${a.toFixed(3).padStart(8)} | ${b.toFixed(3).padStart(10)} | ${String(rows).padStart(9)} | ${c.toFixed(3).padStart(9)} | ${(a + c).toFixed(3).padStart(12)}`,
      );
    }
  } finally {
    await db.close();
  }
}

async function main() {
  await storage();
  const up = await startFakeUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-c1-'));
  writeModelsFile(dir, fakeModelCatalog(up.url, { contextWindow: 1_000_000 }));
  const gw = await spawnGateway({
    ...sqliteGatewayEnv(dir),
    ...(process.env.GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.GATEWAY_NODE_OPTIONS } : {}),
  });
  const headers = { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown, extra: Record<string, string> = {}) => {
    const res = await fetch(gw.url + path, {
      method: 'POST',
      headers: { ...headers, ...extra },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    if (res.status >= 300) {
      throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    }
    return json;
  };
  const turn = (conversationId: string | null, text: string) =>
    post(
      '/c1/chat/completions',
      conversationId
        ? { messages: [{ role: 'user', content: text }] }
        : { model: 'fake', messages: [{ role: 'user', content: text }] },
      conversationId ? { 'x-conversation-id': conversationId } : {},
    );

  const rows: {
    size: number;
    mode: string;
    p50: number;
    p90: number;
    mean: number;
    forwarded: number;
  }[] = [];
  const summarize = (size: number, mode: string, times: number[]) => {
    times.sort((a, b) => a - b);
    rows.push({
      size,
      mode,
      p50: times[Math.floor(times.length * 0.5)],
      p90: times[Math.floor(times.length * 0.9)],
      mean: times.reduce((a, b) => a + b, 0) / times.length,
      forwarded: up.received[up.received.length - 1].body.messages.length,
    });
  };
  try {
    for (const size of SIZES) {
      let id: string | null = null;
      for (let i = 0; i < size; i++) {
        const res = await turn(id, `seed turn ${i}: a short question about the weather`);
        id = res.conversation_id as string;
      }
      const head = (await (
        await fetch(`${gw.url}/c1/conversations/${id}`, { headers })
      ).json()) as any;
      // cold: each sample forks the seeded conversation at its head (untimed) and times one
      // turn on the fork: the history is read from the database (as when another instance
      // served the previous turn, or after a restart).
      const cold: number[] = [];
      for (let s = 0; s < WARMUP + SAMPLES; s++) {
        const fork = await post(`/c1/conversations/${id}/fork`, {
          message_id: head.last_message_id,
        });
        const t0 = performance.now();
        await turn(fork.id as string, `sample ${s}`);
        if (s >= WARMUP) {
          cold.push(performance.now() - t0);
        }
      }
      summarize(size, 'cold', cold);
      // warm: the same conversation continued turn after turn (its history grows by SAMPLES
      // turns over the run); the history comes from the instance's cache.
      const warm: number[] = [];
      for (let s = 0; s < WARMUP + SAMPLES; s++) {
        const t0 = performance.now();
        await turn(id, `continued ${s}`);
        if (s >= WARMUP) {
          warm.push(performance.now() - t0);
        }
      }
      summarize(size, 'warm', warm);
    }
  } finally {
    gw.kill('SIGTERM');
    await gw.exited;
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `\n/c1 turn end to end (${SAMPLES} turns each, concurrency 1, SQLite, fake upstream)\n`,
  );
  console.log(
    'stored turns | history | messages forwarded | p50 ms | p90 ms | mean ms | mean vs 10 (same mode)',
  );
  console.log(
    '-------------|---------|--------------------|--------|--------|---------|-----------------------',
  );
  for (const r of rows) {
    const base = rows.find((x) => x.mode === r.mode) ?? r;
    console.log(
      `${String(r.size).padStart(12)} | ${r.mode.padStart(7)} | ${String(r.forwarded).padStart(18)} | ${r.p50.toFixed(2).padStart(6)} | ${r.p90.toFixed(2).padStart(6)} | ${r.mean.toFixed(2).padStart(7)} | ${(r.mean / base.mean).toFixed(2).padStart(21)}×`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
