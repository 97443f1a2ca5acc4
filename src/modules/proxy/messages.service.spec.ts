import { Global, INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Fastify, { FastifyInstance } from 'fastify';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ApiError } from 'src/common/errors/api-error';
import { ClockModule } from 'src/common/time/clock.module';
import { AuthContext } from 'src/common/types/auth-context';
import { TokenUsage, USAGE_SINK, UsageSink } from 'src/common/types/usage-sink';
import { ConfigModule } from 'src/config/config.module';
import { loadConfig } from 'src/config/load-config';
import { LifecycleModule } from 'src/modules/lifecycle/lifecycle.module';
import { MetricsModule } from 'src/modules/metrics/metrics.module';
import { MessagesService } from 'src/modules/proxy/messages.service';
import { ProxyModule } from 'src/modules/proxy/proxy.module';
import { quietRequestLog } from 'test/support/captured-log';
import { writeModelsFile } from 'test/support/fake-catalog';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { parseSseFrames } from 'test/support/sse-frames';

/** The usage the service reports, as the usage module would receive it. */
class RecordingUsageSink implements UsageSink {
  readonly records: { keyId: string; alias: string; usage: TokenUsage }[] = [];
  record(auth: AuthContext, alias: string, usage: TokenUsage): void {
    this.records.push({ keyId: auth.keyId, alias, usage });
  }
}

const auth = (allowedModels: string[] | null = null): AuthContext => ({
  keyId: 'key-1',
  keyHash: 'hash-1',
  userId: 'alice',
  role: 'user',
  allowedModels,
  rateLimit: null,
  tokenQuota: null,
});

const request = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  max_tokens: 50,
  messages: [{ role: 'user', content: 'ping from the messages test' }],
  ...extra,
});

/**
 * `MessagesService` (POST /v1/messages without its controller): the Anthropic body checked in
 * Anthropic terms, answered by an `openai` upstream (translated) or an `anthropic` one (passed
 * through), usage reported once. Real fakes of both servers on 127.0.0.1.
 */
