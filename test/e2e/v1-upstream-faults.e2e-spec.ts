import { request as httpRequest } from 'node:http';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { expectApiError } from 'test/support/expect-api-error';
import {
  closedPortUrl,
  FakeUpstream,
  ReceivedRequest,
  startFakeUpstream,
} from 'test/support/fake-upstream';
import { dataEvents, postSse, ReadEvent, SseResponse } from 'test/support/sse-reader';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';
import { sleep } from 'test/support/time';

const constraints = { max_output_tokens: 1024, context_window: 8192 };
const ask = (model: string, extra: object = {}) => ({
  model,
  messages: [{ role: 'user', content: 'tell me something long' }],
  ...extra,
});

/** Waits (up to `withinMs`) for the upstream to notice that the gateway hung up. */
async function hangUpOf(record: ReceivedRequest, withinMs = 1500): Promise<number> {
  const deadline = Date.now() + withinMs;
  while (!record.hungUp && Date.now() < deadline) {
    await sleep(10);
  }
  expect(record.hungUp).toBe(true);
  return record.hungUpAt!;
}

describe('/v1 upstream faults', () => {
  let main: FakeUpstream;
  let second: FakeUpstream;
  let resetA: FakeUpstream;
  let resetB: FakeUpstream;
  let third: FakeUpstream;
  let gw: TestGateway;
  const sse = (body: object, onEvent?: (event: ReadEvent) => 'stop' | void) =>
    postSse(`${gw.url}/v1/chat/completions`, body, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
      onEvent,
    });
  const attempts = async (model: string): Promise<number> => {
    const metric = await gw.app.get(MetricsService).upstreamAttempts.get();
    return metric.values.find((v) => v.labels.model === model)?.value ?? 0;
  };

  beforeAll(async () => {
    [main, second, resetA, resetB, third] = await Promise.all([
      startFakeUpstream(),
      startFakeUpstream(),
      startFakeUpstream(),
      startFakeUpstream(),
      startFakeUpstream(),
    ]);
    resetA.always({ kind: 'reset' });
    resetB.always({ kind: 'reset' });
    const refused = await closedPortUrl();
    const entry = (alias: string, ...urls: string[]) => ({
      alias,
      upstreams: urls.map((url) => ({ url, format: 'openai', model: 'fake-model' })),
      constraints,
    });
    gw = await startGateway({
      env: {
        HTTP_CONNECT_TIMEOUT_MS: '1000',
        HTTP_FIRST_BYTE_TIMEOUT_SECS: '1',
        HTTP_IDLE_TIMEOUT_SECS: '0.5',
        HTTP_TOTAL_TIMEOUT_SECS: '2',
        SSE_KEEPALIVE_SECS: '0.1',
        UPSTREAM_MAX_BODY_BYTES: '4096',
      },
      models: {
        models: [
          entry('main', main.url),
          entry('refused', refused),
          entry('reset', resetA.url),
          entry('refused-then-ok', refused, second.url),
          entry('reset-pair', resetA.url, resetB.url),
          entry('balanced', second.url, third.url),
        ],
      },
    });
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all([main, second, resetA, resetB, third].map((u) => u.close()));
  });
  afterEach(() => {
    main.options.firstByteDelayMs = 0;
    main.options.chunkDelayMs = 0;
  });

  describe('connect failures: retried exactly once', () => {
    it('refused → 503 upstream_unavailable with retry-after after 2 attempts', async () => {
      const before = await attempts('refused');
      const res = await gw.post('/v1/chat/completions', ask('refused'));
      expectApiError(res, 503, 'upstream_unavailable', { param: null });
      expect(res.headers.get('retry-after')).toBe('5');
      expect((await attempts('refused')) - before).toBe(2);
      const reqId = res.headers.get('x-request-id');
      const lines = gw.logs.filter((l) => l.msg === 'upstream failure' && l.reqId === reqId);
      expect(lines).toEqual([
        expect.objectContaining({
          model: 'refused',
          code: 'upstream_unavailable',
          attempt: 1,
          will_retry: true,
          phase: 'connect',
          error_code: 'ECONNREFUSED',
        }),
        expect.objectContaining({
          model: 'refused',
          code: 'upstream_unavailable',
          attempt: 2,
          will_retry: false,
          phase: 'connect',
        }),
      ]);
      expect(String(lines[0].upstream)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    });

    it('reset before any response → 503 after exactly 2 requests reached the upstream', async () => {
      const before = resetA.received.length;
      const res = await gw.post('/v1/chat/completions', ask('reset'));
      expectApiError(res, 503, 'upstream_unavailable', { param: null });
      expect(resetA.received.length - before).toBe(2);
    });

    it('with two upstreams, a refused one moves the request to the other', async () => {
      const before = { attempts: await attempts('refused-then-ok'), seen: second.received.length };
      for (let i = 0; i < 4; i++) {
        const res = await gw.post('/v1/chat/completions', ask('refused-then-ok'));
        expect(res.status).toBe(200);
      }
      expect(second.received.length - before.seen).toBe(4);
      // Only the first request tried the refused upstream; the balancer then skips it.
      expect((await attempts('refused-then-ok')) - before.attempts).toBe(5);
    });

    it('with two upstreams both resetting → 503 after one attempt on each', async () => {
      const before = [resetA.received.length, resetB.received.length];
      const res = await gw.post('/v1/chat/completions', ask('reset-pair'));
      expectApiError(res, 503, 'upstream_unavailable', { param: null });
      expect([resetA.received.length - before[0], resetB.received.length - before[1]]).toEqual([
        1, 1,
      ]);
    });
  });

  it('balances an alias between its upstreams', async () => {
    const before = [second.received.length, third.received.length];
    for (let i = 0; i < 10; i++) {
      expect((await gw.post('/v1/chat/completions', ask('balanced'))).status).toBe(200);
    }
    expect([second.received.length - before[0], third.received.length - before[1]]).toEqual([5, 5]);
  });

  describe('answers and timeouts: never retried', () => {
    it('hang before the first byte → 504 upstream_timeout; the upstream sees the hang-up', async () => {
      main.next({ kind: 'hang' });
      const before = main.received.length;
      const res = await gw.post('/v1/chat/completions', ask('main'));
      // The message names the timeout that fired (not the total one), so no clock is needed.
      expectApiError(res, 504, 'upstream_timeout', {
        param: null,
        message: /HTTP_FIRST_BYTE_TIMEOUT_SECS/,
      });
      expect(main.received.length - before).toBe(1);
      await hangUpOf(main.received[before]);
    });

    it('5xx → 502 upstream_error with the message inline, one attempt', async () => {
      main.next({ kind: 'error', status: 503 });
      const before = main.received.length;
      const res = await gw.post('/v1/chat/completions', ask('main'));
      expectApiError(res, 502, 'upstream_error', {
        param: null,
        message: 'The model server answered 503: fake upstream failure 503',
      });
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(main.received.length - before).toBe(1);
    });

    it('a 200 that is not JSON → 502 upstream_error', async () => {
      main.next({ kind: 'raw', contentType: 'text/html', body: '<html>proxy page</html>' });
      const res = await gw.post('/v1/chat/completions', ask('main'));
      expectApiError(res, 502, 'upstream_error', { param: null, message: /invalid JSON/ });
    });

    it('an answer over UPSTREAM_MAX_BODY_BYTES → 502 upstream_error', async () => {
      main.next({
        kind: 'raw',
        contentType: 'application/json',
        body: JSON.stringify({ pad: 'x'.repeat(10_000) }),
      });
      const res = await gw.post('/v1/chat/completions', ask('main'));
      expectApiError(res, 502, 'upstream_error', {
        param: null,
        message: /UPSTREAM_MAX_BODY_BYTES/,
      });
    });
  });

  describe('streams', () => {
    const lastError = (res: SseResponse) => dataEvents(res).at(-1) as Record<string, any>;

    it('a slow first byte gets `: keep-alive` comments, then the whole stream', async () => {
      main.options.firstByteDelayMs = 600;
      const res = await sse(ask('main', { stream: true }));
      expect(res.status).toBe(200);
      const comments = res.events.filter((e) => e.comment === 'keep-alive');
      const firstData = res.events.find((e) => e.comment === undefined)!;
      expect(comments.length).toBeGreaterThanOrEqual(3);
      expect(comments.every((c) => c.at <= firstData.at)).toBe(true);
      expect(dataEvents(res).at(-1)).toBe('[DONE]');
    });

    it('a hang before the first byte → keep-alives, then one upstream_timeout event', async () => {
      main.next({ kind: 'hang' });
      const before = main.received.length;
      const res = await sse(ask('main', { stream: true }));
      expect(res.status).toBe(200);
      expect(res.events.some((e) => e.comment === 'keep-alive')).toBe(true);
      expect(dataEvents(res)).toEqual([
        { error: expect.objectContaining({ code: 'upstream_timeout', type: 'upstream_error' }) },
      ]);
      await hangUpOf(main.received[before]);
    });

    it('a stream cut mid-way ends with one upstream_error event, no [DONE]', async () => {
      main.next({ kind: 'cut', chunks: 3 });
      const res = await sse(ask('main', { stream: true }));
      const events = dataEvents(res);
      expect(events.length).toBe(4);
      expect(events).not.toContain('[DONE]');
      expect(lastError(res)).toEqual({
        error: {
          type: 'upstream_error',
          code: 'upstream_error',
          message:
            'The model server for "main" closed the connection before the answer was complete',
          param: null,
        },
      });
    });

    it('a stream that stalls → upstream_timeout after the idle timeout; the upstream sees the hang-up', async () => {
      main.next({ kind: 'stall', chunks: 2 });
      const before = main.received.length;
      const res = await sse(ask('main', { stream: true }));
      expect(dataEvents(res).length).toBe(3);
      expect(lastError(res).error).toMatchObject({
        code: 'upstream_timeout',
        message: expect.stringMatching(/HTTP_IDLE_TIMEOUT_SECS/),
      });
      await hangUpOf(main.received[before]);
    });

    it('a stream longer than the total timeout → upstream_timeout', async () => {
      main.options.chunkDelayMs = 300;
      const res = await sse(ask('main', { stream: true }));
      expect(lastError(res).error).toMatchObject({
        code: 'upstream_timeout',
        message: expect.stringMatching(/HTTP_TOTAL_TIMEOUT_SECS/),
      });
    });

    it("an upstream's own error event becomes the catalog envelope and ends the stream", async () => {
      main.next({
        kind: 'raw',
        contentType: 'text/event-stream',
        body:
          'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n' +
          'data: {"error":{"message":"CUDA out of memory","type":"InternalServerError"}}\n\n' +
          'data: [DONE]\n\n',
      });
      const res = await sse(ask('main', { stream: true }));
      expect(dataEvents(res)).toEqual([
        { id: 'c', choices: [{ index: 0, delta: { content: 'Hi' } }] },
        {
          error: {
            type: 'upstream_error',
            code: 'upstream_error',
            message: 'The model server reported: CUDA out of memory',
            param: null,
          },
        },
      ]);
    });

    it('a stream that ends without [DONE] gets a final upstream_error event', async () => {
      main.next({
        kind: 'raw',
        contentType: 'text/event-stream',
        body: 'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
      });
      const res = await sse(ask('main', { stream: true }));
      expect(lastError(res).error).toMatchObject({
        code: 'upstream_error',
        message: 'The model server for "main" ended the stream before it was complete',
      });
    });

    it('an upstream 5xx on a stream is still a proper 502 before any byte was sent', async () => {
      main.next({ kind: 'error', status: 500 });
      const res = await gw.post('/v1/chat/completions', ask('main', { stream: true }));
      expectApiError(res, 502, 'upstream_error', {
        param: null,
        message: /fake upstream failure 500/,
      });
    });
  });

  describe('client hang-ups abort the upstream within a second', () => {
    it('JSON, while waiting for the answer', async () => {
      main.next({ kind: 'hang' });
      const before = main.received.length;
      const payload = JSON.stringify(ask('main'));
      const req = httpRequest(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
      });
      req.on('error', () => undefined);
      req.end(payload);
      while (main.received.length === before) {
        await sleep(5);
      }
      const abortedAt = Date.now();
      req.destroy();
      const hungUpAt = await hangUpOf(main.received[before]);
      expect(hungUpAt - abortedAt).toBeLessThan(500);
    });

    it('stream, while waiting for the first byte', async () => {
      main.next({ kind: 'hang' });
      const before = main.received.length;
      let stoppedAt = 0;
      await sse(ask('main', { stream: true }), (event) => {
        if (event.comment === 'keep-alive') {
          stoppedAt = Date.now();
          return 'stop';
        }
      });
      const hungUpAt = await hangUpOf(main.received[before]);
      expect(hungUpAt - stoppedAt).toBeLessThan(500);
    });

    it('stream, mid-answer', async () => {
      main.options.chunkDelayMs = 200;
      const before = main.received.length;
      let stoppedAt = 0;
      const res = await sse(ask('main', { stream: true }), (event) => {
        if (event.comment === undefined) {
          stoppedAt = Date.now();
          return 'stop';
        }
      });
      expect(res.events.length).toBe(1);
      const hungUpAt = await hangUpOf(main.received[before]);
      expect(hungUpAt - stoppedAt).toBeLessThan(500);
    });
  });
});
