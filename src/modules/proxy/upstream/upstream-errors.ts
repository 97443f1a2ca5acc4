import { ApiError } from 'src/common/errors/api-error';

/** Abort reason of the total-timeout timer (HTTP_TOTAL_TIMEOUT_SECS). */
export class TotalTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`total timeout of ${timeoutMs} ms`);
    this.name = 'TotalTimeoutError';
  }
}

/** Abort reason of the stream watchdog: nothing arrived for HTTP_IDLE_TIMEOUT_SECS. */
export class IdleTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`idle timeout of ${timeoutMs} ms`);
    this.name = 'IdleTimeoutError';
  }
}

/** Abort reason when the caller gave up (the client hung up, or /c1 cancel). */
export class CallerAbortError extends Error {
  constructor() {
    super('The request was cancelled by its caller');
    this.name = 'CallerAbortError';
  }
}

/**
 * How an upstream exchange failed, which decides retry and code (STYLE §8):
 * - `connect`: no response could have started (refused, unreachable, connect timeout, reset
 *   before any response byte) → retried once, then 503 `upstream_unavailable`;
 * - `first_byte_timeout` / `idle_timeout` / `total_timeout` → 504 `upstream_timeout`, never retried;
 * - `closed`: the connection ended mid-answer → 502 `upstream_error`;
 * - `aborted`: the caller gave up;
 * - `other` → 502 `upstream_error`.
 */
export type FailureKind =
  | 'connect'
  | 'first_byte_timeout'
  | 'idle_timeout'
  | 'total_timeout'
  | 'closed'
  | 'aborted'
  | 'other';

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

function codeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.code === 'string') {
    return e.code;
  }
  return typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
}

/**
 * Classifies a failure. `phase` says whether response headers had arrived: before them, a reset
 * counts as a connect failure (nothing was answered, a retry is safe); after them it is a cut.
 */
export function classifyFailure(
  error: unknown,
  signal: { readonly aborted: boolean; readonly reason: unknown },
  phase: 'before_headers' | 'body',
): FailureKind {
  if (signal.aborted) {
    if (signal.reason instanceof TotalTimeoutError) {
      return 'total_timeout';
    }
    return signal.reason instanceof IdleTimeoutError ? 'idle_timeout' : 'aborted';
  }
  const code = codeOf(error);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return 'first_byte_timeout';
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return 'idle_timeout';
  }
  if (phase === 'before_headers') {
    return code !== undefined && CONNECT_CODES.has(code) ? 'connect' : 'other';
  }
  if (code !== undefined && (CONNECT_CODES.has(code) || code === 'UND_ERR_ABORTED')) {
    return 'closed';
  }
  if (error instanceof Error && /terminated|closed|aborted|premature/i.test(error.message)) {
    return 'closed';
  }
  return 'other';
}

export interface TimeoutSettings {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
}

/** Seconds a client should wait before retrying an `upstream_unavailable`. */
export const UNAVAILABLE_RETRY_AFTER_SECS = 5;

const secs = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** The catalog error a failure becomes. Messages name the setting, never a URL or a header. */
export function failureToApiError(
  kind: FailureKind,
  alias: string,
  timeouts: TimeoutSettings,
  cause?: unknown,
): ApiError {
  switch (kind) {
    case 'connect':
      return new ApiError(
        'upstream_unavailable',
        `No model server for "${alias}" accepted the connection (tried twice)`,
        { headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECS) }, cause },
      );
    case 'first_byte_timeout':
      return new ApiError(
        'upstream_timeout',
        `The model server for "${alias}" did not start answering within ${secs(timeouts.firstByteTimeoutMs)} (HTTP_FIRST_BYTE_TIMEOUT_SECS)`,
        { cause },
      );
    case 'idle_timeout':
      return new ApiError(
        'upstream_timeout',
        `The model server for "${alias}" sent nothing for ${secs(timeouts.idleTimeoutMs)} (HTTP_IDLE_TIMEOUT_SECS)`,
        { cause },
      );
    case 'total_timeout':
      return new ApiError(
        'upstream_timeout',
        `The model server for "${alias}" did not finish within ${secs(timeouts.totalTimeoutMs)} (HTTP_TOTAL_TIMEOUT_SECS)`,
        { cause },
      );
    case 'closed':
      return new ApiError(
        'upstream_error',
        `The model server for "${alias}" closed the connection before the answer was complete`,
        { cause },
      );
    case 'aborted':
      return new ApiError('upstream_error', 'The request was cancelled by the client', { cause });
    case 'other':
      return new ApiError(
        'upstream_error',
        `The request to the model server for "${alias}" failed`,
        {
          cause,
        },
      );
  }
}