describe(MessagesService.name, () => {
  let openai: FakeUpstream;
  let anthropic: FakeAnthropicUpstream;
  let app: INestApplicationContext;
  let service: MessagesService;
  const sink = new RecordingUsageSink();

  beforeAll(async () => {
    openai = await startFakeUpstream();
    anthropic = await startFakeAnthropicUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'parley-messages-'));
    const constraints = { max_output_tokens: 100, context_window: 10_000 };
    const config = loadConfig({
      DATABASE_URL: 'sqlite::memory:',
      FLEET_SCRAPE_SECS: '0',
      MODELS_FILE: writeModelsFile(dir, {
        models: [
          {
            alias: 'vllm',
            upstreams: [{ url: openai.url, format: 'openai', model: 'fake-model' }],
            constraints,
          },
          {
            alias: 'claude',
            upstreams: [{ url: anthropic.url, format: 'anthropic', model: 'claude-fake' }],
            constraints,
          },
        ],
      }),
    });
    @Global()
    @Module({ providers: [{ provide: USAGE_SINK, useValue: sink }], exports: [USAGE_SINK] })
    class RecordingUsageModule {}
    @Module({
      imports: [
        ConfigModule.forRoot(config),
        ClockModule,
        MetricsModule,
        LifecycleModule,
        RecordingUsageModule,
        ProxyModule,
      ],
    })
    class MessagesOnlyModule {}
    app = await NestFactory.createApplicationContext(MessagesOnlyModule, { logger: false });
    service = app.get(MessagesService);
  });

  afterAll(async () => {
    await app?.close();
    await openai?.close();
    await anthropic?.close();
  });

  beforeEach(() => {
    sink.records.length = 0;
    openai.received.length = 0;
    anthropic.received.length = 0;
  });

  const errorOf = (fn: () => unknown): ApiError => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      return error as ApiError;
    }
    throw new Error('expected an ApiError');
  };

  it('answers through an openai upstream in Messages form, and reports usage once', async () => {
    const prepared = service.prepare(auth(), request('vllm'));
    expect(prepared.isStream).toBe(false);
    const answer = await service.complete(prepared, { log: quietRequestLog });
    expect(answer.message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'vllm',
      stop_reason: 'end_turn',
    });
    const [first] = answer.message.content as { type: string; text: string }[];
    expect(first.type).toBe('text');
    expect(first.text).toContain('ping from the messages test');
    expect(JSON.parse(answer.bytes.toString('utf8'))).toEqual(answer.message);
    // The upstream got Chat Completions with its own model name.
    expect(openai.received[0].url).toBe('/v1/chat/completions');
    expect(openai.received[0].body).toMatchObject({ model: 'fake-model', max_tokens: 50 });
    expect(sink.records).toEqual([{ keyId: 'key-1', alias: 'vllm', usage: answer.usage }]);
    expect(answer.usage!.completionTokens).toBeGreaterThan(0);
  });

  it("passes an anthropic upstream's answer through, with the client's fields kept", async () => {
    const prepared = service.prepare(
      auth(),
      request('claude', { metadata: { user_id: 'u-1' }, stop_sequences: ['STOP'] }),
    );
    const answer = await service.complete(prepared, { log: quietRequestLog });
    expect(anthropic.received[0].url).toBe('/v1/messages');
    expect(anthropic.received[0].body).toMatchObject({
      model: 'claude-fake',
      metadata: { user_id: 'u-1' },
      stop_sequences: ['STOP'],
    });
    expect(answer.message).toMatchObject({ type: 'message', role: 'assistant' });
    expect(sink.records).toHaveLength(1);
  });

  it('points every check at the path in the Anthropic body', () => {
    const noMessages = errorOf(() => service.prepare(auth(), { model: 'vllm', max_tokens: 5 }));
    expect([noMessages.code, noMessages.param]).toEqual(['missing_field', 'messages']);
    const notAllowed = errorOf(() => service.prepare(auth(['claude']), request('vllm')));
    expect(notAllowed.param).toBe('model');
    const unknown = errorOf(() => service.prepare(auth(), request('nope')));
    expect(unknown.param).toBe('model');
    expect(openai.received).toHaveLength(0);
  });

  it('answers upstream_error for invalid JSON from the upstream, and reports no usage', async () => {
    openai.next({ kind: 'raw', contentType: 'application/json', body: 'not json' });
    const prepared = service.prepare(auth(), request('vllm'));
    const error = await service
      .complete(prepared, { log: quietRequestLog })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('upstream_error');
    expect(sink.records).toEqual([]);
  });

  describe('streams', () => {
    let server: FastifyInstance;
    let url: string;

    beforeAll(async () => {
      server = Fastify();
      server.post('/', async (req, reply) => {
        const prepared = service.prepare(auth(), req.body);
        await service.stream(reply, prepared, { onClientGone: 'abort', log: req.log });
      });
      await server.listen({ host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/`;
    });
    afterAll(() => server.close());

    async function streamed(body: object) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      return parseSseFrames(await res.text());
    }

    it('translates an openai upstream stream into the Messages event sequence', async () => {
      const frames = await streamed(request('vllm', { stream: true }));
      const types = frames.map((f) => f.event);
      expect(types[0]).toBe('message_start');
      expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
      // Every frame is named after the type of its data, as Anthropic's SDKs expect.
      for (const frame of frames) {
        expect((JSON.parse(frame.data) as { type: string }).type).toBe(frame.event);
      }
      const text = frames
        .filter((f) => f.event === 'content_block_delta')
        .map((f) => (JSON.parse(f.data) as { delta: { text: string } }).delta.text)
        .join('');
      expect(text).toBe('You said: ping from the messages test');
      expect(openai.received[0].body).toMatchObject({ model: 'fake-model', stream: true });
      expect(sink.records).toHaveLength(1);
      expect(sink.records[0].usage.completionTokens).toBeGreaterThan(0);
    });

    it("passes an anthropic upstream's events through and reports their usage once", async () => {
      const frames = await streamed(request('claude', { stream: true }));
      expect(frames.map((f) => f.event)).toEqual([
        'message_start',
        'ping',
        'content_block_start',
        ...Array<string>(4).fill('content_block_delta'),
        'content_block_stop',
        'message_delta',
        'message_stop',
      ]);
      expect(anthropic.received[0].body).toMatchObject({ model: 'claude-fake', stream: true });
      expect(sink.records).toHaveLength(1);
    });

    it('ends a stream cut by the upstream with an Anthropic error event', async () => {
      openai.next({ kind: 'cut', chunks: 2 });
      const frames = await streamed(request('vllm', { stream: true }));
      const last = frames.at(-1)!;
      expect(last.event).toBe('error');
      expect(JSON.parse(last.data)).toMatchObject({
        type: 'error',
        error: { type: expect.any(String), message: expect.any(String) },
      });
      expect(frames.map((f) => f.event)).not.toContain('message_stop');
    });
  });
});
