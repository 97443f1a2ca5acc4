import { ClientRequest } from 'node:http';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, ReceivedRequest, startFakeUpstream } from 'test/support/fake-upstream';
import { startJsonPost } from 'test/support/raw-client';
import { startGateway, TestGateway } from 'test/support/start-gateway';
import { eventually, sleep } from 'test/support/time';

/**
 * 1,000 clients that hang up on /v1 (issue #11): before the request is forwarded, while the
 * upstream prepares its first byte, and mid-stream. The upstream must see every forwarded
 * request aborted within a second, and no upstream connection may outlive its request.
 */
const TOTAL = 1000;
const BATCH = 100;

type Phase = 'before_headers' | 'first_byte' | 'mid_stream';

interface Client {
  text: string;
  req: ClientRequest;
  /** Resolves once the first response bytes arrived (never for a hanging upstream). */
  firstData: Promise<void>;
}

describe('1,000 client aborts on /v1', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      env: { LOG_LEVEL: 'warn', HTTP_TOTAL_TIMEOUT_SECS: '60', SSE_KEEPALIVE_SECS: '30' },
      models: fakeModelCatalog(up.url, { maxOutputTokens: 1024, contextWindow: 8192 }),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  function open(text: string, stream: boolean): Client {
    const req = startJsonPost(`${gw.url}/v1/chat/completions`, {
      model: 'fake',
      stream,
      messages: [{ role: 'user', content: text }],
    });
    req.on('error', () => undefined);
    const firstData = new Promise<void>((resolve) => {
      req.on('response', (res) => {
        res.on('error', () => undefined);
        res.once('data', () => resolve());
      });
    });
    return { text, req, firstData };
  }

  const recordsOf = (texts: Set<string>) =>
    up.received.filter((r) => texts.has(r.body?.messages?.[0]?.content as string));

  /** Opens a batch, aborts each at `phase`; the slowest abort the upstream saw, in ms. */
  async function abortBatch(
    phase: Phase,
    batch: number,
  ): Promise<{ forwarded: number; slowestMs: number }> {
    const clients = Array.from({ length: BATCH }, (_, i) =>
      open(`abort ${phase} ${batch} ${i}`, phase !== 'first_byte'),
    );
    const texts = new Set(clients.map((c) => c.text));
    if (phase === 'first_byte') {
      await eventually(() => expect(recordsOf(texts)).toHaveLength(BATCH), { intervalMs: 10 });
    } else if (phase === 'mid_stream') {
      await Promise.all(clients.map((c) => c.firstData));
    }
    const abortedAt = Date.now();
    for (const client of clients) {
      client.req.destroy();
    }
    if (phase === 'before_headers') {
      // Give a request the gateway had not forwarded yet the time to (wrongly) go out anyway.
      await sleep(300);
    }
    // Every request that reached the upstream must be hung up on (how fast: below).
    await eventually(() => expect(recordsOf(texts).filter((r) => !r.hungUp)).toEqual([]), {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    const records: ReceivedRequest[] = recordsOf(texts);
    const slowestMs = Math.max(0, ...records.map((r) => r.hungUpAt! - abortedAt));
    return { forwarded: records.length, slowestMs };
  }

  it(`passes each of ${TOTAL} aborts upstream at once and leaves no upstream socket open`, async () => {
    const baseline = up.openSockets();
    const plan: Phase[] = [];
    for (let i = 0; i < TOTAL / BATCH; i++) {
      plan.push((['before_headers', 'first_byte', 'mid_stream'] as const)[i % 3]);
    }
    const results: Record<Phase, { forwarded: number; slowestMs: number }> = {
      before_headers: { forwarded: 0, slowestMs: 0 },
      first_byte: { forwarded: 0, slowestMs: 0 },
      mid_stream: { forwarded: 0, slowestMs: 0 },
    };
    for (const [batch, phase] of plan.entries()) {
      // Before headers and while waiting: the upstream never answers. Mid-stream: it sends a
      // few chunks, then goes quiet, so only the client's hang-up can end the exchange.
      up.always(phase === 'mid_stream' ? { kind: 'stall', chunks: 3 } : { kind: 'hang' });
      const { forwarded, slowestMs } = await abortBatch(phase, batch);
      results[phase].forwarded += forwarded;
      results[phase].slowestMs = Math.max(results[phase].slowestMs, slowestMs);
    }
    up.always({ kind: 'ok' });
    console.log(`client aborts: ${JSON.stringify(results)}`);
    expect(results.first_byte.forwarded).toBe(
      plan.filter((p) => p === 'first_byte').length * BATCH,
    );
    expect(results.mid_stream.forwarded).toBe(
      plan.filter((p) => p === 'mid_stream').length * BATCH,
    );
    // Issue #11 asks for a second, and an idle machine does it in well under one (the line
    // above prints the figures). The bound has to tell an abort passed on at the hang-up from
    // one noticed only at the next keep-alive or timeout (30 s and 60 s here): 5 s leaves room
    // for a hundred simultaneous hang-ups on a loaded machine.
    for (const phase of Object.keys(results) as Phase[]) {
      expect({ phase, isPrompt: results[phase].slowestMs < 5_000 }).toEqual({
        phase,
        isPrompt: true,
      });
    }
    await eventually(() => expect(up.openSockets()).toBeLessThanOrEqual(baseline), {
      timeoutMs: 3000,
      intervalMs: 10,
    });
    const metrics = gw.app.get(MetricsService);
    expect((await metrics.activeStreams.get()).values.reduce((s, v) => s + v.value, 0)).toBe(0);
    // And the gateway still answers.
    const after = await gw.post('/v1/chat/completions', {
      model: 'fake',
      messages: [{ role: 'user', content: 'still there?' }],
    });
    expect(after.status).toBe(200);
  }, 120_000);
});
