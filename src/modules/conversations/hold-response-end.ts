import type { ServerResponse } from 'node:http';

/**
 * Holds back `res.end(...)` until `release()` is called, so that the last bytes of a /c1
 * stream (the upstream's `data: [DONE]`, or the final error event) reach the client only once
 * the turn is stored: a client that saw the end of its stream can send the next turn at once
 * (no 409 `conversation_busy`), and an acknowledged stream is a stored one.
 *
 * TODO(#5): the proxy's SSE pipe ends the response as soon as the terminal event arrives and
 * offers no hook to run before that; an awaited `beforeEnd` option in `pipeSse` /
 * `ChatCompletionsService.stream` would replace this wrapper.
 */
export function holdResponseEnd(res: ServerResponse): () => void {
  // Called later with `apply(res, …)`, so the unbound reference is what is wanted.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const end = res.end;
  let held: unknown[] | null = null;
  res.end = function holdEnd(this: ServerResponse, ...args: unknown[]) {
    held ??= args;
    return this;
  } as ServerResponse['end'];
  return () => {
    if (res.end === end) {
      return;
    }
    res.end = end;
    if (held) {
      (end as (...a: unknown[]) => ServerResponse).apply(res, held);
    }
  };
}
