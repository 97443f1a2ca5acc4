import { postAndRead } from 'test/support/raw-client';
import type { AddressInfo } from 'node:net';
import Fastify, { FastifyInstance } from 'fastify';
import { AuthContext } from 'src/common/types/auth-context';
import { UsageSink } from 'src/common/types/usage-sink';
import { loadConfig } from 'src/config/load-config';
import { UpstreamLoadBook } from 'src/modules/fleet/load/upstream-load.book';
import { UpstreamPicker } from 'src/modules/fleet/routing/upstream-picker';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { builtinCatalog } from 'src/modules/models/catalog.loader';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { UpstreamHealthBook } from 'src/modules/models/upstream-health';
import {
  ChatCompletionsService,
  StreamChatOptions,
  StreamedChat,
} from 'src/modules/proxy/chat-completions.service';
import { StreamRunner } from 'src/modules/proxy/stream/stream-runner';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { UsageReporter } from 'src/modules/proxy/usage-reporter';
import { WireFormats } from 'src/modules/proxy/wire/wire-formats';
import { assembleCompletion } from 'src/modules/proxy/wire/openai/stream-accumulator';
import { quietRequestLog } from 'test/support/captured-log';

const auth: AuthContext = {
  keyId: 'k1',
  keyHash: 'h',
  userId: 'alice',
  role: 'user',
  allowedModels: null,
  rateLimit: null,
  tokenQuota: null,
};

/** The service over the in-process echo model: no network upstream, real upstream client. */
function build() {
  const config = loadConfig({});
  const catalog = new ModelCatalog(builtinCatalog());
  const metrics = new MetricsService();
  const health = new UpstreamHealthBook();
  const picker = new UpstreamPicker(config, new UpstreamLoadBook(config), health, metrics);
  const client = new UpstreamClient(config, catalog, health, metrics, picker, new WireFormats());
  const lifecycle = { track: () => ({ done: () => undefined }) } as unknown as LifecycleService;
  const record = jest.fn<void, Parameters<UsageSink['record']>>();
  const usage = new UsageReporter(client, { record });
  const runner = new StreamRunner(config, client, usage, metrics, lifecycle);
  const service = new ChatCompletionsService(catalog, client, metrics, runner, usage);
  return { service, record };
}

const ask = (text: string, extra: object = {}) => ({
  model: 'echo',
  messages: [{ role: 'user', content: text }],
  ...extra,
});

