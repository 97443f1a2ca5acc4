import { applyDecorators, Post, Type } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import { ErrorCode } from 'src/common/errors/error-catalog';
import { HEADER } from 'src/common/http/headers';
import { HotRoute } from 'src/common/http/hot-routes/hot-route.decorator';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { UPSTREAM_ERRORS } from 'src/modules/proxy/route-errors';
import { headerRef } from 'src/openapi-conventions';

export interface V1RouteOptions {
  summary: string;
  body: Type;
  response: Type;
  /** What the 200 answer is (passed through, translated, streamed). */
  description: string;
  /** What checking the request can refuse (`CHAT_REQUEST_ERRORS`, `MODEL_REQUEST_ERRORS`). */
  requestErrors: ErrorCode[];
  /** Answers SSE with `stream: true`, and reports applied bounds in `x-parley-applied`. */
  isChat: boolean;
}

/**
 * A `/v1` route that forwards a request to a model upstream: served as a hot route, with the
 * OpenAPI every such route shares (an API key, the request's own refusals, upstream failures).
 */
export function V1Route(path: string, options: V1RouteOptions): MethodDecorator {
  return applyDecorators(
    HotRoute(),
    Post(path),
    ApiOperation({ summary: options.summary }),
    ApiBody({ type: options.body }),
    ...(options.isChat ? [ApiProduces('application/json', 'text/event-stream')] : []),
    ApiOkResponse({
      type: options.response,
      headers: options.isChat ? { [HEADER.applied]: headerRef(HEADER.applied) } : undefined,
      description: options.description,
    }),
    ApiErrors(
      'missing_authorization',
      'invalid_authorization',
      ...options.requestErrors,
      ...UPSTREAM_ERRORS,
    ),
  );
}
