import { request as httpRequest } from 'node:http';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { dataEvents, postSse } from 'test/support/sse-reader';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';
import { sleep } from 'test/support/time';

describe('/v1 streaming back-pressure', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  const ANSWER = 'x'.repeat(40 * 1024 * 1024);

  beforeAll(async () => {
    up = await startFakeUpstream({ answer: ANSWER, streamChunks: 2560 });
    gw = await startGateway({
      env: { HTTP_IDLE_TIMEOUT_SECS: '30' },
      models: {
        models: [
          {
            alias: 'big',
            upstreams: [{ url: up.url, format: 'openai', model: 'm' }],
            constraints: { max_output_tokens: 100, context_window: 1000 },
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
  });

  it('holds the upstream while the client stops reading, then delivers the whole stream', async () => {
    const before = up.received.length;
    const payload = JSON.stringify({
      model: 'big',
      stream: true,
      messages: [{ role: 'user', content: 'a lot please' }],
    });
    let sentWhilePaused = 0;
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let isPaused = false;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (!isPaused) {
            isPaused = true;
            res.pause();
            void sleep(1500).then(() => {
              sentWhilePaused = up.received[before].sentBytes;
              res.resume();
            });
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      });
      req.end(payload);
    });
    // 40 MiB of events: while the client read nothing, only socket and stream buffers filled
    // (about 9 MiB on Linux loopback), not the gateway's memory.
    expect(sentWhilePaused).toBeGreaterThan(0);
    expect(sentWhilePaused).toBeLessThan(20 * 1024 * 1024);
    const content = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)).choices?.[0]?.delta?.content ?? '')
      .join('');
    expect(content.length).toBe(ANSWER.length);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(up.received[before].hungUp).toBe(false);
  });
});

describe('/v1 streams at shutdown', () => {
  it('ends a stream still running when the grace period is over with server_overloaded', async () => {
    const up = await startFakeUpstream({ chunkDelayMs: 300, streamChunks: 40 });
    const gw = await startGateway({
      env: { SHUTDOWN_GRACE_SECS: '1' },
      models: {
        models: [
          {
            alias: 'slow',
            upstreams: [{ url: up.url, format: 'openai', model: 'm' }],
            constraints: { max_output_tokens: 100, context_window: 1000 },
          },
        ],
      },
    });
    const shutdown: { closing?: Promise<void> } = {};
    const res = await postSse(
      `${gw.url}/v1/chat/completions`,
      {
        model: 'slow',
        stream: true,
        messages: [{ role: 'user', content: 'a long answer '.repeat(20) }],
      },
      {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
        onEvent: () => {
          shutdown.closing ??= gw.close();
        },
      },
    );
    await shutdown.closing;
    const events = dataEvents(res);
    expect(events.length).toBeGreaterThan(1);
    expect(events.at(-1)).toEqual({
      error: expect.objectContaining({ code: 'server_overloaded', type: 'upstream_error' }),
    });
    expect(up.received[0].hungUp).toBe(true);
    await up.close();
  });
});
