import type { FastifyReply } from 'fastify';
import { ApiError } from 'src/common/errors/api-error';

/** Writes a catalog error from a Fastify hook, where Nest's exception filter does not run. */
export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply
    .status(error.status)
    .headers(error.headers)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(error.toEnvelope()));
}
