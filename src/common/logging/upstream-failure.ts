import type { FastifyBaseLogger } from 'fastify';
import type { ErrorCode } from 'src/common/errors/error-catalog';

/** What an operator needs to act on one failed upstream attempt. */
export interface UpstreamFailure {
  /** The catalog alias the request asked for. */
  model: string;
  /** The upstream base URL; logged without credentials, query or fragment (`redactUrl`). */
  upstreamUrl: string;
  /** The catalog code the client gets for this failure (or would, without a retry). */
  code: ErrorCode;
  /** 1 for the first attempt, 2 for the retry. */
  attempt: number;
  /** True when the gateway retries (connect failures, on the next upstream). */
  willRetry: boolean;
  /** Where it failed: before a connection, before headers, while reading a body or stream. */
  phase: 'connect' | 'headers' | 'body' | 'stream';
  /** The upstream's HTTP status, when it answered. */
  upstreamStatus?: number;
  /** The low-level error code: `ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`, `UND_ERR_HEADERS_TIMEOUT`… */
  errorCode?: string;
  /** Milliseconds from the start of this attempt to the failure. */
  elapsedMs?: number;
  /**
   * The upstream's own error text. Logged only with LOG_CONTENT=true (the logger redacts the
   * field otherwise): upstreams sometimes echo the prompt in validation errors.
   */
  upstreamMessage?: string;
}

/**
 * Logs one failed upstream attempt as a single `upstream failure` line (warn) with fixed
 * snake_case fields, in the request's logger so the line carries its `reqId`:
 * `model, upstream, code, attempt, will_retry, phase, upstream_status, error_code, elapsed_ms,
 * upstream_message` (the last redacted unless LOG_CONTENT=true). Never a key or a header.
 */
export function logUpstreamFailure(log: FastifyBaseLogger, failure: UpstreamFailure): void {
  log.warn(
    {
      model: failure.model,
      upstream: redactUrl(failure.upstreamUrl),
      code: failure.code,
      attempt: failure.attempt,
      will_retry: failure.willRetry,
      phase: failure.phase,
      upstream_status: failure.upstreamStatus,
      error_code: failure.errorCode,
      elapsed_ms: failure.elapsedMs === undefined ? undefined : Math.round(failure.elapsedMs),
      upstream_message: failure.upstreamMessage?.slice(0, 500),
    },
    'upstream failure',
  );
}

/** `scheme://host:port/path` of a URL: no user, password, query or fragment. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '[unparseable url]';
  }
}
