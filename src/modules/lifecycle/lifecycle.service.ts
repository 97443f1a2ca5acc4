import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';

/** What a piece of tracked work is, for logs and `parley_shutdown_cut_total`. */
export type TrackedKind = 'stream' | 'turn' | 'request';

/** The handle `LifecycleService.track()` returns. */
export interface TrackedWork {
  /** Stops tracking. Idempotent: call it in a `finally`, on success, error and abort alike. */
  done(): void;
}

/** Time kept at the end of the grace period for cut work to finish (final event, store). */
const FINALIZE_RESERVE_MS = 2_000;
const POLL_MS = 20;

class Tracked implements TrackedWork {
  private isCut = false;

  constructor(
    readonly kind: TrackedKind,
    private readonly onDeadline: () => void,
    private readonly owner: Set<Tracked>,
  ) {}

  done(): void {
    this.owner.delete(this);
  }

  cut(log: FastifyBaseLogger | undefined): void {
    if (this.isCut) {
      return;
    }
    this.isCut = true;
    try {
      this.onDeadline();
    } catch (error) {
      log?.error({ err: error, kind: this.kind }, 'shutdown: onDeadline callback failed');
    }
  }
}

/**
 * Graceful shutdown and the registry of work in flight.
 *
 * The request hooks (`request-hooks.ts`) count HTTP requests in `requestsInFlight` and refuse
 * new ones with 503 `server_overloaded` once `isDraining` is true. Code that runs longer than a
 * plain request/response, or past the client's connection, registers with `track()`: streams
 * (`/v1` and `/c1` SSE) and `/c1` turns finishing in the background after a client left.
 *
 * `drain()` (SIGTERM/SIGINT, and `app.close()` through `beforeApplicationShutdown`):
 * 1. sets `isDraining` and closes the listener (no new connections); a request that still
 *    arrives on a kept-alive connection gets 503 `server_overloaded` with `connection: close`
 *    (idle connections are not cut under it: the client gets an answer, not a reset);
 * 2. waits until no request is in flight and nothing is tracked, at most
 *    `SHUTDOWN_GRACE_SECS` minus a finalisation reserve (2 s, or a quarter of the grace);
 * 3. then calls `onDeadline` of everything still tracked, waits until the grace period ends
 *    for it to call `done()`, and closes every remaining connection.
 * Nest then closes Fastify and, in `onApplicationShutdown`, the database.
 */
@Injectable()
export class LifecycleService implements BeforeApplicationShutdown {
  /** HTTP requests in flight. Maintained by the request hooks only. */
  requestsInFlight = 0;
  private draining = false;
  private deadlinePassed = false;
  private drainPromise?: Promise<void>;
  private readonly tracked = new Set<Tracked>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** True once a shutdown started: new requests are refused; don't start optional work. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** How many pieces of work are registered through `track()`. */
  get trackedCount(): number {
    return this.tracked.size;
  }

  /**
   * Registers work the shutdown must wait for: a stream being written, a `/c1` turn finishing
   * after its client left. Cheap (one small object, a Set insert). Call `done()` when it ends.
   *
   * Keep it registered until everything that must happen before the process exits is done:
   * a `/c1` turn stays registered until its assistant turn is stored, because once the HTTP
   * response has ended (or the client left) nothing else keeps the shutdown waiting, and the
   * database is closed right after the drain.
   *
   * `onDeadline` runs at most once, and only if the work is still registered when the grace
   * period runs out (at once if it already has). It must make the work end promptly and must
   * not throw:
   * - a stream writes one final SSE error event (`shutdownError()`'s envelope as
   *   `data: {"error":…}`), ends the response and aborts its upstream request;
   * - a `/c1` turn aborts its upstream and stores what it received as `incomplete`;
   * and then calls `done()` as usual. The shutdown waits for that until the grace period ends
   * (at least the finalisation reserve), then closes the remaining connections.
   *
   * @example
   * const work = this.lifecycle.track('stream', () => {
   *   sse.writeError(shutdownError());
   *   upstreamAbort.abort();
   * });
   * try { await pipeStream(); } finally { work.done(); }
   */
  track(kind: TrackedKind, onDeadline: () => void): TrackedWork {
    const work = new Tracked(kind, onDeadline, this.tracked);
    this.tracked.add(work);
    if (this.deadlinePassed) {
      setImmediate(() => work.cut(this.log()));
    }
    return work;
  }

