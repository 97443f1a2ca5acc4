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
 * POSTs to an SSE endpoint with fetch and reads the answer as it arrives, stamping each event
 * (comments included) with its arrival time. `onEvent` may return `'stop'` to hang up (the
 * reader cancels the body and aborts the request) after that event.
 */
export async function postSse(
  url: string,
  body: unknown,
  options: {
    headers?: Record<string, string>;
    onEvent?: (event: ReadEvent) => 'stop' | void;
    signal?: AbortSignal;
  } = {},
): Promise<SseResponse> {
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort());
  const started = Date.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  const events: ReadEvent[] = [];
  let text = '';
  let buffer = '';
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        break;
      }
      const chunk = decoder.decode(value, { stream: true });
      text += chunk;
      buffer += chunk;
      let cut: number;
      let isStopped = false;
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
          isStopped = true;
          break;
        }
      }
      if (isStopped) {
        await reader.cancel();
        controller.abort();
        break;
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) {
      throw error;
    }
  }
  return { status: res.status, headers: res.headers, events, text };
}

/** The data events only (no comments), parsed as JSON except `[DONE]`. */
export function dataEvents(res: SseResponse): (Record<string, any> | '[DONE]')[] {
  return res.events
    .filter((e) => e.comment === undefined)
    .map((e) => (e.data === '[DONE]' ? '[DONE]' : (JSON.parse(e.data) as Record<string, any>)));
}
