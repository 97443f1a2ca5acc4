import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, Logger } from 'pino';

/**
 * The logger of the request being served: Fastify's `request.log`, a pino child bound to the
 * request's `reqId`. Code that writes a line about one request gets it passed explicitly (in
 * the upstream call, the pick, the turn command) rather than finding it in an
 * `AsyncLocalStorage`: on Node 20 an entered scope turns async hooks on for the whole process,
 * about a quarter of a burst SSE stream's CPU (docs/notes/code-structure.md#logging).
 */
export type RequestLog = FastifyBaseLogger;

/**
 * Adds `bindings` to every later line of the request, its `request` line included (pino
 * `setBindings`: no line of its own).
 */
export function bindToRequestLine(log: RequestLog, bindings: Bindings): void {
  // Fastify's request logger is a pino child; its public type omits `setBindings`.
  (log as unknown as Logger).setBindings(bindings);
}
