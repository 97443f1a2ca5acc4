import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog, writeModelsFile } from 'test/support/fake-catalog';
import { spawnGateway, SpawnedGateway, sqliteGatewayEnv } from 'test/support/spawn-gateway';
import { TEST_API_KEY } from 'test/support/start-gateway';

/**
 * Issue #22 item 2, scaled down: 400 MB of reasoning signatures took the heap from 51 to 472 MB
 * because the history cache did not weigh them. Here 640 turns, each holding a 64 KiB signature
 * (40 MiB in all), against a 4 MiB HISTORY_CACHE_BYTES, in a gateway process whose old space is
 * limited to 96 MB (its baseline is ~60 MB): garbage is collected, what the cache holds is not,
 * so the process survives only if the cache weighs the signatures.
 */
const TURNS = 640;
const CONCURRENCY = 8;
const SIGNATURE = 's'.repeat(64 * 1024);
const CACHE_BYTES = 4 * 1024 * 1024;
const HEAP_LIMIT_MB = 96;

async function heapUsedMb(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^parley_process_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  if (!match) {
    throw new Error('no heap figure in /metrics');
  }
  return Number(match[1]) / 1024 / 1024;
}

describe('history cache under big signatures (#22 item 2)', () => {
  let dir: string;
  let upstream: FakeUpstream;
  let gw: SpawnedGateway;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-signatures-'));
    upstream = await startFakeUpstream({ answer: 'ok' });
    writeModelsFile(dir, fakeModelCatalog(upstream.url));
    gw = await spawnGateway({
      ...sqliteGatewayEnv(dir),
      HISTORY_CACHE_BYTES: String(CACHE_BYTES),
      // A heap that garbage collection can keep within this only if the cache holds its budget.
      NODE_OPTIONS: `--max-old-space-size=${HEAP_LIMIT_MB}`,
    });
  }, 60_000);

  afterAll(async () => {
    gw?.kill('SIGKILL');
    await gw?.exited;
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps the heap bounded after ${TURNS} turns of 64 KiB signatures`, async () => {
    const turn = async (i: number) => {
      const res = await fetch(`${gw.url}/c1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'fake',
          max_tokens: 50,
          messages: [
            { role: 'user', content: `think ${i}` },
            {
              role: 'assistant',
              content: [
                { type: 'thinking', thinking: 'hm', signature: `${i}${SIGNATURE}`.slice(0, 65536) },
                { type: 'text', text: 'so' },
              ],
            },
            { role: 'user', content: 'and?' },
          ],
        }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    };
    await turn(-1);
    const baseline = await heapUsedMb(gw.url);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TURNS) {
          await turn(next++);
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(gw.child.exitCode).toBeNull();
    const after = await heapUsedMb(gw.url);
    console.log(
      `heap after ${TURNS} turns × 64 KiB signatures (${(TURNS * 64) / 1024} MiB), cache ${CACHE_BYTES / 1048576} MiB: ${baseline.toFixed(0)} → ${after.toFixed(0)} MB`,
    );
    expect(after).toBeLessThan(HEAP_LIMIT_MB);
  }, 120_000);
});
