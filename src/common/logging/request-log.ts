import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';

/**
 * The logger of the request being served, found through the async context instead of being
 * passed down through call options: any code running for a request (controllers, services,
 * the upstream client, Nest `Logger`s) logs with its request id. Outside a request (boot,
 * timers) there is none.
 */
const scope = new AsyncLocalStorage<FastifyBaseLogger>();

/** The current request's logger (pino child with `reqId`), or undefined outside a request. */
export function requestLog(): FastifyBaseLogger | undefined {
  return scope.getStore();
}

/** Runs `fn` as code serving a request whose logger is `log` (the hook below; benchmarks). */
export function runWithRequestLog<T>(log: FastifyBaseLogger, fn: () => T): T {
  return scope.run(log, fn);
}

/**
 * Opens the scope as the first hook of every request. Fastify binds the body parser and the
 * handlers to the async context in which the hook chain continues, so the scope holds until
 * the reply is sent, across awaits and stream callbacks started from it.
 */
export function installRequestLogScope(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    scope.run(request.log, done);
  });
}
