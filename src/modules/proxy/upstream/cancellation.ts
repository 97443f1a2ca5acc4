import { EventEmitter } from 'node:events';
import { CallerAbortError } from 'src/modules/proxy/upstream/upstream-errors';

/**
 * What the upstream client accepts as an abort signal: a standard `AbortSignal`, or the
 * cheaper `Cancellation` below.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A one-shot abort signal on an `EventEmitter`, for the request path: `AbortController` and
 * `EventTarget` cost several microseconds per request in Node, and every /v1 request needs two
 * (the client's hang-up, the upstream call). undici accepts an EventEmitter with `aborted` and
 * `reason` as its `signal`.
 */
export class Cancellation extends EventEmitter implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;

  abort(reason?: unknown): void {
    if (this.aborted) {
      return;
    }
    this.aborted = true;
    this.reason = reason ?? new CallerAbortError();
    this.emit('abort');
  }

  /**
   * Always once: `abort` is emitted at most one time, so a plain listener is a once listener
   * (`once()` would wrap each in a bound function, on every request).
   */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    this.on('abort', listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.removeListener('abort', listener);
  }

  /** Aborts this one when `signal` aborts; returns the function that stops following it. */
  follow(signal: CancelSignal | undefined): () => void {
    if (!signal) {
      return noop;
    }
    if (signal.aborted) {
      this.abort(signal.reason);
      return noop;
    }
    const onAbort = () => this.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }
}

function noop(): void {}
