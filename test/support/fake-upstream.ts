import { once } from 'node:events';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import {
  Behaviour,
  lastUserText,
  ReceivedRequest,
  startScriptedServer,
  writeEvents,
} from 'test/support/scripted-server';
import { splitAnswer } from 'test/support/scripted-server';
import { sleep } from 'test/support/time';

export type { Behaviour, ReceivedRequest } from 'test/support/scripted-server';
export { splitAnswer } from 'test/support/scripted-server';

export interface FakeUpstreamOptions {
  /** Delay before the response headers (prefill). */
  firstByteDelayMs?: number;
  /** Delay between SSE chunks. */
  chunkDelayMs?: number;
  /** Number of content chunks in a streamed answer. */
  streamChunks?: number;
  /** A fixed answer instead of echoing the last user text (large streams). */
  answer?: string;
  /** Model name reported in answers. */
  modelName?: string;
}

/** The load a fake vLLM publishes on `GET /metrics` (and in its load report header). */
export interface FakeLoad {
  running: number;
  waiting: number;
  kvCacheUsage: number;
  prefixHits: number;
  prefixQueries: number;
  /** Cumulative counts of the time-to-first-token histogram for the bounds in TTFT_BOUNDS. */
  ttftCounts: number[];
}

/** Upper bounds (seconds) of the fake's time-to-first-token histogram, `+Inf` last. */
export const TTFT_BOUNDS = ['0.1', '0.25', '0.5', '1.0', '+Inf'];

/**
 * How `GET /metrics` answers: `ok` (the figures of `load`), `hang` (never), `garbage` (not
 * Prometheus text), `nan` / `negative` (a queue that is NaN or below zero), `off` (404).
 */
export type MetricsBehaviour = 'ok' | 'hang' | 'garbage' | 'nan' | 'negative' | 'off';

export interface FakeUpstream {
  url: string; // base URL with /v1
  port: number;
  /** What `/metrics` publishes; change it at will. Scrapes are not in `received`. */
  load: FakeLoad;
  metrics: MetricsBehaviour;
  /** `GET /metrics` requests served so far. */
  metricsScrapes: number;
  /** Answer `endpoint-load-metrics` on chat answers when the request asks (vLLM's ORCA header). */
  loadReportHeader: boolean;
  received: ReceivedRequest[];
  options: FakeUpstreamOptions;
  /** Queue behaviours for the next requests, in order; then back to `ok`. */
  next(...behaviours: Behaviour[]): void;
  /** Behaviour for every request once the queue is empty. */
  always(behaviour: Behaviour): void;
  openSockets(): number;
  close(): Promise<void>;
}

/** The deterministic answer the fake gives: it echoes the last user text. */
export function fakeAnswerFor(body: any): string {
  return `You said: ${lastUserText(body)}`;
}

export function promptTokensFor(body: any): number {
  return (JSON.stringify(body?.messages ?? body?.input ?? '').length % 97) + 10;
}

export function completionTokensFor(answer: string): number {
  return answer.split(/\s+/).filter(Boolean).length;
}

/**
 * A base URL on which nothing listens (connect → ECONNREFUSED): a port bound then released.
 */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

/**
 * A real node:http server on 127.0.0.1:0 that speaks the OpenAI wire format like vLLM
 * (chat completions JSON and SSE with usage, embeddings, models) and records every request.
 */
