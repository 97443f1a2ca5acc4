/**
 * The benchmark's fake OpenAI upstream, run as its own process (`bench/run.ts` starts it) so
 * it never shares an event loop with the load generator or the gateway.
 *
 * Tuned for throughput: every answer is precomputed bytes, the request body is only scanned
 * for `"stream":true` and `"include_usage":true`, never parsed.
 *
 * Paths: `/v1/...` answers at once ("burst"); `/p/<chunkDelayMs>/<firstByteDelayMs>/v1/...`
 * waits `firstByteDelayMs` before the response headers and `chunkDelayMs` between SSE events.
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { exitWithParent, reportToParent } from './child-process';

const CHUNKS = Number(process.env.BENCH_SSE_CHUNKS ?? 20);
const ID = 'chatcmpl-bench-0123456789abcdef';
const CREATED = 1_700_000_000;
const MODEL = 'bench-upstream-model';
const USAGE = { prompt_tokens: 24, completion_tokens: 72, total_tokens: 96 };

/** A chat completion of about 650 bytes, like a short real answer. */
function buildJsonAnswer(): Buffer {
  const shell = (content: string) =>
    JSON.stringify({
      id: ID,
      object: 'chat.completion',
      created: CREATED,
      model: MODEL,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: USAGE,
      system_fingerprint: 'fp_bench',
    });
  const words =
    'A gateway sits between clients and model servers, checks keys, applies limits, keeps history and forwards each request to the right upstream without adding noticeable latency. ';
  let content = '';
  while (Buffer.byteLength(shell(content)) < 650) {
    content += words;
  }
  const bytes = Buffer.byteLength(shell(''));
  content = content.slice(0, Math.max(0, 650 - bytes));
  return Buffer.from(shell(content));
}

/** `CHUNKS` SSE events (role, content pieces, finish), then optional usage, then [DONE]. */
function buildStream(): { events: Buffer[]; usage: Buffer; done: Buffer } {
  const event = (delta: object, finish: string | null) =>
    Buffer.from(
      `data: ${JSON.stringify({
        id: ID,
        object: 'chat.completion.chunk',
        created: CREATED,
        model: MODEL,
        system_fingerprint: 'fp_bench',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      })}\n\n`,
    );
  const events = [event({ role: 'assistant', content: '' }, null)];
  for (let i = 1; i < CHUNKS - 1; i++) {
    events.push(event({ content: ` token${i}` }, null));
  }
  events.push(event({}, 'stop'));
  const usage = Buffer.from(
    `data: ${JSON.stringify({
      id: ID,
      object: 'chat.completion.chunk',
      created: CREATED,
      model: MODEL,
      choices: [],
      usage: USAGE,
    })}\n\n`,
  );
  return { events, usage, done: Buffer.from('data: [DONE]\n\n') };
}

const JSON_ANSWER = buildJsonAnswer();
const STREAM = buildStream();
const MODELS = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: [{ id: MODEL, object: 'model', created: CREATED, owned_by: 'bench' }],
  }),
);
const EMBEDDING = Buffer.from(
  JSON.stringify({
    object: 'list',
    model: MODEL,
    data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }],
    usage: { prompt_tokens: 3, total_tokens: 3 },
  }),
);
const JSON_HEADERS = (length: number) => ({
  'content-type': 'application/json',
  'content-length': length,
});
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
const PACED = /^\/p\/(\d+)\/(\d+)(\/.*)$/;
const STREAM_TRUE = /"stream"\s*:\s*true/;
const INCLUDE_USAGE = /"include_usage"\s*:\s*true/;

const counters = { requests: 0, streams: 0, aborted: 0, maxBodyBytes: 0 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function handle(req: IncomingMessage, res: ServerResponse): void {
  counters.requests++;
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    if (body.length > counters.maxBodyBytes) {
      counters.maxBodyBytes = body.length;
    }
    void answer(req, res, body);
  });
}

async function answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
  let path = req.url ?? '/';
  let chunkDelayMs = 0;
  let firstByteDelayMs = 0;
  const paced = PACED.exec(path);
  if (paced) {
    chunkDelayMs = Number(paced[1]);
    firstByteDelayMs = Number(paced[2]);
    path = paced[3];
  }
  if (req.method === 'GET' && path.endsWith('/models')) {
    res.writeHead(200, JSON_HEADERS(MODELS.length)).end(MODELS);
    return;
  }
  if (path.endsWith('/embeddings')) {
    res.writeHead(200, JSON_HEADERS(EMBEDDING.length)).end(EMBEDDING);
    return;
  }
  if (!path.endsWith('/chat/completions')) {
    const text = JSON.stringify({ object: 'error', message: `no route ${path}`, code: 404 });
    res.writeHead(404, JSON_HEADERS(Buffer.byteLength(text))).end(text);
    return;
  }
  if (firstByteDelayMs > 0) {
    await sleep(firstByteDelayMs);
    if (res.destroyed) {
      counters.aborted++;
      return;
    }
  }
  if (!STREAM_TRUE.test(body)) {
    res.writeHead(200, JSON_HEADERS(JSON_ANSWER.length)).end(JSON_ANSWER);
    return;
  }
  counters.streams++;
  res.writeHead(200, SSE_HEADERS);
  for (const event of STREAM.events) {
    if (res.destroyed) {
      counters.aborted++;
      return;
    }
    res.write(event);
    if (chunkDelayMs > 0) {
      await sleep(chunkDelayMs);
    }
  }
  if (INCLUDE_USAGE.test(body)) {
    res.write(STREAM.usage);
  }
  res.end(STREAM.done);
}

const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, handle);
server.headersTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  reportToParent({ type: 'ready', port, jsonBytes: JSON_ANSWER.length, chunks: CHUNKS });
});
exitWithParent(() => ({ type: 'counters', ...counters }));
