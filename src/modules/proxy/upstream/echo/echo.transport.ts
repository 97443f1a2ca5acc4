import { Readable } from 'node:stream';
import {
  echoAnswer,
  echoCompletionEvents,
  echoCompletionJson,
  echoEmbeddingsJson,
  echoModelsJson,
} from 'src/modules/proxy/upstream/echo/echo-model';
import { Tokenizer } from 'src/modules/proxy/tokenizer';
import {
  TransportRequest,
  TransportResponse,
  UpstreamTransport,
} from 'src/modules/proxy/upstream/upstream-transport';

/**
 * The built-in `echo` model as an upstream: it answers in-process, behind the same transport
 * interface as a pooled HTTP upstream, so the proxy has no special case for it. Streams are
 * produced one event per read (back-pressure applies) and honour the abort signal.
 */
export class EchoTransport implements UpstreamTransport {
  constructor(
    private readonly model: string,
    private readonly tokenizer: Tokenizer,
  ) {}

  request(r: TransportRequest): Promise<TransportResponse> {
    // Answers in-process, synchronously; a failure rejects, as a network transport's would.
    try {
      return Promise.resolve(this.answer(r));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private answer(r: TransportRequest): TransportResponse {
    throwIfAborted(r);
    const path = r.path;
    if (r.method === 'GET' && path.endsWith('/models')) {
      return json(200, echoModelsJson(this.model));
    }
    const tokenizer = this.tokenizer;
    let body: Record<string, unknown> = {};
    try {
      const text = Array.isArray(r.body) ? Buffer.concat(r.body).toString() : r.body?.toString();
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return json(400, JSON.stringify({ error: { message: 'echo: body is not JSON' } }));
    }
    if (path.endsWith('/embeddings')) {
      return json(200, echoEmbeddingsJson(body, this.model, tokenizer));
    }
    if (!path.endsWith('/chat/completions')) {
      return json(404, JSON.stringify({ error: { message: `echo: no route ${path}` } }));
    }
    const answer = echoAnswer(body, tokenizer);
    if (body.stream !== true) {
      return json(200, echoCompletionJson(answer, this.model));
    }
    const options = body.stream_options as { include_usage?: unknown } | undefined;
    const events = echoCompletionEvents(answer, this.model, options?.include_usage === true);
    let next = 0;
    const stream = new Readable({
      read() {
        // One event per tick, like a model producing tokens, without any real delay.
        setImmediate(() => {
          if (next < events.length) {
            this.push(events[next++]);
          } else {
            this.push(null);
          }
        });
      },
    });
    const onAbort = () => stream.destroy(r.signal.reason as Error);
    r.signal.addEventListener('abort', onAbort, { once: true });
    stream.once('close', () => r.signal.removeEventListener('abort', onAbort));
    return {
      statusCode: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
      body: stream,
    };
  }
}

function throwIfAborted(r: TransportRequest): void {
  if (r.signal.aborted) {
    throw r.signal.reason;
  }
}

function json(status: number, text: string): TransportResponse {
  return {
    statusCode: status,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    },
    body: Readable.from([Buffer.from(text)], { objectMode: false }),
  };
}
