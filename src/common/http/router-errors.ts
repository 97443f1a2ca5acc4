import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { sendApiError } from 'src/common/http/send-error';
import { ApiError } from 'src/common/errors/api-error';

/**
 * Fastify's `frameworkErrors`: the router's own refusals, which happen before any hook or
 * Nest code and otherwise leave Fastify's bare JSON (#22 item 10). Both become 400
 * `invalid_path` in the catalog envelope, with the request id:
 * - `FST_ERR_BAD_URL`: a `%` escape that does not decode (`/c1/conversations/%zz`);
 * - `FST_ERR_MAX_PARAM_LENGTH`: a path parameter over the router's `maxParamLength` (200), which
 *   no id the gateway issues comes near (Fastify's own status, 414, would name no code).
 */
export function answerRouterError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  void reply.header(HEADER.requestId, request.id);
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'A path parameter is longer than 200 characters'
      : 'The path holds an invalid percent-escape';
  sendApiError(reply, new ApiError('invalid_path', message));
}
