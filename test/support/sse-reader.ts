import { request as httpRequest } from 'node:http';

export interface ReadEvent {
  /** `data:` lines joined; empty for a comment. */
  data: string;
  /** The comment text (`keep-alive`) when the block was a comment. */
  comment?: string;
  /** Milliseconds since the request was sent. */
  at: number;
}

export interface SseResponse {
  status: number;
  headers: Headers;
  events: ReadEvent[];
  /** Everything received, as text. */
  text: string;
}

/**
 * POSTs to an SSE endpoint over node:http (its own connection, no pooling) and reads the answer
 * as it arrives, stamping each event (comments included) with its arrival time. `onEvent` may
 * return `'stop'` to hang up right after that event: the socket is destroyed at once, which is
 * what a client that goes away does (fetch's `cancel()` may keep the connection open a while).
 */
export function postSse(
  url: string,
  body: unknown,
  options: {
    headers?: Record<string, string>;
    onEvent?: (event: ReadEvent) => 'stop' | void;
  } = {},
): Promise<SseResponse> {
  const payload = JSON.stringify(body);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
          ...options.headers,
        },
      },
      (res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (typeof v === 'string') {
            headers.set(k, v);
          }
        }
        const events: ReadEvent[] = [];
        let text = '';
        let buffer = '';
        let isDone = false;
        const finish = () => {
          if (!isDone) {
            isDone = true;
            resolve({ status: res.statusCode ?? 0, headers, events, text });
          }
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (isDone) {
            return;
          }
          text += chunk;
          buffer += chunk;
          let cut: number;
          while ((cut = buffer.search(/\r?\n\r?\n/)) !== -1) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + (buffer[cut] === '\r' ? 4 : 2));
            const lines = block.split(/\r?\n/);
            const data = lines
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).replace(/^ /, ''))
              .join('\n');
            const comment = lines.find((l) => l.startsWith(':'));
            const event: ReadEvent = { data, at: Date.now() - started };
            if (comment !== undefined && !data) {
              event.comment = comment.slice(1).trim();
            }
            events.push(event);
            if (options.onEvent?.(event) === 'stop') {
              req.destroy();
              finish();
              return;
            }
          }
        });
        res.on('end', finish);
        res.on('close', finish);
      },
    );
    req.on('error', (error) => {
      if (!req.destroyed || req.writableFinished === false) {
        reject(error);
      }
    });
    req.end(payload);
  });
}

/** The data events only (no comments), parsed as JSON except `[DONE]`. */
export function dataEvents(res: SseResponse): (Record<string, any> | '[DONE]')[] {
  return res.events
    .filter((e) => e.comment === undefined)
    .map((e) => (e.data === '[DONE]' ? '[DONE]' : (JSON.parse(e.data) as Record<string, any>)));
}
