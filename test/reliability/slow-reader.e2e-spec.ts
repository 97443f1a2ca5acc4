import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeUpstream, ReceivedRequest, startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog, writeModelsFile } from 'test/support/fake-catalog';
import { spawnGateway, SpawnedGateway, sqliteGatewayEnv } from 'test/support/spawn-gateway';
import { startJsonPost } from 'test/support/raw-client';
import { TEST_API_KEY } from 'test/support/start-gateway';
import { sleep } from 'test/support/time';

/**
 * A client that stops reading while the upstream pushes a large stream (issue #11): the
 * gateway's memory stays bounded because back-pressure reaches the upstream (its writes block),
 * and the stream arrives whole once the client reads again. The gateway runs as its own process
 * so its resident memory can be read from /proc.
 */
const ANSWER_BYTES = 48 * 1024 * 1024;
const CHUNKS = ANSWER_BYTES / 10240; // ~10 KB of content per event
/** Generous: socket buffers and stream high-water marks, far below the 48 MB answer. */
const RSS_GROWTH_BOUND = 32 * 1024 * 1024;

/** Resident memory (VmRSS) and its peak so far (VmHWM) of a process, in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
}

describe('a client that stops reading a large stream', () => {
  let up: FakeUpstream;
  let gw: SpawnedGateway;
  let dir: string;

  beforeAll(async () => {
    up = await startFakeUpstream({ streamChunks: CHUNKS });
    dir = mkdtempSync(join(tmpdir(), 'parley-slow-reader-'));
    writeModelsFile(dir, fakeModelCatalog(up.url, { maxOutputTokens: 1024, contextWindow: 8192 }));
    gw = await spawnGateway({
      ...sqliteGatewayEnv(dir),
    });
  });
  afterAll(async () => {
    gw?.kill('SIGKILL');
    await gw?.exited;
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the gateway memory bounded, blocks the upstream, then delivers the whole stream', async () => {
    // Warm up (JIT, pools, first database access), then take the baseline.
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fake', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const pid = gw.child.pid!;
    const baseline = memoryOf(pid).rss;
    up.options.answer = 'y'.repeat(ANSWER_BYTES);
    const seenBefore = up.received.length;

    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = startJsonPost(`${gw.url}/v1/chat/completions`, {
        model: 'fake',
        stream: true,
        messages: [{ role: 'user', content: 'a very long answer please' }],
      });
      req.on('response', resolve);
      req.on('error', reject);
    });
    expect(res.statusCode).toBe(200);
    // Read nothing: the response stays paused, so only kernel and stream buffers fill up.
    res.pause();
    const record: ReceivedRequest = await (async () => {
      for (let i = 0; i < 200 && up.received.length === seenBefore; i++) {
        await sleep(10);
      }
      return up.received[up.received.length - 1];
    })();

    // Wait until the upstream's writes stop progressing: back-pressure has reached it.
    let last = -1;
    for (let i = 0; i < 50 && record.sentBytes !== last; i++) {
      last = record.sentBytes;
      await sleep(300);
    }
    const stalledAt = record.sentBytes;
    await sleep(1000);
    expect(record.sentBytes).toBe(stalledAt);
    // Blocked well before the end of the answer. How much the kernel holds in between varies
    // with load: loopback receive buffers autotune up to net.ipv4.tcp_rmem's maximum (32 MiB
    // on Debian), so a fixed 16 MB bound failed now and then under load. What the gateway
    // itself holds is the RSS bound below.
    expect(stalledAt).toBeLessThan(ANSWER_BYTES * 0.75);
    const whilePaused = memoryOf(pid);
    expect(whilePaused.rss - baseline).toBeLessThan(RSS_GROWTH_BOUND);

    // Resume: the whole answer arrives, in order, with [DONE].
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.resume();
    await new Promise((resolve) => res.on('end', resolve));
    const events = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => e.slice('data: '.length));
    expect(events[events.length - 1]).toBe('[DONE]');
    const content = events
      .slice(0, -1)
      .map((e) => JSON.parse(e).choices?.[0]?.delta?.content ?? '')
      .join('');
    expect(content.length).toBe(ANSWER_BYTES);
    expect(content).toBe('y'.repeat(ANSWER_BYTES));
    const after = memoryOf(pid);
    console.log(
      `slow reader: upstream blocked after ${(stalledAt / 1e6).toFixed(1)} MB of ${(ANSWER_BYTES / 1e6).toFixed(1)} MB; gateway RSS baseline ${(baseline / 1e6).toFixed(0)} MB, paused +${((whilePaused.rss - baseline) / 1e6).toFixed(1)} MB, peak ${(after.peak / 1e6).toFixed(0)} MB`,
    );
    expect(after.peak - baseline).toBeLessThan(RSS_GROWTH_BOUND * 2);
  }, 120_000);
});