export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const modelName = () => options.modelName ?? 'fake-model';
  const server = await startScriptedServer<Behaviour>({
    intercept: (req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        return false;
      }
      serveMetrics(res);
      return true;
    },
    beforeAnswer: async () => {
      if (options.firstByteDelayMs) {
        await sleep(options.firstByteDelayMs);
      }
    },
    errorBody: (status) => ({
      object: 'error',
      message: `fake upstream failure ${status}`,
      type: 'BadRequestError',
      code: status,
    }),
    answer: ({ req, res, body, record, behaviour }) => answer(req, res, body, behaviour, record),
  });
  const fake: FakeUpstream = {
    url: `http://127.0.0.1:${server.port}/v1`,
    port: server.port,
    load: {
      running: 0,
      waiting: 0,
      kvCacheUsage: 0,
      prefixHits: 0,
      prefixQueries: 0,
      ttftCounts: [0, 0, 0, 0, 0],
    },
    metrics: 'off',
    metricsScrapes: 0,
    loadReportHeader: false,
    received: server.received,
    options,
    next: server.next,
    always: server.always,
    openSockets: server.openSockets,
    close: server.close,
  };
  return fake;

  async function answer(
    req: IncomingMessage,
    res: ServerResponse,
    body: any,
    behaviour: Behaviour,
    record: ReceivedRequest,
  ) {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path.endsWith('/models')) {
      json(res, {
        object: 'list',
        data: [{ id: modelName(), object: 'model', created: 0, owned_by: 'fake' }],
      });
      return;
    }
    if (path.endsWith('/embeddings')) {
      const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
      json(res, {
        object: 'list',
        model: body?.model ?? modelName(),
        data: inputs.map((_: unknown, index: number) => ({
          object: 'embedding',
          index,
          embedding: [0.1 * (index + 1), 0.2, 0.3],
        })),
        usage: { prompt_tokens: inputs.length * 3, total_tokens: inputs.length * 3 },
      });
      return;
    }
    if (path.endsWith('/chat/completions')) {
      await chat(body, res, behaviour, record);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'error', message: `no route ${path}`, code: 404 }));
  }

  async function chat(
    body: any,
    res: ServerResponse,
    behaviour: Behaviour,
    record: ReceivedRequest,
  ) {
    const answer = options.answer ?? fakeAnswerFor(body);
    const usage = {
      prompt_tokens: promptTokensFor(body),
      completion_tokens: completionTokensFor(answer),
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-fake-${server.received.length}`;
    const created = 1_700_000_000;
    const calls = behaviour.kind === 'tool_calls' ? behaviour.calls : null;
    const toolCalls = calls?.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    }));
    if (!body?.stream) {
      json(res, {
        id,
        object: 'chat.completion',
        created,
        model: body?.model ?? modelName(),
        choices: [
          {
            index: 0,
            message: calls
              ? { role: 'assistant', content: null, tool_calls: toolCalls }
              : { role: 'assistant', content: answer },
            finish_reason: calls ? 'tool_calls' : 'stop',
            logprobs: null,
          },
        ],
        usage,
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const pieces = splitAnswer(answer, options.streamChunks ?? 5);
    const event = (delta: object, finish: string | null, extra: object = {}) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: body?.model ?? modelName(),
        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
        ...extra,
      })}\n\n`;
    const events = calls
      ? [
          event({ role: 'assistant', content: null }, null),
          ...calls.flatMap((c, index) => [
            event(
              {
                tool_calls: [
                  { index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } },
                ],
              },
              null,
            ),
            ...splitAnswer(c.arguments, 2).map((piece) =>
              event({ tool_calls: [{ index, function: { arguments: piece } }] }, null),
            ),
          ]),
          event({}, 'tool_calls'),
        ]
      : [
          event({ role: 'assistant', content: '' }, null),
          ...pieces.map((p) => event({ content: p }, null)),
          event({}, 'stop'),
        ];
    const isComplete = await writeEvents(res, events, behaviour, {
      record,
      chunkDelayMs: options.chunkDelayMs,
    });
    if (!isComplete) {
      return;
    }
    if (body?.stream_options?.include_usage) {
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body?.model ?? modelName(), choices: [], usage })}\n\n`,
      );
    }
    res.end('data: [DONE]\n\n');
  }

  function json(res: ServerResponse, payload: unknown) {
    const text = JSON.stringify(payload);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'set-cookie': 'upstream-session=secret',
      ...loadReportFor(res.req),
    });
    res.end(text);
  }

  function loadReportFor(req: IncomingMessage): Record<string, string> {
    if (!fake.loadReportHeader || req.headers['endpoint-load-metrics-format'] !== 'text') {
      return {};
    }
    const { waiting, kvCacheUsage } = fake.load;
    return {
      'endpoint-load-metrics': `TEXT named_metrics.kv_cache_usage_perc=${kvCacheUsage.toFixed(1)}, named_metrics.num_requests_waiting=${waiting.toFixed(1)}`,
    };
  }

  /** vLLM's /metrics, trimmed to the families Parley reads plus one it ignores. */
  function serveMetrics(res: ServerResponse) {
    fake.metricsScrapes++;
    const behaviour = fake.metrics;
    if (behaviour === 'hang') {
      return;
    }
    if (behaviour === 'off') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    if (behaviour === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('<html><body>{"running": 0} vllm:num_requests_waiting{ zero</body></html>');
      return;
    }
    const l = fake.load;
    const waiting =
      behaviour === 'nan' ? 'NaN' : behaviour === 'negative' ? '-3.0' : `${l.waiting}.0`;
    const labels = `engine="0",model_name="${modelName()}"`;
    const lines = [
      '# HELP vllm:num_requests_running Number of requests in model execution batches.',
      '# TYPE vllm:num_requests_running gauge',
      `vllm:num_requests_running{${labels}} ${l.running}.0`,
      '# TYPE vllm:num_requests_waiting gauge',
      `vllm:num_requests_waiting{${labels}} ${waiting}`,
      '# TYPE vllm:kv_cache_usage_perc gauge',
      `vllm:kv_cache_usage_perc{${labels}} ${l.kvCacheUsage}`,
      '# TYPE vllm:prefix_cache_queries counter',
      `vllm:prefix_cache_queries_total{${labels}} ${l.prefixQueries}.0`,
      '# TYPE vllm:prefix_cache_hits counter',
      `vllm:prefix_cache_hits_total{${labels}} ${l.prefixHits}.0`,
      '# TYPE vllm:time_to_first_token_seconds histogram',
      ...TTFT_BOUNDS.map(
        (le, i) =>
          `vllm:time_to_first_token_seconds_bucket{${labels},le="${le}"} ${l.ttftCounts[i] ?? 0}.0`,
      ),
      `vllm:time_to_first_token_seconds_count{${labels}} ${l.ttftCounts[TTFT_BOUNDS.length - 1] ?? 0}.0`,
      '# TYPE vllm:iteration_tokens_total histogram',
      `vllm:iteration_tokens_total_bucket{${labels},le="1.0"} 3.0`,
    ];
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(`${lines.join('\n')}\n`);
  }
}
