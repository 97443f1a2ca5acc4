import { openAIWire } from 'src/modules/proxy/wire/openai/openai.wire';
import { postAndRead, ReadAnswer } from 'test/support/raw-client';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import Fastify, { FastifyInstance } from 'fastify';
import { ApiError } from 'src/common/errors/api-error';
import { CatalogModel } from 'src/kernel/catalog-model';
import { pipeSse, SsePipeOptions, SsePipeResult } from 'src/modules/proxy/sse/sse-pipe';
import { CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import { UpstreamCall } from 'src/modules/proxy/upstream/upstream.client';
import { classifyFailure, failureToApiError } from 'src/modules/proxy/upstream/upstream-errors';
import { sleep } from 'test/support/time';

const model: CatalogModel = {
  alias: 'm',
  upstreams: [
    { id: 'm#0', url: 'http://x/v1', format: 'openai', model: 'x', apiKeyEnv: null, apiKey: null },
  ],
  constraints: {
    minMaxTokens: 1,
    maxOutputTokens: 10,
    contextWindow: 100,
    acceptsImageUrl: false,
    acceptsImages: false,
    typicalResponseSeconds: 1,
  },
};
const timeouts = {
  connectTimeoutMs: 1,
  firstByteTimeoutMs: 1,
  idleTimeoutMs: 1,
  totalTimeoutMs: 1,
};

/** An upstream call whose body the test writes, and which records aborts. */
function fakeCall(signal: CancelSignal) {
  const body = new PassThrough();
  const aborts: unknown[] = [];
  const call: UpstreamCall = {
    status: 200,
    headers: { 'content-type': 'text/event-stream', 'set-cookie': ['x=y'] },
    body,
    model,
    upstream: model.upstreams[0],
    wire: openAIWire,
    attempts: 1,
    startedAt: 0,
    signal,
    abort: (reason) => {
      aborts.push(reason ?? 'abort');
      body.destroy();
    },
    fail: (error) => {
      const kind = classifyFailure(error, signal, 'body');
      return { kind, error: failureToApiError(kind, 'm', timeouts, error) };
    },
  };
  return { call, body, aborts };
}

const event = (data: string) => `data: ${data}\n\n`;

describe(pipeSse.name, () => {
  let app: FastifyInstance;
  let url: string;
  let setup: (reply: Parameters<typeof pipeSse>[0]) => Promise<SsePipeResult>;
  let results: SsePipeResult[];

  beforeAll(async () => {
    app = Fastify();
    app.post('/', async (_request, reply) => {
      try {
        results.push(await setup(reply));
      } catch (error) {
        const apiError = error as ApiError;
        await reply.status(apiError.status).send(apiError.toEnvelope());
      }
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
  });
  afterAll(() => app.close());
  beforeEach(() => {
    results = [];
  });

  /** Reads the response; `hangUpAfter` destroys the connection after that many bytes. */
  const get = (hangUpAfter?: number): Promise<ReadAnswer> =>
    postAndRead(url, undefined, hangUpAfter);

  const options = (over: Partial<SsePipeOptions> = {}): SsePipeOptions => ({
    keepAliveIntervalMs: 50,
    idleTimeoutMs: 5_000,
    onClientGone: 'abort',
    isTerminal: (e) => e.data === '[DONE]',
    ...over,
  });

  /** The fake upstream call of the last stream served: its body and the aborts it saw. */
  let fake: ReturnType<typeof fakeCall>;
  /** Serves the next request from a fake upstream whose body `feed` writes, with `options(over)`. */
  const serve = (feed: (body: PassThrough) => void, over: Partial<SsePipeOptions> = {}) => {
    setup = (reply) =>
      pipeSse(
        reply,
        async (signal) => {
          fake = fakeCall(signal);
          feed(fake.body);
          return fake.call;
        },
        options(over),
      );
  };

  it('passes events through, ends at the terminal event, and sends only its own headers', async () => {
    serve(
      (body) => {
        body.write(event('{"a":1}') + event('{"a":2}'));
        body.write(event('[DONE]'));
      },
      { headers: { 'x-parley-applied': 'max_tokens_floored=16' } },
    );
    const res = await get();
    expect(res.text).toBe(event('{"a":1}') + event('{"a":2}') + event('[DONE]'));
    expect(res.headers).toMatchObject({
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      'x-parley-applied': 'max_tokens_floored=16',
    });
    expect(res.headers['set-cookie']).toBeUndefined();
    await sleep(20);
    expect(results[0]).toMatchObject({ outcome: 'completed', error: null, isClientGone: false });
  });

  it('drops and replaces events as onEvent says', async () => {
    serve(
      (body) => {
        body.end(event('keep') + event('drop') + event('swap') + event('[DONE]'));
      },
      {
        onEvent: (e) =>
          e.data === 'drop' ? null : e.data === 'swap' ? event('swapped') : undefined,
      },
    );
    expect((await get()).text).toBe(event('keep') + event('swapped') + event('[DONE]'));
  });

  it('sends events skim lets through as received, without decoding them', async () => {
    const decoded: string[] = [];
    const chunks = [event('{"a":1}'), event('{"b":2}') + event('{"c":3}'), event('[DONE]')];
    serve(
      (body) => {
        for (const chunk of chunks) {
          body.write(chunk);
        }
      },
      {
        skim: (bytes, start, end) =>
          ['{"a":1}', '{"c":3}'].includes(bytes.toString('utf8', start, end)),
        onEvent: (e) => {
          decoded.push(e.data);
          return undefined;
        },
      },
    );
    expect((await get()).text).toBe(chunks.join(''));
    expect(decoded).toEqual(['{"b":2}', '[DONE]']);
  });

  it('rethrows a failure to open before any byte was sent, for a proper status', async () => {
    setup = (reply) =>
      pipeSse(
        reply,
        () => Promise.reject(new ApiError('upstream_unavailable', 'down')),
        options({ keepAliveIntervalMs: 10_000 }),
      );
    const res = await get();
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text).error.code).toBe('upstream_unavailable');
  });

  it('after keep-alives, turns a failure to open into one error event', async () => {
    setup = (reply) =>
      pipeSse(
        reply,
        async () => {
          await sleep(130);
          throw new ApiError('upstream_timeout', 'slow');
        },
        options(),
      );
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.text).toMatch(
      /^(: keep-alive\n\n)+data: \{"error":\{"type":"upstream_error","code":"upstream_timeout","message":"slow","param":null\}\}\n\n$/,
    );
  });

  it('in abort mode, a client hang-up aborts the upstream call', async () => {
    serve((body) => {
      body.write(event('first'));
    });
    await get(1);
    await sleep(50);
    expect(fake.aborts.length).toBeGreaterThan(0);
    expect(results[0]).toMatchObject({ outcome: 'incomplete', isClientGone: true });
  });

  it('in detach mode, keeps reading after a hang-up and sees every event', async () => {
    const seen: string[] = [];
    serve(
      (body) => {
        body.write(event('1'));
        void sleep(100).then(() => {
          body.write(event('2') + event('3'));
          body.end(event('[DONE]'));
        });
      },
      {
        onClientGone: 'detach',
        onEvent: (e) => {
          seen.push(e.data);
          return undefined;
        },
      },
    );
    await get(1);
    await sleep(250);
    expect(seen).toEqual(['1', '2', '3', '[DONE]']);
    expect(fake.aborts).toEqual([]);
    expect(results[0]).toMatchObject({ outcome: 'completed', isClientGone: true, error: null });
  });

  it('holds the last bytes until beforeEnd settles, and lets it replace them with an error', async () => {
    let isStored = false;
    serve(
      (body) => {
        body.end(event('{"a":1}') + event('[DONE]'));
      },
      {
        beforeEnd: async (result) => {
          expect(result.outcome).toBe('completed');
          await sleep(150);
          isStored = true;
        },
      },
    );
    const res = await get();
    expect(res.text).toBe(event('{"a":1}') + event('[DONE]'));
    // The answer ended only after beforeEnd's 150 ms of work had finished.
    expect(isStored).toBe(true);

    serve(
      (body) => {
        body.end(event('{"a":1}') + event('[DONE]'));
      },
      { beforeEnd: () => new ApiError('storage_error', 'not stored') },
    );
    expect((await get()).text).toBe(
      event('{"a":1}') +
        event(
          '{"error":{"type":"internal_error","code":"storage_error","message":"not stored","param":null}}',
        ),
    );
  });

  it('ends a stream that stops without its terminal event with an upstream_error event', async () => {
    serve((body) => {
      body.end(event('{"a":1}'));
    });
    const res = await get();
    expect(res.text.split('\n\n').filter(Boolean)).toEqual([
      'data: {"a":1}',
      'data: {"error":{"type":"upstream_error","code":"upstream_error","message":"The model server for \\"m\\" ended the stream before it was complete","param":null}}',
    ]);
  });
});
