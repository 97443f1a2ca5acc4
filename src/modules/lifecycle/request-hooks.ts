import type { ServerResponse } from 'node:http';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AppConfig } from 'src/config/load-config';
import { errorEnvelope } from 'src/common/errors/api-error';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';
import { RouteCell } from 'src/modules/metrics/http-request-stats';
import { MetricsService } from 'src/modules/metrics/metrics.service';

const kReply = Symbol('parley.reply');
const kCell = Symbol('parley.routeCell');

type TrackedResponse = ServerResponse & { [kReply]: FastifyReply; [kCell]: RouteCell };

/** Seconds a refused client should wait before retrying. */
const RETRY_AFTER_SECS = '1';
const OVERLOADED_BODY = JSON.stringify(
  errorEnvelope(
    'server_overloaded',
    'The gateway is at its limit of requests in flight; retry after the delay in retry-after',
  ),
);
const DRAINING_BODY = JSON.stringify(
  errorEnvelope('server_overloaded', 'The gateway is shutting down; retry on another instance'),
);

/**
 * Installs the per-request bookkeeping as the very first `onRequest` hook (Nest's adapter
 * reserves that slot for `setOnRequestHook`), before body parsing and before Nest's own hooks:
 * request id header, in-flight count, load shedding (`MAX_IN_FLIGHT`) and refusal while
 * draining, and — when the response closes, completed or not — the request metrics and the
 * one structured log line. `/healthz` and `/metrics` are never refused.
 *
 * The hot path is kept small: one Map lookup for the route's stats cell (Fastify's
 * `routeOptions` getter builds one small object), one `close` listener, a few increments of
 * plain numbers, and the log line; the Prometheus text is built only when scraped. Completion is taken from the response's `close`
 * event rather than Fastify's `onResponse` (which runs on `finish` only), so aborted requests
 * leave the in-flight count too.
 */
export function installRequestHooks(
  adapter: FastifyAdapter,
  lifecycle: LifecycleService,
  metrics: MetricsService,
  config: AppConfig,
): void {
  const stats = metrics.http;
  const maxInFlight = config.http.maxInFlight;
  const logContent = config.log.content;
  metrics.sampleInFlightFrom(() => lifecycle.requestsInFlight);

  function onResponseClose(this: TrackedResponse): void {
    lifecycle.requestsInFlight--;
    const reply = this[kReply];
    const cell = this[kCell];
    const isAborted = !this.writableFinished;
    const ms = reply.elapsedTime;
    cell.record(this.req.method ?? 'GET', this.statusCode, isAborted, ms / 1000);
    const request = reply.request;
    request.log.info(
      {
        method: request.method,
        route: cell.route,
        status: this.statusCode,
        aborted: isAborted || undefined,
        ms: Math.round(ms * 100) / 100,
        key_id: request.auth?.keyId,
        user_id: request.auth?.userId,
        model: request.modelAlias,
        body: logContent ? request.body : undefined,
      },
      'request',
    );
  }

  function refuse(reply: FastifyReply, body: string, isDraining: boolean): void {
    metrics.refusals.inc({ code: 'server_overloaded' });
    void reply
      .code(503)
      .header(HEADER.retryAfter, RETRY_AFTER_SECS)
      .header('content-type', 'application/json; charset=utf-8');
    if (isDraining) {
      void reply.header('connection', 'close');
    }
    void reply.send(body);
  }

  adapter.setOnRequestHook((request, reply, done) => {
    const res = reply.raw as TrackedResponse;
    const cell = stats.cellFor(request.routeOptions.url);
    res[kReply] = reply;
    res[kCell] = cell;
    res.on('close', onResponseClose);
    const inFlight = ++lifecycle.requestsInFlight;
    void reply.header(HEADER.requestId, request.id);
    if (lifecycle.isDraining) {
      if (!cell.isShedExempt) {
        refuse(reply, DRAINING_BODY, true);
        return;
      }
      void reply.header('connection', 'close');
    } else if (inFlight > maxInFlight && !cell.isShedExempt) {
      refuse(reply, OVERLOADED_BODY, false);
      return;
    }
    done();
  });
}
