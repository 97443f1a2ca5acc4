import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { openRawClient, RawClient, statusCodes } from 'test/support/raw-client';
import { startGateway, TEST_ADMIN_TOKEN, TestGateway } from 'test/support/start-gateway';

/**
 * Issue #22 item 12: /readyz told anyone where every upstream is and how loaded; a client's
 * bad parameter, refused by the upstream, was logged as a gateway error with a stack; during
 * a shutdown, requests sent on kept-alive connections were cut instead of answered.
 */
describe('what operators see and clients get (#22 item 12)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({
      models: fakeModelCatalog(upstream.url),
      env: { METRICS_TOKEN: 'metrics-secret-0123456789', SHUTDOWN_GRACE_SECS: '4' },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('answers /readyz publicly by alias and status only; URLs and latencies with a token', async () => {
    const open = await gw.get('/readyz', { key: null });
    expect(open.status).toBe(200);
    expect(open.body.checks.upstreams).toEqual([{ alias: 'fake', status: 'up' }]);
    expect(open.text).not.toContain(String(upstream.port));
    for (const token of ['metrics-secret-0123456789', TEST_ADMIN_TOKEN]) {
      const full = await gw.get('/readyz', {
        key: null,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(full.body.checks.upstreams).toEqual([
        { alias: 'fake', url: upstream.url, status: 'up', latency_ms: expect.any(Number) },
      ]);
    }
    const wrong = await gw.get('/readyz', { key: null, headers: { authorization: 'Bearer nope' } });
    expect(wrong.body.checks.upstreams).toEqual([{ alias: 'fake', status: 'up' }]);
  });

  it('logs an upstream 400 caused by the client as a warning, without a stack', async () => {
    upstream.next({ kind: 'error', status: 400 });
    const res = await gw.post(
      '/v1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-request-id': 'client-caused-400' } },
    );
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_error');
    await new Promise((r) => setTimeout(r, 100));
    const lines = gw.logs.filter((l) => JSON.stringify(l).includes('client-caused-400'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => Number(l.level) >= 50)).toEqual([]);
    expect(gw.logText()).not.toMatch(/client-caused-400[^\n]*\\n\s+at /);
  });

  it('answers requests on kept-alive connections during a shutdown with 503 and connection: close', async () => {
    const port = Number(new URL(gw.url).port);
    const clients: RawClient[] = [];
    for (let i = 0; i < 26; i++) {
      const client = await openRawClient(port);
      await client.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
      await client.waitFor(/\r\n\r\n\{"status":"ok"\}/);
      clients.push(client);
    }
    // A stream that hangs keeps the drain going.
    upstream.next({ kind: 'hang' });
    const stream = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer pk-test-0123456789abcdef0123456789',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: 'fake',
        stream: true,
        messages: [{ role: 'user', content: 'x' }],
      }),
    }).catch(() => null);
    await new Promise((r) => setTimeout(r, 200));
    const closing = gw.app.close();
    await new Promise((r) => setTimeout(r, 300));
    for (const client of clients) {
      await client.write(
        'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}',
      );
    }
    for (const client of clients) {
      await client.waitFor(/HTTP\/1\.1 503[\s\S]*\r\n\r\n\{"error"/, 3_000);
      expect(statusCodes(client.received())).toEqual([200, 503]);
      expect(client.received()).toMatch(/\r\nconnection: close\r\n/i);
      client.destroy();
    }
    await closing;
    await stream;
  }, 20_000);
});
