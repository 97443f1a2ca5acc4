import { ApiError } from 'src/common/errors/api-error';
import { sseErrorEvent } from 'src/modules/proxy/sse/sse-error-event';
import { SseOutput } from 'src/modules/proxy/sse/sse-output';
import { SseDecoder, SseEvent, SseEventTooLargeError } from 'src/modules/proxy/sse/sse-decoder';
import { UpstreamCall } from 'src/modules/proxy/upstream/upstream.client';
import { Cancellation, CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import { CallerAbortError, IdleTimeoutError } from 'src/modules/proxy/upstream/upstream-errors';

/** The SSE response headers (STYLE §8), sent once. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;

const KEEP_ALIVE = ': keep-alive\n\n';

/** How long an upstream may keep its connection open after the terminal event. */
const DRAIN_AFTER_TERMINAL_MS = 5_000;

export interface SsePipeOptions {
  /** Headers besides the SSE ones and those already set on the reply (`x-parley-applied`…). */
  headers?: Record<string, string>;
  /** Interval of `: keep-alive` comments until the first upstream byte (SSE_KEEPALIVE_SECS). */
  keepAliveIntervalMs: number;
  /** Longest silence between two upstream chunks once the first has arrived. */
  idleTimeoutMs: number;
  /**
   * Largest upstream stream, in bytes, when the caller assembles the answer in memory (/c1:
   * UPSTREAM_MAX_BODY_BYTES, as for a JSON answer); beyond it the stream ends with 502
   * `upstream_error`. Unbounded when absent: a pass-through stream holds nothing.
   */
  maxBytes?: number;
  /**
   * What a client hang-up does. `abort` (/v1): the upstream request is aborted at once.
   * `detach` (/c1): nothing more is written, but the upstream is read to its end (bounded by
   * the total timeout) so the caller can store the whole answer.
   */
  onClientGone: 'abort' | 'detach';
  /**
   * Aborts the upstream whatever `onClientGone` says (`x-on-disconnect: cancel`, shutdown).
   * When it aborts with an `ApiError` as reason, that error is the stream's final event.
   */
  signal?: CancelSignal;
  /** True for the event that completes a stream (OpenAI `data: [DONE]`, Anthropic `message_stop`). */
  isTerminal(event: SseEvent): boolean;
  /**
   * Sees every upstream event in order, also after the client left in `detach` mode. Return
   * `undefined` to pass the event through as received, a string (complete SSE text, blank line
   * included) to send instead, or `null` to drop it. Throwing ends the stream with
   * `internal_error`. An `ApiError` thrown here ends it with that error (e.g. an upstream
   * error event turned into the catalog envelope).
   */
  onEvent?(event: SseEvent): string | null | undefined;
  /** The first upstream body byte arrived (time to first token). */
  onFirstByte?(): void;
  /** Formats the final error event; default `data: {"error": {…}}`. */
  formatError?(error: ApiError): string;
  /**
   * Runs once the outcome is known and before the response's last bytes (the terminal event,
   * or the final error event) are written; the response ends after it settles. /c1 stores the
   * turn here, so that a client that saw the end of its stream finds it stored. Returning an
   * `ApiError` (e.g. `storage_error`) replaces those last bytes with that error event, and a
   * string with that text (events that depend on what was stored: the Responses API's final
   * response object). Also called when the client is gone (nothing is written then).
   */
  beforeEnd?(result: SsePipeResult): Promise<ApiError | string | void> | ApiError | string | void;
}

export interface SsePipeResult {
  /**
   * `completed`: the terminal event arrived. `incomplete`: the stream ended early (cut,
   * timeout, error event) after some bytes. `failed`: nothing arrived.
   */
  outcome: 'completed' | 'incomplete' | 'failed';
  /** Why the stream did not complete (also sent to the client as the final event, if attached). */
  error: ApiError | null;
  /** The client hung up before the end. */
  isClientGone: boolean;
  /** The upstream call, once its headers arrived. */
  call: UpstreamCall | null;
}

/**
 * Streams an upstream SSE answer to the client through `reply.raw` (STYLE §8):
 * - response headers once: when the upstream answers, or at the first keep-alive tick if it
 *   takes longer (a long prefill), so a quick upstream failure is still a proper HTTP status;
 * - `: keep-alive` comments every `keepAliveIntervalMs` until the first upstream byte;
 * - complete events written as they arrive (the upstream's own text, not re-serialised), one
 *   write per upstream chunk; `write() === false` pauses the upstream until `drain`;
 * - after the headers, any failure becomes one final error event, then the end: the stream
 *   never stops without the terminal event or an error event;
 * - a client hang-up (`close` on `reply.raw` before `writableFinished`) aborts or detaches.
 *
 * `open` receives the signal to pass to `UpstreamClient.send`. When it rejects before the
 * headers were sent, the `ApiError` is rethrown for the exception filter to answer with a
 * status; in every other case this resolves with what happened.
 */
export async function pipeSse(
  reply: SseOutput,
  open: (signal: CancelSignal) => Promise<UpstreamCall>,
  options: SsePipeOptions,
): Promise<SsePipeResult> {
  const raw = reply.raw;
  const controller = new Cancellation();
  let areHeadersSent = false;
  let isClientGone = false;
  let call: UpstreamCall | null = null;
  let resumeOnGone: (() => void) | null = null;

  const sendHeaders = () => {
    if (areHeadersSent) {
      return;
    }
    areHeadersSent = true;
    // Headers set through `reply.header()` (request id, rate limits) live on the reply until
    // `reply.send`, which a stream never calls: copy them.
    const headers = { ...reply.getHeaders(), ...SSE_HEADERS, ...options.headers };
    raw.writeHead(200, headers);
  };
  const onClose = () => {
    if (raw.writableFinished || isClientGone) {
      return;
    }
    isClientGone = true;
    if (options.onClientGone === 'abort') {
      controller.abort(new CallerAbortError());
      call?.abort();
    } else {
      resumeOnGone?.();
    }
  };
  raw.on('close', onClose);
  /** Set when `options.signal` aborted with an `ApiError`: the stream ends with that error. */
  let cancelError: ApiError | null = null;
  const onCancel = () => {
    const reason = options.signal?.reason;
    cancelError = reason instanceof ApiError ? reason : null;
    controller.abort(new CallerAbortError());
    call?.abort();
  };
  if (options.signal?.aborted) {
    onCancel();
  } else {
    options.signal?.addEventListener('abort', onCancel, { once: true });
  }
  let keepAlive: NodeJS.Timeout | null = setInterval(() => {
    if (isClientGone || raw.writableNeedDrain) {
      return;
    }
    sendHeaders();
    raw.write(KEEP_ALIVE);
  }, options.keepAliveIntervalMs);
  const stopKeepAlive = () => {
    if (keepAlive) {
      clearInterval(keepAlive);
      keepAlive = null;
    }
  };
  const cleanup = () => {
    stopKeepAlive();
    raw.removeListener('close', onClose);
    options.signal?.removeEventListener('abort', onCancel);
  };
  const formatError = (error: ApiError): string =>
    options.formatError ? options.formatError(error) : sseErrorEvent(error);
  /**
   * Ends the response with `last` (the terminal event's text, or the final error event), after
   * `beforeEnd` ran; its `ApiError`, if it returns one, replaces `last`. Synchronous when
   * `beforeEnd` is: the last bytes then leave in the same corked write as the events before
   * them (one `writev` per stream less), instead of a microtask later.
   */
  const endWith = (
    result: SsePipeResult,
    last: string | Buffer,
  ): SsePipeResult | Promise<SsePipeResult> => {
    const finish = (replacement: ApiError | string | void): SsePipeResult => {
      if (!isClientGone && !raw.destroyed && !raw.writableEnded) {
        sendHeaders();
        raw.end(
          typeof replacement === 'string'
            ? replacement
            : replacement
              ? formatError(replacement)
              : last,
        );
      }
      return result;
    };
    const failed = (error: unknown) =>
      finish(new ApiError('internal_error', 'Internal error', { cause: error }));
    if (!options.beforeEnd) {
      return finish();
    }
    let replacement: Promise<ApiError | string | void> | ApiError | string | void;
    try {
      replacement = options.beforeEnd(result);
    } catch (error) {
      return failed(error);
    }
    return replacement instanceof Promise ? replacement.then(finish, failed) : finish(replacement);
  };

  try {
    call = await open(controller);
  } catch (error) {
    cleanup();
    const apiError =
      cancelError ??
      (error instanceof ApiError
        ? error
        : new ApiError('internal_error', 'Internal error', { cause: error }));
    if (!areHeadersSent && !isClientGone) {
      throw apiError;
    }
    return endWith(
      { outcome: 'failed', error: apiError, isClientGone, call: null },
      formatError(apiError),
    );
  }
  const upstream = call;
  if (controller.aborted) {
    upstream.abort();
  } else if (!isClientGone) {
    sendHeaders();
  }

  return new Promise<SsePipeResult>((resolve) => {
    const body = upstream.body;
    const decoder = new SseDecoder();
    let hasFirstByte = false;
    let hasTerminal = false;
    let result: SsePipeResult | null = null;
    let idle: NodeJS.Timeout | null = null;
    let isAtBoundary = true;
    let receivedBytes = 0;
    const maxBytes = options.maxBytes ?? Infinity;
    /** What the terminal event's chunk left to send (the terminal event included). */
    let terminalText: string | Buffer = '';

    const settle = (error: ApiError | null) => {
      if (result) {
        return;
      }
      if (idle) {
        clearTimeout(idle);
      }
      cleanup();
      const outcome = hasTerminal ? 'completed' : hasFirstByte ? 'incomplete' : 'failed';
      result = { outcome, error: hasTerminal ? null : error, isClientGone, call: upstream };
      const last = hasTerminal ? terminalText : error ? formatError(error) : '';
      resolve(endWith(result, last));
    };
    const fail = (error: unknown) => {
      if (result) {
        return;
      }
      if (hasTerminal) {
        settle(null);
        return;
      }
      settle(cancelError ?? (error instanceof ApiError ? error : upstream.fail(error).error));
      upstream.abort();
    };
    /**
     * Events → what to send; an `onEvent` failure sends what preceded it, then fails. When
     * `rawChunk` holds exactly these events and all pass through unchanged, the upstream's own
     * bytes are sent (no re-encoding); otherwise the events' text, rebuilt.
     */
    const handle = (events: SseEvent[], rawChunk: Buffer | null): void => {
      let out = '';
      let isUnchanged = rawChunk !== null;
      for (let i = 0; i < events.length; i++) {
        const event = events[i];
        if (hasTerminal) {
          isUnchanged = false;
          break;
        }
        let replacement: string | null | undefined;
        try {
          replacement = options.onEvent?.(event);
        } catch (error) {
          write(out);
          fail(error instanceof ApiError ? error : asInternal(error));
          return;
        }
        const text = replacement === null ? '' : (replacement ?? `${event.raw}\n\n`);
        if (options.isTerminal(event)) {
          // Held back: the terminal event is the response's last bytes (see `beforeEnd`).
          hasTerminal = true;
          const whole = rawChunk;
          const at =
            isUnchanged && whole && replacement === undefined && i === events.length - 1
              ? whole.lastIndexOf(event.raw)
              : -1;
          if (whole && at >= 0) {
            // Still the upstream's own bytes: what precedes the terminal event now, it later.
            rawChunk = whole.subarray(0, at);
            terminalText = whole.subarray(at);
          } else {
            isUnchanged = false;
            terminalText = text;
          }
          break;
        }
        if (replacement !== undefined) {
          isUnchanged = false;
        }
        out += text;
      }
      write(isUnchanged && rawChunk ? rawChunk : out);
      if (hasTerminal) {
        // The answer is complete: end the client's response (after `beforeEnd`) now. The rest
        // of the upstream body (normally nothing) is read and discarded so that its connection
        // can be reused, for a few seconds at most.
        settle(null);
        const drain = setTimeout(() => upstream.abort(), DRAIN_AFTER_TERMINAL_MS);
        drain.unref();
        body.once('close', () => clearTimeout(drain));
      }
    };
    const write = (out: string | Buffer) => {
      if (out.length === 0 || isClientGone) {
        return;
      }
      if (!raw.write(out) && !isClientGone) {
        body.pause();
        const resume = () => {
          resumeOnGone = null;
          raw.removeListener('drain', resume);
          body.resume();
        };
        resumeOnGone = resume;
        raw.once('drain', resume);
      }
    };

    body.on('data', (chunk: Buffer) => {
      if (!hasFirstByte) {
        hasFirstByte = true;
        stopKeepAlive();
        options.onFirstByte?.();
        idle = setTimeout(
          () => upstream.abort(new IdleTimeoutError(options.idleTimeoutMs)),
          options.idleTimeoutMs,
        );
      } else {
        idle?.refresh();
      }
      if (hasTerminal) {
        return;
      }
      receivedBytes += chunk.length;
      if (receivedBytes > maxBytes) {
        fail(
          new ApiError(
            'upstream_error',
            `The model server's answer is larger than ${maxBytes} bytes (UPSTREAM_MAX_BODY_BYTES)`,
          ),
        );
        return;
      }
      const wasAtBoundary = isAtBoundary;
      let events: SseEvent[];
      try {
        events = decoder.push(chunk);
      } catch (error) {
        fail(asInternal(error));
        return;
      }
      // At a boundary: no unfinished event held, and no partial UTF-8 character (the chunk
      // ends with an ASCII byte, normally the blank line's \n).
      isAtBoundary = decoder.pending === 0 && chunk.length > 0 && chunk[chunk.length - 1] < 0x80;
      handle(events, wasAtBoundary && isAtBoundary ? chunk : null);
    });
    // Errors are built only on the failure paths: capturing a stack trace per stream is not free.
    body.once('end', () => {
      if (hasTerminal) {
        return;
      }
      handle(decoder.end(), null);
      settle(
        hasTerminal
          ? null
          : new ApiError(
              'upstream_error',
              `The model server for "${upstream.model.alias}" ended the stream before it was complete`,
            ),
      );
    });
    body.once('error', fail);
    body.once('close', () => {
      if (!result) {
        fail(new Error('upstream body closed before its end'));
      }
    });
  });
}

function asInternal(error: unknown): ApiError {
  if (error instanceof SseEventTooLargeError) {
    return new ApiError(
      'upstream_error',
      `The model server's stream is malformed: ${error.message}`,
    );
  }
  return new ApiError('internal_error', 'Internal error', { cause: error });
}
