import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { INestApplicationContext } from '@nestjs/common';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from 'src/common/errors/api-error';
import { ClockModule } from 'src/common/time/clock.module';
import { ConfigModule } from 'src/config/config.module';
import { loadConfig } from 'src/config/load-config';
import { MetricsModule } from 'src/modules/metrics/metrics.module';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { Cancellation } from 'src/modules/proxy/upstream/cancellation';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { UpstreamModule } from 'src/modules/proxy/upstream/upstream.module';
import { capturedLogger } from 'test/support/captured-log';
import { writeModelsFile } from 'test/support/fake-catalog';
import { closedPortUrl, FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { waitFor } from 'test/support/time';

const CHAT = { model: 'ignored', messages: [{ role: 'user', content: 'hello there' }] };

/**
 * The upstream client on its own (no HTTP server of Parley's): real undici pools against the
 * fake vLLM on 127.0.0.1, the catalog from a models file, everything else Nest wires.
 */
describe(UpstreamClient.name, () => {
  let upstream: FakeUpstream;
  let app: INestApplicationContext;
  let client: UpstreamClient;
  let catalog: ModelCatalog;
  const { logger: log, lines } = capturedLogger();

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    const dead = await closedPortUrl();
    const dir = mkdtempSync(join(tmpdir(), 'parley-upstream-client-'));
    const constraints = { max_output_tokens: 100, context_window: 10_000 };
    const modelsFile = writeModelsFile(dir, {
      models: [
        {
          alias: 'fake',
          upstreams: [
            { url: upstream.url, format: 'openai', model: 'fake-model', api_key_env: 'FAKE_KEY' },
          ],
          constraints,
        },
        {
          // The first upstream refuses connections: the client retries on the second.
          alias: 'pair',
          upstreams: [
            { url: dead, format: 'openai', model: 'fake-model' },
            { url: upstream.url, format: 'openai', model: 'fake-model' },
          ],
          constraints,
        },
      ],
    });
    const config = loadConfig({
      DATABASE_URL: 'sqlite::memory:',
      MODELS_FILE: modelsFile,
      FAKE_KEY: 'sk-upstream-secret',
      FLEET_SCRAPE_SECS: '0',
    });
    @Module({
      imports: [ConfigModule.forRoot(config), ClockModule, MetricsModule, UpstreamModule],
    })
    class UpstreamOnlyModule {}
    app = await NestFactory.createApplicationContext(UpstreamOnlyModule, { logger: false });
    client = app.get(UpstreamClient);
    catalog = app.get(ModelCatalog);
  });

  afterAll(async () => {
    await app?.close();
    await upstream?.close();
  });

  beforeEach(() => {
    upstream.received.length = 0;
    lines.length = 0;
  });

  const model = (alias: string) => catalog.get(alias)!;
  /** The logger of a request the calls serve (what Fastify gives a request). */
  const requestLog = (reqId: string) => log.child({ reqId });
  const chatBody = () => JSON.stringify({ ...CHAT, model: 'fake-model' });

  it("forwards the body with the catalog's key and the request id, and reads the answer", async () => {
    const call = await client.send(model('fake'), {
      operation: 'chat',
      body: () => chatBody(),
      requestId: 'req-upstream-1',
      log: requestLog('req-upstream-1'),
    });
    expect(call.status).toBe(200);
    expect(call.attempts).toBe(1);
    const answer = JSON.parse((await client.readBody(call)).toString('utf8'));
    expect(answer.choices[0].message.content).toContain('hello there');
    const [received] = upstream.received;
    expect(received.url).toBe('/v1/chat/completions');
    expect(received.headers.authorization).toBe('Bearer sk-upstream-secret');
    expect(received.headers['x-request-id']).toBe('req-upstream-1');
    expect(received.body).toEqual({ ...CHAT, model: 'fake-model' });
  });

  it('retries a refused connection once, on the next upstream, and logs the failed attempt', async () => {
    const reqLog = requestLog('req-retry');
    const call = await client.send(model('pair'), {
      operation: 'chat',
      body: () => chatBody(),
      log: reqLog,
    });
    expect(call.attempts).toBe(2);
    expect(call.upstream.url).toBe(upstream.url);
    await client.readBody(call);
    expect(upstream.received).toHaveLength(1);
    // The request's own line, written when it ends, names the upstream that answered.
    reqLog.info('request');
    expect(lines).toEqual([
      expect.objectContaining({
        reqId: 'req-retry',
        msg: 'upstream failure',
        model: 'pair',
        attempt: 1,
        will_retry: true,
      }),
      expect.objectContaining({
        reqId: 'req-retry',
        msg: 'request',
        upstream: upstream.url,
        pick: 'no_figures',
      }),
    ]);
  });

  it('maps an upstream 5xx to upstream_error with its message, without retrying', async () => {
    upstream.next({ kind: 'error', status: 500, body: { error: { message: 'engine died' } } });
    const error = await client
      .send(model('fake'), {
        operation: 'chat',
        body: () => chatBody(),
        log: requestLog('req-500'),
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('upstream_error');
    expect((error as ApiError).message).toContain('engine died');
    expect(upstream.received).toHaveLength(1);
    expect(lines).toEqual([
      expect.objectContaining({ reqId: 'req-500', upstream_status: 500, will_retry: false }),
    ]);
  });

  it('does not call the upstream for a request already cancelled, and aborts one in flight', async () => {
    const cancelled = new Cancellation();
    cancelled.abort(new Error('client gone'));
    await expect(
      client.send(model('fake'), {
        operation: 'chat',
        body: () => chatBody(),
        signal: cancelled,
        log: requestLog('req-cancelled'),
      }),
    ).rejects.toBeInstanceOf(ApiError);
    expect(upstream.received).toHaveLength(0);

    upstream.next({ kind: 'hang' });
    const hangUp = new Cancellation();
    const pending = client.send(model('fake'), {
      operation: 'chat',
      body: () => chatBody(),
      signal: hangUp,
      log: requestLog('req-hang-up'),
    });
    await waitFor(() => upstream.received[0], { what: 'the request to reach the upstream' });
    hangUp.abort(new Error('client gone'));
    await expect(pending).rejects.toBeInstanceOf(ApiError);
    // The upstream sees the connection close (the generation it started is not left running).
    await waitFor(() => upstream.received[0].hungUp || null, { what: 'the upstream hang-up' });
  });

  it('refuses an alias it does not serve (model_not_in_allowlist on `model`)', async () => {
    const unknown = { ...model('fake'), alias: 'nowhere' };
    const error = await client
      .send(unknown, { operation: 'chat', log: requestLog('req-unknown') })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'model_not_in_allowlist', param: 'model' });
  });
});
