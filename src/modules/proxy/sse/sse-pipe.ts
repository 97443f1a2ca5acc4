import { performance } from 'node:perf_hooks';
import { ApiError } from 'src/common/errors/api-error';
import { sseErrorEvent } from 'src/modules/proxy/sse/sse-error-event';
import { SseOutput } from 'src/modules/proxy/sse/sse-output';
import { SseEvent, SseEventTooLargeError } from 'src/modules/proxy/sse/sse-decoder';
import { SseScanner } from 'src/modules/proxy/sse/sse-scanner';
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
   * The stream's cancellation, passed to `open`: the pipe aborts it when the client hangs up
   * in `abort` mode, and whoever else aborts it (`x-on-disconnect: cancel`, shutdown) cuts the
   * stream whatever `onClientGone` says. When it aborts with an `ApiError` as reason, that
   * error is the stream's final event. Created here when absent.
   */
  signal?: Cancellation;
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
  /**
   * Sees the value of each one-line `data:` event as bytes (`bytes[start, end)`), before it
   * is decoded (a `StreamAdapter`'s `skim`): true sends the event's bytes as received without
   * decoding it or calling `onEvent`, so it must be neither terminal nor changed.
   */
  skim?(bytes: Buffer, start: number, end: number): boolean;
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
 * - complete events written as they arrive (the upstream's own bytes, not re-serialised), one
 *   write for the chunks read in one tick; `write() === false` pauses the upstream until
 *   `drain`;
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
  const controller = options.signal ?? new Cancellation();
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
    // `reply.send`, which a stream never calls: copy them (`getHeaders` builds a new object).
    const headers = Object.assign(reply.getHeaders(), SSE_HEADERS, options.headers);
    raw.writeHead(200, headers);
  };
  const onClose = () => {
    if (raw.writableFinished || isClientGone) {
      return;
    }
    isClientGone = true;
    if (options.onClientGone === 'abort') {
      controller.abort(new CallerAbortError());
    } else {
      resumeOnGone?.();
    }
  };
  raw.on('close', onClose);
  /** Set when the signal aborted with an `ApiError`: the stream ends with that error. */
  let cancelError: ApiError | null = null;
  const onCancel = () => {
    const reason = controller.reason;
    cancelError = reason instanceof ApiError ? reason : null;
    call?.abort();
  };
  if (controller.aborted) {
    onCancel();
  } else {
    controller.addEventListener('abort', onCancel, { once: true });
  }

  /**
   * The stream's one timer. Until the first upstream byte it sends `: keep-alive` comments;
   * then it watches for silence (`lastByteAt`), and after the terminal event it bounds the
   * drain of the upstream's body. It is re-armed only when it fires or would fire too late,
   * never per chunk.
   */
  let watch: 'keepAlive' | 'idle' | 'drain' = 'keepAlive';
  let timer: NodeJS.Timeout | null = null;
  let timerDueAt = 0;
  let lastByteAt = 0;
  let drainUntil = 0;
  const arm = (delayMs: number) => {
    if (timer) {
      clearTimeout(timer);
    }
    timerDueAt = performance.now() + delayMs;
    timer = setTimeout(onTimer, delayMs);
    if (watch === 'drain') {
      timer.unref(); // the client's answer is complete: nothing to keep the process for
    }
  };
  const stopTimer = () => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
  };
  /** Makes the timer fire by `deadline` at the latest. */
  const watchUntil = (deadline: number) => {
    if (!timer || timerDueAt > deadline) {
      arm(Math.max(0, deadline - performance.now()));
    }
  };
  const onTimer = () => {
    if (watch === 'keepAlive') {
      if (!isClientGone && !raw.writableNeedDrain) {
        sendHeaders();
        raw.write(KEEP_ALIVE);
      }
      timerDueAt = performance.now() + options.keepAliveIntervalMs;
      timer?.refresh();
      return;
    }
    timer = null;
    const now = performance.now();
    const deadline = watch === 'idle' ? lastByteAt + options.idleTimeoutMs : drainUntil;
    if (now < deadline) {
      arm(deadline - now);
    } else if (watch === 'idle') {
      call?.abort(new IdleTimeoutError(options.idleTimeoutMs));
    } else {
      call?.abort();
    }
  };
  arm(options.keepAliveIntervalMs);

  const cleanup = () => {
    raw.removeListener('close', onClose);
    controller.removeEventListener('abort', onCancel);
  };
  const formatError = (error: ApiError): string =>
    options.formatError ? options.formatError(error) : sseErrorEvent(error);
  /** Writes what is to be sent; `write() === false` pauses the upstream until `drain`. */
  const write = (out: Output) => {
    if (out.length === 0 || isClientGone) {
      return;
    }
    if (!raw.write(joined(out)) && !isClientGone) {
      const body = call?.body;
      if (!body) {
        return;
      }
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
  /**
   * Ends the response with `head` and then `last` (the terminal event's bytes, or the final
   * error event), after `beforeEnd` ran; its `ApiError`, if it returns one, replaces `last`.
   * When `beforeEnd` is synchronous, `head` and `last` leave in one write; when it is not,
   * `head` is sent at once and `last` once it settles.
   */
  const endWith = (
    result: SsePipeResult,
    head: Output,
    last: string | Buffer,
  ): SsePipeResult | Promise<SsePipeResult> => {
    let before = head;
    const finish = (replacement: ApiError | string | void): SsePipeResult => {
      if (!isClientGone && !raw.destroyed && !raw.writableEnded) {
        sendHeaders();
        before.push(
          typeof replacement === 'string'
            ? replacement
            : replacement
              ? formatError(replacement)
              : last,
        );
        raw.end(joined(before));
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
    if (!(replacement instanceof Promise)) {
      return finish(replacement);
    }
    write(before);
    before = [];
    return replacement.then(finish, failed);
  };

  try {
    call = await open(controller);
  } catch (error) {
    cleanup();
    stopTimer();
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
      [],
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
    const scanner = new SseScanner();
    let hasFirstByte = false;
    let hasTerminal = false;
    let result: SsePipeResult | null = null;
    let receivedBytes = 0;
    const maxBytes = options.maxBytes ?? Infinity;
    /** Upstream chunks of this tick, handled together (see `scan`). */
    let pending: Buffer[] = [];

    /** `head`: what precedes the terminal event in its chunk, sent with it. */
    const settle = (error: ApiError | null, head: Output = [], terminal: string | Buffer = '') => {
      if (result) {
        return;
      }
      cleanup();
      if (hasTerminal && !body.closed) {
        // The answer is complete: the client's response ends now (after `beforeEnd`). The
        // rest of the upstream body (normally nothing) is read and discarded so that its
        // connection can be reused, for a few seconds at most.
        watch = 'drain';
        drainUntil = performance.now() + DRAIN_AFTER_TERMINAL_MS;
        watchUntil(drainUntil);
        timer?.unref();
      } else {
        stopTimer();
      }
      const outcome = hasTerminal ? 'completed' : hasFirstByte ? 'incomplete' : 'failed';
      result = { outcome, error: hasTerminal ? null : error, isClientGone, call: upstream };
      const last = hasTerminal ? terminal : error ? formatError(error) : '';
      resolve(endWith(result, head, last));
    };
    const fail = (error: unknown) => {
      if (result) {
        return;
      }
      scan();
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
     * The events the scanner completed → `out`. Events `skim` lets through, and those
     * `onEvent` leaves unchanged, go out as the upstream's bytes; the others are decoded and
     * replaced by what `onEvent` returns. The terminal event is held back as the response's
     * last bytes (see `beforeEnd`); an `onEvent` failure sends what preceded it, then fails.
     * False when the stream ended here.
     */
    const handle = (out: Output): boolean => {
      const bytes = scanner.bytes;
      const count = scanner.marks.length / 3;
      /** `bytes[passFrom, at)` go out as received. */
      let passFrom = 0;
      let at = 0;
      for (let i = 0; i < count; i++) {
        const next = scanner.marks[3 * i + 2];
        const value = options.skim ? scanner.dataLineAt(i) : -1;
        if (value !== -1 && options.skim?.(bytes, value, scanner.marks[3 * i + 1])) {
          at = next;
          continue;
        }
        const event = scanner.event(i);
        let replacement: string | null | undefined;
        try {
          replacement = options.onEvent?.(event);
        } catch (error) {
          pass(out, bytes, passFrom, at);
          write(out);
          fail(error instanceof ApiError ? error : asInternal(error));
          return false;
        }
        if (options.isTerminal(event)) {
          hasTerminal = true;
          pass(out, bytes, passFrom, at);
          settle(
            null,
            out,
            replacement === undefined ? bytes.subarray(at, next) : (replacement ?? ''),
          );
          return false;
        }
        if (replacement !== undefined) {
          pass(out, bytes, passFrom, at);
          if (replacement) {
            out.push(replacement);
          }
          passFrom = next;
        }
        at = next;
      }
      pass(out, bytes, passFrom, at);
      return true;
    };
    /**
     * Handles the chunks that arrived in this tick and writes what they yield at once: a burst
     * of events (an upstream's chunks read together, one HTTP chunk per event) is one write to
     * the client, not one per chunk.
     */
    const scan = () => {
      const chunks = pending;
      pending = [];
      const out: Output = [];
      for (const chunk of chunks) {
        if (hasTerminal || result) {
          return;
        }
        try {
          scanner.push(chunk);
        } catch (error) {
          write(out);
          fail(asInternal(error));
          return;
        }
        if (!handle(out)) {
          return;
        }
      }
      write(out);
    };

    body.on('data', (chunk: Buffer) => {
      if (!hasFirstByte) {
        hasFirstByte = true;
        options.onFirstByte?.();
        watch = 'idle';
        lastByteAt = performance.now();
        watchUntil(lastByteAt + options.idleTimeoutMs);
      }
      if (hasTerminal || result) {
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
      pending.push(chunk);
      if (pending.length === 1) {
        lastByteAt = performance.now();
        process.nextTick(scan);
      }
    });
    // Errors are built only on the failure paths: capturing a stack trace per stream is not free.
    body.once('end', () => {
      scan();
      if (hasTerminal || result) {
        return;
      }
      scanner.end();
      const out: Output = [];
      if (handle(out)) {
        write(out);
      }
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
      } else if (watch === 'drain') {
        stopTimer();
      }
    });
  });
}

/** What goes out in one write: upstream bytes and replacement text, in order. */
type Output = (string | Buffer)[];

/** Appends `bytes[from, to)` when not empty. */
function pass(out: Output, bytes: Buffer, from: number, to: number): void {
  if (to > from) {
    out.push(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
  }
}

function joined(out: Output): string | Buffer {
  if (out.length === 1) {
    return out[0];
  }
  return Buffer.concat(
    out.map((piece) => (typeof piece === 'string' ? Buffer.from(piece) : piece)),
  );
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
