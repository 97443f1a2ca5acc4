import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'undici';
import type { RequestLog } from 'src/common/logging/request-log';
import { logUpstreamFailure } from 'src/common/logging/upstream-failure';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { HEADER } from 'src/common/http/headers';
import { ApiError } from 'src/common/errors/api-error';
import { ErrorCode } from 'src/common/errors/error-catalog';
import { CatalogModel, CatalogUpstream } from 'src/kernel/catalog-model';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { UpstreamHealthBook } from 'src/modules/models/upstream-health';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { LOAD_REPORT_REQUEST, UpstreamPicker } from 'src/modules/fleet/routing/upstream-picker';
import { Tokenizer } from 'src/modules/proxy/tokenizer';
import { EchoTransport } from 'src/modules/proxy/upstream/echo/echo.transport';
import { PoolTransport } from 'src/modules/proxy/upstream/pool-transport';
import { Cancellation, CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import {
  CallerAbortError,
  classifyFailure,
  failureToApiError,
  FailureKind,
  TimeoutSettings,
  TotalTimeoutError,
} from 'src/modules/proxy/upstream/upstream-errors';
import { UpstreamTransport } from 'src/modules/proxy/upstream/upstream-transport';
import { upstreamErrorMessage } from 'src/modules/proxy/wire/upstream-error-message';
import type {
  RequestBody,
  UpstreamOperation,
  WireFormat,
} from 'src/modules/proxy/wire/wire-format';
import { WireFormats } from 'src/modules/proxy/wire/wire-formats';

/** How long in-flight upstream requests may run on after the HTTP server closed. */
const SHUTDOWN_POOL_GRACE_MS = 2_000;

/** Cap on an upstream error body read to extract its message. */
const ERROR_BODY_CAP = 64 * 1024;

export type { UpstreamOperation };

export interface UpstreamRequest {
  operation: UpstreamOperation;
  /**
   * Builds the body for the upstream chosen for an attempt (its `format` and `model` differ
   * between upstreams of one alias). Called once per attempt; may throw an `ApiError`.
   */
  body?: (upstream: CatalogUpstream, wire: WireFormat) => RequestBody;
  /** Ask for an event stream (`accept: text/event-stream`). */
  stream?: boolean;
  /** Aborts the call (the client hung up): the upstream sees the connection close. */
  signal?: CancelSignal;
  /** Forwarded as `x-request-id` for correlation in the upstream's logs. */
  requestId?: string;
  /**
   * The logger of the request the call serves (a background run: of the request that started
   * it): `upstream failure` lines and the pick's bindings go there, so they carry its `reqId`.
   */
  log: RequestLog;
  /** Extra safe headers (e.g. `anthropic-beta`); never the caller's credentials. */
  headers?: Record<string, string>;
  /** Same key → same upstream while it is healthy (prefix-cache affinity for /c1). */
  affinityKey?: string;
}

/**
 * An upstream answer whose headers arrived with a 2xx status. The caller must consume `body`
 * or call `abort()`; when `body` closes, the total-timeout timer and the in-flight count are
 * released and the upstream duration is recorded.
 */
export interface UpstreamCall {
  readonly status: number;
  /** The upstream's headers: untrusted, never to be copied to a client wholesale. */
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
  readonly model: CatalogModel;
  readonly upstream: CatalogUpstream;
  /** The format `upstream` speaks: how to read this answer. */
  readonly wire: WireFormat;
  /** Attempts made (2 after a connect failure and a successful retry). */
  readonly attempts: number;
  /** `performance.now()` at the start of the first attempt. */
  readonly startedAt: number;
  /** Aborted when the call is aborted for any reason (caller, total timeout). */
  readonly signal: CancelSignal;
  /** Aborts the upstream request; its connection is closed. */
  abort(reason?: unknown): void;
  /**
   * Maps an error raised while reading `body` to its catalog error (504 for idle/total
   * timeouts, 502 for a cut), counts it in the metrics, and notes it in upstream health.
   */
  fail(error: unknown): { kind: FailureKind; error: ApiError };
}

interface Target {
  upstream: CatalogUpstream;
  /** The format the upstream speaks: its paths and headers. */
  wire: WireFormat;
  transport: UpstreamTransport;
  basePath: string;
  /** Headers sent on every request: auth for this upstream's format. */
  baseHeaders: Record<string, string>;
  inFlight: number;
}

/** Per-alias metric cells, resolved once (see CellCounter, CellHistogram). */
interface ModelMetrics {
  alias: string;
  attempts: { inc(): void };
  duration: { observe(v: number): void };
  firstByte: { observe(v: number): void };
  tokensIn: { inc(n: number): void };
  tokensOut: { inc(n: number): void };
  errors: Map<ErrorCode, { inc(): void }>;
}

/**
 * The only place Parley makes upstream HTTP calls (STYLE §8): one keep-alive undici `Pool` per
 * upstream origin, the upstream of each attempt chosen by the `UpstreamPicker` (load, affinity,
 * health: fleet/routing), one retry after a connect failure (on
 * the next upstream when there is one), named timeouts, and upstream failures mapped to
 * catalog errors. Never forwards a caller's credentials: auth headers come from the catalog.
 */
@Injectable()
export class UpstreamClient implements OnApplicationShutdown {
  private readonly pools = new Map<string, Pool>();
  private readonly targets = new Map<string, Target[]>();
  private readonly metricsByModel = new Map<string, ModelMetrics>();
  private readonly timeouts: TimeoutSettings;
  private readonly maxBodyBytes: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    catalog: ModelCatalog,
    private readonly health: UpstreamHealthBook,
    private readonly metrics: MetricsService,
    private readonly picker: UpstreamPicker,
    private readonly wires: WireFormats,
    private readonly tokenizer: Tokenizer = new Tokenizer(),
  ) {
    this.timeouts = config.upstream;
    this.maxBodyBytes = config.upstream.maxBodyBytes;
    for (const model of catalog.list()) {
      this.targets.set(
        model.alias,
        model.upstreams.map((u) => this.buildTarget(u, config)),
      );
      for (const upstream of model.upstreams) {
        if (upstream.builtin) {
          this.health.markUp(upstream.id, 0);
        }
      }
    }
  }

  /** The runtime targets of an alias, in catalog order (the probe walks them). */
  upstreamsOf(alias: string): readonly CatalogUpstream[] {
    return (this.targets.get(alias) ?? []).map((t) => t.upstream);
  }

  /**
   * Sends one request for `model`, retrying a connect failure once. Resolves when a 2xx
   * answer's headers have arrived; rejects with an `ApiError` otherwise:
   * 503 `upstream_unavailable` (+ `retry-after`) when no upstream accepted a connection,
   * 504 `upstream_timeout` (first byte or total), 502 `upstream_error` for a non-2xx answer
   * (its message inlined, its headers and URL not) or any other failure.
   */
  async send(model: CatalogModel, request: UpstreamRequest): Promise<UpstreamCall> {
    const targets = this.targets.get(model.alias);
    if (!targets || targets.length === 0) {
      throw new ApiError('model_not_in_allowlist', `Model "${model.alias}" is not served here`, {
        param: 'model',
      });
    }
    const metrics = this.metricsFor(model.alias);
    if (request.signal?.aborted) {
      throw failureToApiError('aborted', model.alias, this.timeouts);
    }
    const signal = new Cancellation();
    const unfollow = signal.follow(request.signal);
    const totalTimer = setTimeout(
      () => signal.abort(new TotalTimeoutError(this.timeouts.totalTimeoutMs)),
      this.timeouts.totalTimeoutMs,
    );
    const release = () => {
      clearTimeout(totalTimer);
      unfollow();
    };

    const startedAt = performance.now();
    let failed: Target | null = null;
    for (let attempt = 1; ; attempt++) {
      const target: Target = this.picker.pick(model.alias, targets, failed, request);
      let body: RequestBody | undefined;
      let path: string;
      try {
        path = target.basePath + target.wire.path(request.operation);
        body = request.body?.(target.upstream, target.wire);
      } catch (error) {
        release();
        throw error;
      }
      target.inFlight++;
      metrics.attempts.inc();
      const attemptStart = performance.now();
      let response;
      try {
        response = await target.transport.request({
          method: request.operation === 'models' ? 'GET' : 'POST',
          path,
          headers: this.headersFor(target, request),
          body,
          signal,
          headersTimeoutMs: this.timeouts.firstByteTimeoutMs,
          // A streaming upstream (vLLM) sends its headers at once and its first token after the
          // prefill, which may take minutes: until the first body byte the first-byte timeout
          // applies. Between later chunks the stream reader's watchdog enforces the idle timeout.
          bodyTimeoutMs: request.stream
            ? Math.max(this.timeouts.firstByteTimeoutMs, this.timeouts.idleTimeoutMs)
            : this.timeouts.idleTimeoutMs,
        });
      } catch (error) {
        target.inFlight--;
        const kind = classifyFailure(error, signal, 'before_headers');
        const willRetry = kind === 'connect' && attempt === 1 && !signal.aborted;
        const apiError = failureToApiError(kind, model.alias, this.timeouts, error);
        if (kind !== 'aborted') {
          logUpstreamFailure(request.log, {
            model: model.alias,
            upstreamUrl: target.upstream.url,
            code: apiError.code,
            attempt,
            willRetry,
            phase: kind === 'connect' ? 'connect' : 'headers',
            errorCode: errorCodeOf(error),
            elapsedMs: performance.now() - attemptStart,
          });
        }
        if (kind === 'connect') {
          this.health.markDown(target.upstream.id, 'upstream_unavailable');
          if (willRetry) {
            failed = target;
            continue;
          }
        }
        release();
        if (kind !== 'aborted') {
          this.countError(metrics, apiError.code);
          if (kind !== 'connect') {
            this.health.noteError(target.upstream.id, apiError.code);
          }
        }
        throw apiError;
      }

      this.health.markUp(target.upstream.id, Math.round(performance.now() - attemptStart));
      this.picker.observeAnswer(target.upstream, response.headers);
      if (response.statusCode < 200 || response.statusCode >= 300) {
        const message = await this.readErrorMessage(response.body, response.headers, target);
        target.inFlight--;
        release();
        this.health.noteError(target.upstream.id, 'upstream_error');
        this.countError(metrics, 'upstream_error');
        logUpstreamFailure(request.log, {
          model: model.alias,
          upstreamUrl: target.upstream.url,
          code: 'upstream_error',
          attempt,
          willRetry: false,
          phase: 'headers',
          upstreamStatus: response.statusCode,
          elapsedMs: performance.now() - attemptStart,
          upstreamMessage: message ?? undefined,
        });
        throw new ApiError(
          'upstream_error',
          `The model server answered ${response.statusCode}${message ? `: ${message}` : ''}`,
          // 4xx other than 401/403/404/408/429: the request itself was refused (a parameter
          // passed through), not a fault of the gateway or the model server.
          { isClientCaused: isClientRefusal(response.statusCode) },
        );
      }

      let isDone = false;
      const done = () => {
        if (isDone) {
          return;
        }
        isDone = true;
        target.inFlight--;
        release();
        metrics.duration.observe((performance.now() - startedAt) / 1000);
      };
      // `close` is emitted once and `done` runs once: `on` spares `once()`'s wrapper.
      response.body.on('close', done);
      const alias = model.alias;
      const timeouts = this.timeouts;
      return {
        status: response.statusCode,
        headers: response.headers,
        body: response.body,
        model,
        upstream: target.upstream,
        wire: target.wire,
        attempts: attempt,
        startedAt,
        signal,
        abort: (reason?: unknown) => {
          signal.abort(reason ?? new CallerAbortError());
          response.body.destroy();
        },
        fail: (error: unknown) => {
          const kind = classifyFailure(error, signal, 'body');
          const apiError = failureToApiError(kind, alias, timeouts, error);
          if (kind !== 'aborted') {
            this.countError(metrics, apiError.code);
            this.health.noteError(target.upstream.id, apiError.code);
            logUpstreamFailure(request.log, {
              model: alias,
              upstreamUrl: target.upstream.url,
              code: apiError.code,
              attempt,
              willRetry: false,
              phase: request.stream ? 'stream' : 'body',
              upstreamStatus: response.statusCode,
              errorCode: errorCodeOf(error),
              elapsedMs: performance.now() - attemptStart,
            });
          }
          return { kind, error: apiError };
        },
      };
    }
  }

  /**
   * Reads a whole (JSON) answer, capped at UPSTREAM_MAX_BODY_BYTES. Rejects with the catalog
   * error of a cut, a timeout, or an oversized body (502 `upstream_error`).
   */
  readBody(call: UpstreamCall): Promise<Buffer> {
    const declared = Number(call.headers['content-length']);
    if (declared > this.maxBodyBytes) {
      call.abort();
      return Promise.reject(this.tooLarge(call));
    }
    // Events rather than an async iterator: this is on every JSON request's path.
    return new Promise((resolve, reject) => {
      const body = call.body;
      const chunks: Buffer[] = [];
      let size = 0;
      let isSettled = false;
      const settle = (error: ApiError | null) => {
        if (isSettled) {
          return;
        }
        isSettled = true;
        body.removeListener('data', onData);
        if (error) {
          reject(error);
        } else {
          resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
        }
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          settle(this.tooLarge(call));
          call.abort();
          return;
        }
        chunks.push(chunk);
      };
      // Plain listeners: a body emits `end`, `error` and `close` once each, and `settle` runs
      // once; `once()` would wrap each in a bound function, on every JSON request.
      body.on('data', onData);
      body.on('end', () => settle(null));
      const failWith = (error: unknown) => {
        if (!isSettled) {
          settle(call.fail(error).error);
        }
      };
      body.on('error', failWith);
      body.on('close', () => {
        if (!isSettled) {
          failWith(new Error('closed before the end'));
        }
      });
    });
  }

  /**
   * A cheap reachability check of one upstream for /readyz: `GET <base>/models` with its key,
   * bounded by `timeoutMs`. Up when it answers below 500 and not 401/403 (a wrong key would
   * fail every request). Not counted as an attempt; updates health as last seen.
   */
  async probe(
    upstream: CatalogUpstream,
    timeoutMs: number,
  ): Promise<{ isUp: boolean; latencyMs: number }> {
    const target = [...this.targets.values()].flat().find((t) => t.upstream === upstream);
    if (!target) {
      return { isUp: false, latencyMs: 0 };
    }
    const started = performance.now();
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await target.transport.request({
        method: 'GET',
        path: `${target.basePath}/models`,
        headers: { ...target.baseHeaders, accept: 'application/json' },
        signal,
        headersTimeoutMs: timeoutMs,
        bodyTimeoutMs: timeoutMs,
      });
      response.body.resume();
      response.body.on('error', () => undefined);
      const latencyMs = Math.round(performance.now() - started);
      const status = response.statusCode;
      const isUp = status < 500 && status !== 401 && status !== 403;
      if (isUp) {
        this.health.markUp(upstream.id, latencyMs);
      } else {
        this.health.markDown(upstream.id, 'upstream_error');
      }
      return { isUp, latencyMs };
    } catch {
      this.health.markDown(upstream.id, 'upstream_unavailable');
      return { isUp: false, latencyMs: Math.round(performance.now() - started) };
    }
  }

  /** Counts tokens reported by an upstream answer (metrics only; usage sinks are separate). */
  countTokens(alias: string, promptTokens: number, completionTokens: number): void {
    const metrics = this.metricsFor(alias);
    if (promptTokens > 0) {
      metrics.tokensIn.inc(promptTokens);
    }
    if (completionTokens > 0) {
      metrics.tokensOut.inc(completionTokens);
    }
  }

  /** Records time to first token: the first body byte of a call (first SSE event for streams). */
  observeFirstByte(call: UpstreamCall): void {
    this.metricsFor(call.model.alias).firstByte.observe(
      (performance.now() - call.startedAt) / 1000,
    );
  }

  /**
   * Closes the pools after the HTTP server stopped: requests still running get
   * `SHUTDOWN_POOL_GRACE_MS` to finish, then their connections are destroyed.
   */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      [...this.pools.values()].map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const forced = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            pool.destroy().then(resolve, resolve);
          }, SHUTDOWN_POOL_GRACE_MS);
        });
        try {
          await Promise.race([pool.close(), forced]);
        } catch {
          // Destroyed while closing: nothing left to wait for.
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }

  private tooLarge(call: UpstreamCall): ApiError {
    const metrics = this.metricsFor(call.model.alias);
    this.countError(metrics, 'upstream_error');
    return new ApiError(
      'upstream_error',
      `The model server's answer is larger than ${this.maxBodyBytes} bytes (UPSTREAM_MAX_BODY_BYTES)`,
    );
  }

  private buildTarget(upstream: CatalogUpstream, config: AppConfig): Target {
    const wire = this.wires.get(upstream.format);
    const baseHeaders = wire.baseHeaders(upstream.apiKey);
    if (wire.reportsLoad && upstream.metricsUrl !== false) {
      Object.assign(baseHeaders, LOAD_REPORT_REQUEST);
    }
    if (upstream.builtin === 'echo') {
      return {
        upstream,
        wire,
        transport: new EchoTransport(upstream.model, this.tokenizer),
        basePath: '',
        baseHeaders,
        inFlight: 0,
      };
    }
    const url = new URL(upstream.url);
    let pool = this.pools.get(url.origin);
    if (!pool) {
      pool = new Pool(url.origin, {
        connections: null,
        pipelining: 1,
        connect: { timeout: config.upstream.connectTimeoutMs },
        headersTimeout: config.upstream.firstByteTimeoutMs,
        bodyTimeout: config.upstream.idleTimeoutMs,
      });
      this.pools.set(url.origin, pool);
    }
    return {
      upstream,
      wire,
      transport: new PoolTransport(pool),
      basePath: url.pathname === '/' ? '' : url.pathname,
      baseHeaders,
      inFlight: 0,
    };
  }

  private headersFor(target: Target, request: UpstreamRequest): Record<string, string> {
    const headers: Record<string, string> = {
      ...request.headers,
      ...target.baseHeaders,
      accept: request.stream ? 'text/event-stream' : 'application/json',
    };
    for (const name of target.wire.callerOverridableHeaders) {
      const value = request.headers?.[name];
      if (value) {
        headers[name] = value;
      }
    }
    if (request.operation !== 'models') {
      headers['content-type'] = 'application/json';
    }
    if (request.requestId) {
      headers[HEADER.requestId] = request.requestId;
    }
    return headers;
  }

  private async readErrorMessage(
    body: Readable,
    headers: IncomingHttpHeaders,
    target: Target,
  ): Promise<string | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body) {
        const buffer = chunk as Buffer;
        chunks.push(buffer.subarray(0, Math.max(0, ERROR_BODY_CAP - size)));
        size += buffer.length;
        if (size >= ERROR_BODY_CAP) {
          body.destroy();
          break;
        }
      }
    } catch {
      // A cut error body: use what arrived.
    }
    const contentType = headers['content-type'];
    return upstreamErrorMessage(
      Buffer.concat(chunks).toString('utf8'),
      typeof contentType === 'string' ? contentType : undefined,
      target.upstream.apiKey ? [target.upstream.apiKey] : [],
    );
  }

  private metricsFor(alias: string): ModelMetrics {
    let metrics = this.metricsByModel.get(alias);
    if (!metrics) {
      metrics = {
        alias,
        attempts: this.metrics.upstreamAttempts.cell(alias),
        duration: this.metrics.upstreamDuration.cell(alias),
        firstByte: this.metrics.timeToFirstToken.cell(alias),
        tokensIn: this.metrics.tokens.cell(alias, 'in'),
        tokensOut: this.metrics.tokens.cell(alias, 'out'),
        errors: new Map(),
      };
      this.metricsByModel.set(alias, metrics);
    }
    return metrics;
  }

  private countError(metrics: ModelMetrics, code: ErrorCode): void {
    let counter = metrics.errors.get(code);
    if (!counter) {
      counter = this.metrics.upstreamErrors.labels(metrics.alias, code);
      metrics.errors.set(code, counter);
    }
    counter.inc();
  }
}

function errorCodeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown }; name?: unknown } | null;
  if (typeof e?.code === 'string') {
    return e.code;
  }
  if (typeof e?.cause?.code === 'string') {
    return e.cause.code;
  }
  return typeof e?.name === 'string' ? e.name : undefined;
}

/** An upstream status that says the client's request was at fault, not the deployment. */
function isClientRefusal(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 404, 408, 429].includes(status);
}
