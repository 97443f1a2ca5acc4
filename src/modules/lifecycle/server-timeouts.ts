import type { ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { AppConfig } from 'src/config/load-config';
import { MetricsService } from 'src/modules/metrics/metrics.service';

export interface ServerTimeoutOptions {
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
  http: ServerOptions;
}

/**
 * The Fastify/Node server timeouts, set deliberately (see docs/notes/operations.md):
 * - `headersTimeout` (SERVER_HEADERS_TIMEOUT_SECS): the request line and headers must arrive
 *   within it, whether the client sends nothing or one byte at a time (slowloris);
 * - `requestTimeout` (SERVER_REQUEST_TIMEOUT_SECS): the whole request, body included, must
 *   arrive within it. Node stops this clock once the request is fully received, so it never
 *   cuts a response, and streams may run as long as HTTP_TOTAL_TIMEOUT_SECS;
 * - `keepAliveTimeout` (SERVER_KEEPALIVE_TIMEOUT_SECS): idle time between two requests;
 * - no socket inactivity timeout (`connectionTimeout: 0`): a stream may be silent for as long
 *   as the upstream idle timeout allows, and a client that stops reading is bounded by
 *   back-pressure and the total timeout;
 * - `connectionsCheckingInterval`: Node enforces the first two only when this timer ticks
 *   (30 s by default, which would let a 10 s header timeout run to 40 s), so it ticks at a
 *   quarter of the shorter timeout, between 100 ms and 1 s.
 */
export function serverTimeoutOptions(http: AppConfig['http']): ServerTimeoutOptions {
  const shortest = Math.min(http.headersTimeoutMs, http.requestTimeoutMs);
  return {
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    connectionTimeout: 0,
    http: {
      headersTimeout: http.headersTimeoutMs,
      connectionsCheckingInterval: Math.round(Math.min(1000, Math.max(100, shortest / 4))),
    },
  };
}

const RESPONSES: Record<string, { reason: string; head: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { reason: 'request_timeout', head: '408 Request Timeout' },
  HPE_HEADER_OVERFLOW: { reason: 'header_overflow', head: '431 Request Header Fields Too Large' },
};
const BAD_REQUEST = { reason: 'bad_request', head: '400 Bad Request' };

/**
 * Fastify's `clientErrorHandler`: what happens to a connection the HTTP parser or the server
 * timeouts gave up on (slow headers, slow body, oversized headers, malformed HTTP). It answers
 * with a bare status line and closes, counts the cut in `parley_client_errors_total`, and logs
 * at debug level. (The error catalog has no code for these: there is no request to answer.)
 * `countWith()` attaches the metrics once Nest has built them.
 */
export class ClientErrorHandler {
  private metrics?: MetricsService;

  countWith(metrics: MetricsService): void {
    this.metrics = metrics;
  }

  readonly handle = (
    fastify: FastifyInstance,
    error: Error & { code?: string },
    socket: Socket,
  ) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) {
      return;
    }
    const response = RESPONSES[error.code ?? ''] ?? BAD_REQUEST;
    this.metrics?.clientErrors.inc({ reason: response.reason });
    fastify.log.debug({ reason: response.reason, code: error.code }, 'client connection cut');
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${response.head}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    socket.destroy();
  };

  /** The function to pass as Fastify's `clientErrorHandler` (Fastify binds `this` to itself). */
  asFastifyOption(): (this: FastifyInstance, error: Error, socket: Socket) => void {
    const handle = this.handle;
    return function (this: FastifyInstance, error: Error, socket: Socket) {
      handle(this, error, socket);
    };
  }
}
