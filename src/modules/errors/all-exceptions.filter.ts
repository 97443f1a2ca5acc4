import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { JSON_TYPE } from 'src/common/http/headers';
import { ThrottlerException } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TypeORMError } from 'typeorm';
import { ApiError } from 'src/common/errors/api-error';

/** The `context` of the filter's lines, as a Nest `Logger('errors')` would write it. */
const LOG_CONTEXT = { context: 'errors' };

/**
 * Writes every error envelope, whatever layer raised it. Fastify's own errors (body limit,
 * content-type parsing) reach this filter as raw FastifyErrors on Nest 11 (nestjs/nest#15022),
 * so they are recognised by their `code`. Its lines go to the request's logger (`reqId`).
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const error = this.toApiError(exception, request);
    if (reply.sent || reply.raw.headersSent) {
      // A stream already started: its own code writes the final error event (see sse/).
      return;
    }
    if (error.isClientCaused) {
      // The upstream client already logged the attempt (`upstream failure`, warn).
      request.log.warn(
        LOG_CONTEXT,
        `${error.code} on request ${String(request.id)}: refused upstream`,
      );
    } else if (error.status >= 500) {
      request.log.error(
        LOG_CONTEXT,
        `${error.code} on request ${String(request.id)}: ${describeForLog(exception)}`,
      );
    }
    void reply
      .status(error.status)
      .headers(error.headers)
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify(error.toEnvelope()));
  }

  toApiError(exception: unknown, request: FastifyRequest): ApiError {
    if (exception instanceof ApiError) {
      return exception;
    }
    if (exception instanceof ThrottlerException) {
      return new ApiError('rate_limit_exceeded', 'Too many requests', { cause: exception });
    }
    const fastifyError = asFastifyError(exception);
    if (fastifyError) {
      if (fastifyError.statusCode === 413) {
        return new ApiError('body_too_large', 'Request body is larger than the gateway accepts');
      }
      if (fastifyError.statusCode === 415) {
        return new ApiError('invalid_json', 'Content-Type must be application/json');
      }
      if (fastifyError.statusCode === 400) {
        return new ApiError(
          'invalid_json',
          `Request body is not valid JSON: ${fastifyError.message}`,
        );
      }
    }
    if (exception instanceof HttpException) {
      // Nest wraps Fastify's router and body-parser failures in HttpExceptions by status.
      switch (exception.getStatus()) {
        case 404: {
          const route = `${request.method} ${request.url.split('?')[0]}`;
          return new ApiError('route_not_found', `No route for ${route.slice(0, 200)}`);
        }
        case 413:
          return new ApiError('body_too_large', 'Request body is larger than the gateway accepts');
        case 415:
          return new ApiError('invalid_json', 'Content-Type must be application/json');
        case 400:
          return new ApiError(
            'invalid_json',
            `Request body is not valid JSON: ${exception.message}`,
          );
      }
    }
    if (exception instanceof TypeORMError || isDriverError(exception)) {
      request.log.error(LOG_CONTEXT, `storage failure: ${(exception as Error).message}`);
      return new ApiError('storage_error', 'The database could not complete the request', {
        cause: exception,
      });
    }
    return new ApiError('internal_error', 'Internal error', { cause: exception });
  }
}

interface FastifyLikeError {
  code: string;
  statusCode: number;
  message: string;
}

function asFastifyError(exception: unknown): FastifyLikeError | null {
  const e = exception as Partial<FastifyLikeError> | null;
  if (
    e &&
    typeof e.statusCode === 'number' &&
    e.statusCode < 500 &&
    !(e instanceof HttpException)
  ) {
    return e as FastifyLikeError;
  }
  return null;
}

/**
 * What the log says about a 5xx. An `ApiError`'s message is written for the client and may
 * quote the upstream's answer (which may echo the prompt), so only its stack frames and its
 * cause are logged; the upstream client logs upstream failures itself, their text redacted
 * unless LOG_CONTENT=true. Anything else is unexpected: its whole stack.
 */
function describeForLog(exception: unknown): string {
  if (!(exception instanceof ApiError)) {
    return exception instanceof Error ? (exception.stack ?? exception.message) : String(exception);
  }
  const frames = (exception.stack ?? '').split('\n').slice(1).join('\n');
  const cause = exception.cause;
  if (cause instanceof Error && !(cause instanceof ApiError)) {
    return `ApiError(${exception.code})\n${frames}\ncaused by ${cause.stack ?? cause.message}`;
  }
  return `ApiError(${exception.code})\n${frames}`;
}

/**
 * Errors the database drivers throw outside TypeORM's QueryFailedError: when a connection
 * cannot be had (refused, terminated, not accepting connections), the pool rejects with the
 * driver's own error. A PostgreSQL server error carries a `severity` and a 5-character
 * SQLSTATE `code`; node-postgres's connection failures carry no code, only these messages.
 */
const PG_CONNECTION_FAILURE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

function isDriverError(exception: unknown): boolean {
  const e = exception as { code?: unknown; severity?: unknown; message?: unknown } | null;
  const code = e?.code;
  if (typeof code === 'string') {
    if (typeof e?.severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      return true;
    }
    return /^(SQLITE_|ECONNREFUSED$|57P0|08)/.test(code);
  }
  return exception instanceof Error && PG_CONNECTION_FAILURE.test(exception.message);
}
