import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { HEADER, JSON_TYPE } from 'src/common/http/headers';
import { routeTemplateOf } from 'src/common/http/route-template';
import { AppConfig } from 'src/config/load-config';
import { errorEnvelope } from 'src/common/errors/api-error';
import { BodyRateWatch } from 'src/modules/lifecycle/body-rate';
import { ConnectionCaps } from 'src/modules/lifecycle/connection-caps';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';
import { RouteCell } from 'src/modules/metrics/http-request-stats';
import { MetricsService } from 'src/modules/metrics/metrics.service';

const kReply = Symbol('parley.reply');
const kCell = Symbol('parley.routeCell');
const kAdmission = Symbol('parley.admission');

/**
 * Which budget a request counts in: `pending` (MAX_UNAUTHENTICATED_IN_FLIGHT) from its headers
 * until its body has arrived, unless it carries a recognised key; `admitted` (MAX_IN_FLIGHT)
 * from then on. Unset: counted in neither (shed-exempt routes, refusals while draining).
 */
type Admission = 'pending' | 'admitted';

type TrackedResponse = ServerResponse & {
  [kReply]: FastifyReply;
  [kCell]: RouteCell;
  [kAdmission]?: Admission;
};

/** Seconds a refused client should wait before retrying. */
const RETRY_AFTER_SECS = '1';
const OVERLOADED_BODY = JSON.stringify(
  errorEnvelope(
    'server_overloaded',
    'The gateway is at its limit of requests in flight; retry after the delay in retry-after',
  ),
);
const UNAUTHENTICATED_OVERLOADED_BODY = JSON.stringify(
  errorEnvelope(
    'server_overloaded',
    'The gateway is at its limit of requests from unrecognised callers; retry after the delay in retry-after',
  ),
);
const DRAINING_BODY = JSON.stringify(
  errorEnvelope('server_overloaded', 'The gateway is shutting down; retry on another instance'),
);

/**
 * Installs the per-request bookkeeping as the very first `onRequest` hook (Nest's adapter
 * reserves that slot for `setOnRequestHook`), before body parsing and before Nest's own hooks:
 * request id header, in-flight count, load shedding and refusal while draining (see
 * `Admission`: `MAX_IN_FLIGHT` for recognised keys and received bodies,
 * `MAX_UNAUTHENTICATED_IN_FLIGHT` for the rest), the body-rate watch, the connection caps, and — when the response closes, completed or not — the request metrics and the
 * one structured log line. `/healthz` and `/metrics` are never refused.
 *
 * The hot path is kept small: one Map lookup for the route's stats cell (the route template
 * read once, `routeTemplateOf`), one `close` listener, a few increments of
 * plain numbers, and the log line; the Prometheus text is built only when scraped. Completion is taken from the response's `close`
 * event rather than Fastify's `onResponse` (which runs on `finish` only), so aborted requests
 * leave the in-flight count too.
 */
export function installRequestHooks(
  adapter: FastifyAdapter,
  lifecycle: LifecycleService,
  metrics: MetricsService,
  config: AppConfig,
  isRecognised: (headers: IncomingHttpHeaders) => boolean,
): void {
  const stats = metrics.http;
  const maxInFlight = config.http.maxInFlight;
  const maxPending = config.http.maxUnauthenticatedInFlight;
  let admitted = 0;
  let pending = 0;
  const connections = new ConnectionCaps(
    config.http.maxConnections,
    config.http.maxConnectionsPerAddress,
    (reason) => metrics.clientErrors.inc({ reason }),
  );
  connections.attach(adapter.getInstance().server);
  const bodies = new BodyRateWatch(config.http.minBodyBytesPerSec, (request: IncomingMessage) => {
    metrics.clientErrors.inc({ reason: 'body_too_slow' });
    const socket = request.socket;
    if (socket.writable) {
      socket.write(
        'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
      );
    }
    socket.destroy();
  });
  const logContent = config.log.content;
  metrics.sampleInFlightFrom(() => lifecycle.requestsInFlight);

  function onResponseClose(this: TrackedResponse): void {
    lifecycle.requestsInFlight--;
    if (this[kAdmission] === 'admitted') {
      admitted--;
    } else if (this[kAdmission] === 'pending') {
      pending--;
    }
    connections.done(this.req.socket);
    bodies.settle(this.req);
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

  /**
   * 503 `server_overloaded`. `isClosing`: while draining, and when refusing before the body was
   * read (the connection is closed rather than made to read a body nobody will use).
   */
  function refuse(reply: FastifyReply, body: string, isClosing: boolean): void {
    metrics.refusals.inc({ code: 'server_overloaded' });
    void reply
      .code(503)
      .header(HEADER.retryAfter, RETRY_AFTER_SECS)
      .header('content-type', JSON_TYPE);
    if (isClosing) {
      void reply.header('connection', 'close');
    }
    void reply.send(body);
  }

  adapter.setOnRequestHook((request, reply, done) => {
    const res = reply.raw as TrackedResponse;
    const cell = stats.cellFor(routeTemplateOf(request));
    res[kReply] = reply;
    res[kCell] = cell;
    res.on('close', onResponseClose);
    ++lifecycle.requestsInFlight;
    connections.busy(request.raw.socket);
    void reply.header(HEADER.requestId, request.id);
    if (lifecycle.isDraining) {
      if (!cell.isShedExempt) {
        refuse(reply, DRAINING_BODY, true);
        return;
      }
      void reply.header('connection', 'close');
    }
    if (cell.isShedExempt) {
      done();
      return;
    }
    bodies.watch(request.raw);
    if (isRecognised(request.headers)) {
      res[kAdmission] = 'admitted';
      if (++admitted > maxInFlight) {
        refuse(reply, OVERLOADED_BODY, true);
        return;
      }
    } else {
      // Until its body has arrived (and the guard can look at its key), an unrecognised
      // caller's request uses only its own small budget: trickling bodies cannot lock key
      // holders out (#22 item 3).
      res[kAdmission] = 'pending';
      if (++pending > maxPending) {
        refuse(reply, UNAUTHENTICATED_OVERLOADED_BODY, true);
        return;
      }
    }
    done();
  });

  adapter.getInstance().addHook('preHandler', (request, reply, done) => {
    const res = reply.raw as TrackedResponse;
    bodies.settle(request.raw);
    if (res[kAdmission] === 'pending') {
      pending--;
      res[kAdmission] = 'admitted';
      if (++admitted > maxInFlight) {
        refuse(reply, OVERLOADED_BODY, false);
        return;
      }
    }
    done();
  });
}