describe(ChatCompletionsService.name, () => {
  const { service, record } = build();
  let app: FastifyInstance;
  let url: string;
  let streamed: Promise<StreamedChat> | null = null;
  let streamOptions: Omit<StreamChatOptions, 'log'> = { onClientGone: 'abort' };

  beforeAll(async () => {
    app = Fastify();
    app.post('/', (request, reply) => {
      const prepared = service.prepare(auth, request.body);
      streamed = service.stream(reply, prepared, { ...streamOptions, log: request.log });
      return streamed.then(() => undefined);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
  });
  afterAll(() => app.close());
  beforeEach(() => record.mockClear());

  const post = async (body: object, hangUpAfterBytes?: number): Promise<string> =>
    (await postAndRead(url, body, hangUpAfterBytes)).text;

  describe('prepare', () => {
    it('keeps unknown fields, asks for usage on streams, and remembers whether the client did', () => {
      const prepared = service.prepare(auth, ask('x', { stream: true, top_k: 3 }));
      expect(prepared.body).toEqual({
        ...ask('x'),
        stream: true,
        top_k: 3,
        stream_options: { include_usage: true },
      });
      expect(prepared.clientWantsUsage).toBe(false);
      expect(
        service.prepare(auth, ask('x', { stream: true, stream_options: { include_usage: true } }))
          .clientWantsUsage,
      ).toBe(true);
    });

    it('uses the default model when the body has none (/c1 after the first turn)', () => {
      const prepared = service.prepare(
        auth,
        { messages: [{ role: 'user', content: 'x' }] },
        {
          defaultModel: 'echo',
        },
      );
      expect(prepared.model.alias).toBe('echo');
      expect(prepared.body.model).toBe('echo');
    });

    it('joins applied notes for x-parley-applied', () => {
      const prepared = service.prepare(auth, ask('x', { max_tokens: 100_000 }));
      expect(service.appliedHeader(prepared)).toBe('max_tokens_capped=4096');
      expect(service.appliedHeader(prepared, ['history_truncated=3'])).toBe(
        'max_tokens_capped=4096, history_truncated=3',
      );
      expect(service.appliedHeader(service.prepare(auth, ask('x')))).toBeNull();
    });
  });

  it('reports the usage of a JSON answer to the usage sink', async () => {
    const result = await service.complete(service.prepare(auth, ask('one two three')), {
      log: quietRequestLog,
    });
    expect(result.json.usage).toMatchObject({ completion_tokens: 3 });
    expect(record).toHaveBeenCalledTimes(1);
    expect(record).toHaveBeenCalledWith(auth, 'echo', {
      promptTokens: (result.json.usage as { prompt_tokens: number }).prompt_tokens,
      completionTokens: 3,
    });
  });

  it('assembles a streamed answer exactly as the JSON answer reads (what /c1 stores)', async () => {
    const json = await service.complete(service.prepare(auth, ask('Hello, streaming world!')), {
      log: quietRequestLog,
    });
    let seenBeforeEnd: StreamedChat | null = null;
    streamOptions = {
      onClientGone: 'detach',
      collect: true,
      beforeEnd: (result) => {
        seenBeforeEnd = result;
      },
    };
    const text = await post(ask('Hello, streaming world!', { stream: true }));
    const result = await streamed!;
    expect(result.outcome).toBe('completed');
    expect(seenBeforeEnd).toEqual(result);
    const expected = assembleCompletion(json.json);
    expect(result.completion!.choices).toEqual(expected.choices);
    expect(result.completion!.usage).toEqual(expected.usage);
    // The client did not ask for usage: the usage-only chunk is not in what it received.
    expect(text).not.toContain('"usage"');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(record).toHaveBeenLastCalledWith(auth, 'echo', {
      promptTokens: expected.usage!.prompt_tokens,
      completionTokens: expected.usage!.completion_tokens,
    });
  });

  it('shows an observer every upstream event with its parsed chunk, in order', async () => {
    const seen: Array<{ data: string; chunk: unknown }> = [];
    streamOptions = {
      onClientGone: 'abort',
      onEvent: (event, chunk) => seen.push({ data: event.data, chunk }),
    };
    const text = await post(ask('one two', { stream: true }));
    await streamed;
    const sent = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => e.slice(6));
    // Everything the client got was observed, with the same JSON; plus the usage-only chunk
    // Parley asked for, which the client did not get.
    expect(seen.map((e) => e.data).filter((d) => !d.includes('"choices":[]'))).toEqual(sent);
    for (const { data, chunk } of seen) {
      expect(chunk).toEqual(data === '[DONE]' ? null : JSON.parse(data));
    }
    expect(seen.some((e) => (e.chunk as { usage?: unknown } | null)?.usage)).toBe(true);
  });

  it('reports an estimated usage for a stream the client abandoned', async () => {
    streamOptions = { onClientGone: 'abort' };
    await post(ask('word '.repeat(5000), { stream: true }), 300);
    const result = await streamed!;
    expect(result.isClientGone).toBe(true);
    expect(result.outcome).toBe('incomplete');
    expect(record).toHaveBeenCalledTimes(1);
    const usage = record.mock.calls[0][2];
    expect(usage.promptTokens).toBeGreaterThan(5000);
    expect(usage.completionTokens).toBeGreaterThanOrEqual(0);
    expect(usage.completionTokens).toBeLessThan(5000);
  });
});
