import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { writeModelsFile } from 'test/support/fake-catalog';
import { eventLoopLagMaxMs, probeHealthz } from 'test/support/loop-probe';
import { spawnGateway, SpawnedGateway, sqliteGatewayEnv } from 'test/support/spawn-gateway';
import { postSse } from 'test/support/sse-reader';
import { TEST_API_KEY } from 'test/support/start-gateway';

/**
 * Issue #22 item 1: token estimation must be linear in its input. A single run of one letter
 * is one BPE pre-token whose merge is quadratic: 300 KB of `x` held the event loop 64 s. The
 * gateway runs as its own process; its event-loop delay monitor (/metrics) gives the longest
 * the loop was held during each request, and /healthz is polled throughout as a client sees it.
 * Before the fix: 64 s for 300 KB, hours for 10 MB. After: the estimation itself takes a few ms;
 * a /c1 turn still parses, renders and inserts 10 MB synchronously (~350 ms on an idle 2-core
 * machine, more when it is shared), which its bound leaves room for.
 */
const LOOP_BOUND_MS = 500;
const C1_TURN_BOUND_MS = 1_500;
const settle = () => new Promise((r) => setTimeout(r, 1_100));
const TEN_MB_RUN = 'x'.repeat(10 * 1024 * 1024);
const UPSTREAM_CAP = 1024 * 1024;

const auth = { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' };

describe('token estimation stays linear (#22 item 1)', () => {
  let dir: string;
  let upstream: FakeUpstream;
  let slow: FakeUpstream;
  let gw: SpawnedGateway;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-tokens-'));
    upstream = await startFakeUpstream({ answer: 'ok' });
    slow = await startFakeUpstream({
      answer: 'a slow answer',
      streamChunks: 20,
      chunkDelayMs: 200,
    });
    const model = (alias: string, url: string) => ({
      alias,
      upstreams: [{ url, format: 'openai', model: 'fake-model' }],
      constraints: { max_output_tokens: 1000, context_window: 100_000_000 },
    });
    writeModelsFile(dir, { models: [model('fake', upstream.url), model('slow', slow.url)] });
    gw = await spawnGateway({
      ...sqliteGatewayEnv(dir),
      UPSTREAM_MAX_BODY_BYTES: String(UPSTREAM_CAP),
    });
  }, 60_000);

  afterAll(async () => {
    gw?.kill('SIGKILL');
    await gw?.exited;
    await upstream?.close();
    await slow?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores a /c1 turn of a 10 MB single-run message without holding the event loop', async () => {
    await eventLoopLagMaxMs(gw.url);
    const probe = probeHealthz(gw.url);
    const res = await fetch(`${gw.url}/c1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'fake', messages: [{ role: 'user', content: TEN_MB_RUN }] }),
      signal: AbortSignal.timeout(30_000),
    });
    const slowest = await probe.stop();
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).choices[0].message.content).toBe('ok');
    await settle();
    const lag = await eventLoopLagMaxMs(gw.url);
    console.log(
      `10 MB single-run /c1 turn: loop held ${lag.toFixed(0)} ms, slowest /healthz ${slowest.toFixed(0)} ms`,
    );
    expect(lag).toBeLessThan(C1_TURN_BOUND_MS);
    expect(slowest).toBeLessThan(2 * C1_TURN_BOUND_MS);
  }, 60_000);

  it('estimates the usage of an abandoned /v1 stream of a 10 MB single-run prompt without holding the loop', async () => {
    const before = slow.received.length;
    await settle();
    await eventLoopLagMaxMs(gw.url);
    const probe = probeHealthz(gw.url);
    const res = await postSse(
      `${gw.url}/v1/chat/completions`,
      { model: 'slow', stream: true, messages: [{ role: 'user', content: TEN_MB_RUN }] },
      {
        headers: { authorization: auth.authorization },
        onEvent: (e) => (e.data ? 'stop' : undefined),
      },
    );
    expect(res.status).toBe(200);
    // The upstream sees the hang-up (the gateway aborted it and then estimated usage).
    for (let i = 0; i < 100 && !slow.received[before]?.hungUp; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(slow.received[before].hungUp).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    const slowest = await probe.stop();
    await settle();
    const lag = await eventLoopLagMaxMs(gw.url);
    console.log(
      `abandoned 10 MB /v1 stream: loop held ${lag.toFixed(0)} ms, slowest /healthz ${slowest.toFixed(0)} ms`,
    );
    expect(lag).toBeLessThan(LOOP_BOUND_MS);
    expect(slowest).toBeLessThan(2 * LOOP_BOUND_MS);
  }, 60_000);

  it('ends a streamed /c1 answer larger than UPSTREAM_MAX_BODY_BYTES with upstream_error, and keeps serving', async () => {
    upstream.options.answer = 'y'.repeat(3 * UPSTREAM_CAP);
    upstream.options.streamChunks = 30;
    try {
      const probe = probeHealthz(gw.url);
      const res = await postSse(
        `${gw.url}/c1/chat/completions`,
        { model: 'fake', stream: true, messages: [{ role: 'user', content: 'talk a lot' }] },
        { headers: { authorization: auth.authorization } },
      );
      const slowest = await probe.stop();
      expect(res.status).toBe(200);
      const last = JSON.parse(res.events.filter((e) => e.data).at(-1)!.data);
      expect(last.error).toMatchObject({ code: 'upstream_error', type: 'upstream_error' });
      expect(last.error.message).toContain('UPSTREAM_MAX_BODY_BYTES');
      expect(res.text).not.toContain('[DONE]');
      expect(slowest).toBeLessThan(2 * LOOP_BOUND_MS);
    } finally {
      upstream.options.answer = 'ok';
      upstream.options.streamChunks = 5;
    }
    const after = await fetch(`${gw.url}/healthz`);
    expect(after.status).toBe(200);
  }, 60_000);
});

describe('the built-in echo model tokenizes linearly too (#22 item 1)', () => {
  let dir: string;
  let gw: SpawnedGateway;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-echo-tokens-'));
    gw = await spawnGateway({ DATABASE_URL: `sqlite:${join(dir, 'parley.sqlite')}` });
  }, 60_000);

  afterAll(async () => {
    gw?.kill('SIGKILL');
    await gw?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a 1 MB single-run message without holding the event loop', async () => {
    await eventLoopLagMaxMs(gw.url);
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        model: 'echo',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }],
      }),
      signal: AbortSignal.timeout(30_000),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(16);
    await settle();
    const lag = await eventLoopLagMaxMs(gw.url);
    console.log(`echo, 1 MB single-run message: loop held ${lag.toFixed(0)} ms`);
    expect(lag).toBeLessThan(LOOP_BOUND_MS);
  }, 60_000);
});
