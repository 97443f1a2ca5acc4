import { ERROR_CATALOG, ErrorCode, ErrorType } from 'src/common/errors/error-catalog';

export interface ErrorEnvelope {
  error: { type: ErrorType; code: ErrorCode; message: string; param: string | null };
}

export interface ApiErrorOptions {
  param?: string | null;
  headers?: Record<string, string>;
  cause?: unknown;
  /**
   * The failure is the client's doing although its status is 5xx (a model server's 4xx to a
   * request the gateway passed on, answered as `upstream_error`): logged as a warning, without
   * a stack (#22 item 12).
   */
  isClientCaused?: boolean;
}

/**
 * The only error Parley throws on purpose. Status and type come from the catalog, never from
 * the call site, so every layer answers with the same envelope for the same code.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  readonly isClientCaused: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry = ERROR_CATALOG[code];
    this.status = entry.status;
    this.type = entry.type;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.isClientCaused = options.isClientCaused ?? false;
  }

  toEnvelope(): ErrorEnvelope {
    return errorEnvelope(this.code, this.message, this.param);
  }
}

export function errorEnvelope(
  code: ErrorCode,
  message: string,
  param: string | null = null,
): ErrorEnvelope {
  return { error: { type: ERROR_CATALOG[code].type, code, message, param } };
}
