import type { FastifyReply } from 'fastify';
import { JSON_TYPE } from 'src/common/http/headers';
import { ApiError } from 'src/common/errors/api-error';

/** Writes a catalog error from a Fastify hook, where Nest's exception filter does not run. */
export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply
    .status(error.status)
    .headers(error.headers)
    .header('content-type', JSON_TYPE)
    .send(JSON.stringify(error.toEnvelope()));
}