  /**
   * Stops accepting work and waits for what is in flight, within the grace period (see the
   * class comment). Idempotent: every call returns the same promise. Never rejects.
   */
  drain(): Promise<void> {
    this.drainPromise ??= this.runDrain();
    return this.drainPromise;
  }

  /** `app.close()` without a signal (tests, the OpenAPI export) drains the same way. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  private async runDrain(): Promise<void> {
    const startedAt = this.clock();
    const grace = this.config.http.shutdownGraceMs;
    const reserve = Math.min(FINALIZE_RESERVE_MS, grace / 4);
    const log = this.log();
    const server = this.httpServer();
    this.draining = true;
    log?.info(
      { requests_in_flight: this.requestsInFlight, tracked: this.tracked.size, grace_ms: grace },
      'shutdown: draining',
    );
    if (server?.listening) {
      // `net.Server#close` stops accepting without closing the idle keep-alive connections, as
      // `http.Server#close` would (Node >= 19): a request a client sends on one of them during
      // the drain gets 503 with `connection: close` instead of a reset connection (#22 item 12).
      // They are closed with the rest at the end of the drain.
      if (server instanceof NetServer) {
        NetServer.prototype.close.call(server, () => undefined);
      } else {
        (server as Server).close(() => undefined);
      }
    }
    let isIdle = await this.waitForIdle(startedAt + grace - reserve);
    if (!isIdle) {
      this.deadlinePassed = true;
      const byKind = this.countTracked();
      log?.warn(
        { requests_in_flight: this.requestsInFlight, ...byKind },
        'shutdown: grace period over, cutting tracked work',
      );
      for (const [kind, count] of Object.entries(byKind)) {
        this.metrics.shutdownCuts.inc({ kind }, count);
      }
      for (const work of [...this.tracked]) {
        work.cut(log);
      }
      isIdle = await this.waitForIdle(startedAt + grace);
    }
    if (!isIdle) {
      log?.warn(
        { requests_in_flight: this.requestsInFlight, tracked: this.tracked.size },
        'shutdown: closing the connections still open',
      );
      this.metrics.shutdownCuts.inc({ kind: 'connection' }, this.requestsInFlight);
    }
    server?.closeAllConnections();
    log?.info({ ms: this.clock() - startedAt }, 'shutdown: drained');
  }

  /** Resolves true once nothing is in flight, false if `deadline` (epoch ms) comes first. */
  private async waitForIdle(deadline: number): Promise<boolean> {
    for (;;) {
      if (this.requestsInFlight <= 0 && this.tracked.size === 0) {
        return true;
      }
      const left = deadline - this.clock();
      if (left <= 0) {
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
    }
  }

  private countTracked(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const work of this.tracked) {
      counts[work.kind] = (counts[work.kind] ?? 0) + 1;
    }
    return counts;
  }

  private httpServer(): Server | undefined {
    return this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
  }

  private log(): FastifyBaseLogger | undefined {
    return this.adapterHost.httpAdapter?.getInstance<FastifyInstance>()?.log;
  }
}

/**
 * The error that ends a stream cut at the end of the shutdown grace period: write it as the
 * final SSE event (`data: {"error":…}`), the same way as any error after headers were sent.
 */
export function shutdownError(): ApiError {
  return new ApiError(
    'server_overloaded',
    'The gateway is shutting down and its grace period is over; the answer is incomplete',
  );
}
