import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CellCounter, CellHistogram } from 'src/modules/metrics/cell-metrics';
import {
  HTTP_DURATION_BUCKETS,
  HttpDurationHistogram,
  HttpRequestStats,
  HttpRequestsCounter,
  SHED_EXEMPT_ROUTES,
} from 'src/modules/metrics/http-request-stats';

/**
 * Every Prometheus metric Parley exports, in one registry per app instance (tests run several
 * apps in one process). Labels are bounded: route templates, status classes, model aliases,
 * catalog codes. Never a raw path, a key, a user or a conversation id.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  /**
   * Request counts and latency by route template, recorded by the lifecycle request hooks in
   * plain arrays (cheap on the hot path) and exported at scrape time by the two metrics below.
   */
  readonly http = new HttpRequestStats(SHED_EXEMPT_ROUTES);

  /** Fed by `http`; do not `inc()` it (see HttpRequestsCounter). */
  readonly httpRequests = new HttpRequestsCounter({
    name: 'parley_http_requests_total',
    help: 'HTTP requests by route template, method and status class (aborted: never completed)',
    labelNames: ['route', 'method', 'status_class'] as const,
    registers: [this.registry],
  });

  /** Fed by `http`; do not `observe()` it (see HttpDurationHistogram). */
  readonly httpDuration = new HttpDurationHistogram({
    name: 'parley_http_request_duration_seconds',
    help: 'Time from request to the end of the response',
    labelNames: ['route', 'method'] as const,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly upstreamDuration = this.perModelHistogram(
    'parley_upstream_duration_seconds',
    'Upstream request time, start to last byte, per model',
  );

  readonly timeToFirstToken = this.perModelHistogram(
    'parley_time_to_first_token_seconds',
    'Upstream time to the first body byte (first SSE event for streams), per model',
  );

  readonly upstreamErrors = this.counter(
    'parley_upstream_errors_total',
    'Upstream failures by model and catalog code',
    ['model', 'code'],
  );

  /** Fed through `cell(alias)` (see CellCounter). */
  readonly upstreamAttempts = new CellCounter({
    name: 'parley_upstream_attempts_total',
    help: 'Upstream request attempts (retries included) per model',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  readonly refusals = this.counter(
    'parley_refusals_total',
    'Requests refused before the upstream: rate limit, quota, overload, auth throttle',
    ['code'],
  );

  /** Fed through `cell(alias, direction)` (see CellCounter). */
  readonly tokens = new CellCounter({
    name: 'parley_tokens_total',
    help: 'Tokens reported by upstreams, per model and direction (in = prompt, out = completion)',
    labelNames: ['model', 'direction'] as const,
    registers: [this.registry],
  });

  /**
   * Streams in flight, counted by `StreamRunner` in a plain number (a gauge's inc()/dec() hash
   * their labels, twice per stream) and read into `activeStreams` when scraped.
   */
  streamsInFlight = 0;

  /** Read at scrape time from `streamsInFlight`; do not set it. */
  readonly activeStreams: Gauge = new Gauge({
    name: 'parley_active_streams',
    help: 'Streaming responses in flight',
    registers: [this.registry],
    collect: (): void => this.activeStreams.set(this.streamsInFlight),
  });

  /** Read at scrape time from the probe the lifecycle module installs; do not set it. */
  readonly inFlight: Gauge = new Gauge({
    name: 'parley_requests_in_flight',
    help: 'HTTP requests in flight',
    registers: [this.registry],
    collect: (): void => this.inFlight.set(this.inFlightProbe()),
  });

  readonly turnsStored = this.counter(
    'parley_turns_stored_total',
    '/c1 assistant turns stored, by final status',
    ['status'],
  );

  readonly databaseErrors = this.counter(
    'parley_database_errors_total',
    'Database operations that failed',
  );

  readonly redisFallbacks = this.counter(
    'parley_ratelimit_redis_fallbacks_total',
    'Rate-limit decisions taken on the local bucket because Redis did not answer',
  );

  readonly clientErrors = this.counter(
    'parley_client_errors_total',
    'Connections cut at the HTTP layer: request_timeout (slow headers or body), body_too_slow (MIN_BODY_BYTES_PER_SEC), header_overflow, bad_request, idle_closed and connection_refused (connection caps)',
    ['reason'],
  );

  readonly shutdownCuts = this.counter(
    'parley_shutdown_cut_total',
    'Work still running when the shutdown grace period ended, by kind (stream, turn, request, connection)',
    ['kind'],
  );

  private inFlightProbe: () => number = () => 0;
  private rendered: { at: number; text: Promise<string> } | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_process_' });
    this.httpRequests.feedFrom(this.http);
    this.httpDuration.feedFrom(this.http);
  }

  /**
   * The Prometheus text, rendered at most once per `cacheMs` (METRICS_CACHE_SECS; #22 item 4:
   * each render costs ~2 ms of CPU, so back-to-back scrapes slowed every other request);
   * scrapes in between get the same text, concurrent ones share one render.
   */
  render(cacheMs: number, now = performance.now()): Promise<string> {
    if (!this.rendered || now - this.rendered.at >= cacheMs) {
      const text = this.registry.metrics();
      this.rendered = { at: now, text };
      text.catch(() => {
        if (this.rendered?.text === text) {
          this.rendered = null;
        }
      });
    }
    return this.rendered.text;
  }

  /** Where `parley_requests_in_flight` reads its value when scraped. */
  sampleInFlightFrom(probe: () => number): void {
    this.inFlightProbe = probe;
  }

  private counter<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * Upstream latencies, per model alias: milliseconds (echo, cache) to minutes (long answers).
   * Observed on every request: fed through `cell(alias)` (see CellHistogram).
   */
  private perModelHistogram(name: string, help: string): CellHistogram<'model'> {
    return new CellHistogram({
      name,
      help,
      labelNames: ['model'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers: [this.registry],
    });
  }
}
