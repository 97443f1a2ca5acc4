import { Inject, Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { TokenUsage } from 'src/common/types/usage-sink';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { LifecycleService, shutdownError } from 'src/modules/lifecycle/lifecycle.service';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import { pipeSse, SsePipeResult } from 'src/modules/proxy/sse/sse-pipe';
import { SseOutput } from 'src/modules/proxy/sse/sse-output';
import { Cancellation, CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import { UpstreamCall, UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { UsageReporter } from 'src/modules/proxy/usage-reporter';
import { estimateUsage } from 'src/modules/proxy/usage-estimate';
import type { StreamAdapter } from 'src/modules/proxy/wire/wire-format';

/** See `StreamRun.inspect`. */
export interface StreamInspector {
  /** Each upstream event, in order, before the adapter translates it. */
  see(event: SseEvent): void;
  /** After the terminal event: what is still held back (a word at the very end) is judged. */
  end(): void;
}

export interface StreamRun<A extends StreamAdapter> {
  /** The client's reply, or `NoClientOutput` (a background response, a JSON answer). */
  reply: SseOutput;
  /**
   * Opens the upstream call (normally `UpstreamClient.send` with `stream: true`), passing on
   * `signal`: it aborts the call on a hang-up (`abort` mode), a cancel, or the shutdown.
   */
  open(signal: CancelSignal): Promise<UpstreamCall>;
  /** The adapter for the upstream chosen (`call.wire.chatStream(…)` or your own). */
  adapter(call: UpstreamCall): A;
  /**
   * Who pays and what for: usage is reported once, estimated from the messages `prompt` gives
   * when missing (read only then: /c1 builds them from its history when first read).
   */
  usage: { auth: AuthContext; alias: string; prompt: () => unknown };
  /** The final error event in the client's format (`wire.streamError`). */
  formatError: (error: ApiError) => string;
  /**
   * `abort`: a client hang-up aborts the upstream at once (/v1). `detach`: the upstream is read
   * to its end (bounded by the total timeout) so that the answer can be stored (/c1).
   */
  onClientGone: 'abort' | 'detach';
  /**
   * The answer is assembled in memory (a /c1 turn): the upstream stream is then capped at
   * UPSTREAM_MAX_BODY_BYTES and ends with `upstream_error` past it. Pure pass-through is not.
   */
  assembled?: boolean;
  /**
   * Looks at the upstream's events as they arrive (the content policy's output rules): an
   * `ApiError` it throws ends the stream with that error at once, and the outcome is `failed`
   * (nothing of a blocked answer may be kept, not even as `incomplete`).
   */
  inspect?(call: UpstreamCall): StreamInspector | null;
  /** Sees the text of each event as the client gets it (also after it left): /c1 reattach. */
  onSent?(text: string): void;
  /** Aborts the upstream whatever `onClientGone` says (`x-on-disconnect: cancel`). */
  signal?: CancelSignal;
  /** Response headers besides the SSE ones (`x-parley-applied`, `x-conversation-id`). */
  headers?: Record<string, string>;
  /**
   * Awaited once the outcome is known (usage reported), before the stream's last bytes (the
   * terminal event or the final error event): /c1 stores its turn here. An `ApiError`
   * returned replaces those last bytes with its error event, a string with that text (the
   * Responses API's final events). Also called after a hang-up (nothing is written then).
   */
  beforeEnd?(
    result: StreamRunResult<A>,
  ): Promise<ApiError | string | void> | ApiError | string | void;
}

export interface StreamRunResult<A extends StreamAdapter> extends SsePipeResult {
  /** The adapter, to read what it assembled; null when no upstream answered. */
  adapter: A | null;
  /** Reported by the upstream, or estimated when the stream ended without it. */
  usage: TokenUsage | null;
}

/**
 * Runs every stream Parley serves (/v1 chat and messages, /c1 turns, /v1/responses): the one place
 * that owns what streams share.
 *
 * - the `parley_active_streams` gauge and the shutdown drain (`LifecycleService.track`): at
 *   the end of the grace period a stream is cut with a final `server_overloaded` event;
 * - cancellation: a client hang-up aborts or detaches, `signal` aborts;
 * - `: keep-alive` comments until the first upstream byte, headers sent then or at the first
 *   tick, back-pressure, idle timeout (`pipeSse`);
 * - time to first token, recorded from the first upstream body byte;
 * - usage, reported once (estimated for a cut or abandoned stream);
 * - the last write: the terminal event, or one final error event in the client's format.
 *
 * What differs between streams (passing through, translating, collecting the answer) is the
 * `StreamAdapter`. Throws `ApiError` only when the upstream failed before any byte was sent;
 * otherwise resolves with the outcome, also after a hang-up.
 */
@Injectable()
export class StreamRunner {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly upstream: UpstreamClient,
    private readonly usage: UsageReporter,
    private readonly metrics: MetricsService,
    private readonly lifecycle: LifecycleService,
  ) {}

  async run<A extends StreamAdapter>(run: StreamRun<A>): Promise<StreamRunResult<A>> {
    // Assigned in callbacks, which the compiler cannot follow.
    let call = null as UpstreamCall | null;
    let adapter = null as A | null;
    let inspector = null as StreamInspector | null;
    let blocked = false;
    const inspected = (event: SseEvent) => {
      try {
        inspector?.see(event);
        const out = adapter?.push(event);
        if (inspector && adapter?.isTerminal(event)) {
          inspector.end();
        }
        return out;
      } catch (error) {
        blocked = inspector !== null && error instanceof ApiError;
        throw error;
      }
    };
    let final: StreamRunResult<A> | null = null;
    const metrics = this.metrics;
    metrics.streamsInFlight++;
    const cut = new Cancellation();
    const unfollow = cut.follow(run.signal);
    const work = this.lifecycle.track('stream', () => cut.abort(shutdownError()));
    try {
      const result = await pipeSse(
        run.reply,
        async (signal) => {
          call = await run.open(signal);
          adapter = run.adapter(call);
          inspector = run.inspect?.(call) ?? null;
          return call;
        },
        {
          headers: run.headers,
          keepAliveIntervalMs: this.config.upstream.keepAliveIntervalMs,
          idleTimeoutMs: this.config.upstream.idleTimeoutMs,
          maxBytes: run.assembled ? this.config.upstream.maxBodyBytes : undefined,
          onClientGone: run.onClientGone,
          signal: cut,
          isTerminal: (event) => adapter?.isTerminal(event) ?? false,
          // Events the adapter lets through on sight are not decoded, unless a policy or
          // `onSent` must see every one.
          skim: run.onSent
            ? undefined
            : (bytes, start, end) =>
                inspector === null && adapter?.skim?.(bytes, start, end) === true,
          onEvent: (event) => {
            const out = inspector ? inspected(event) : adapter?.push(event);
            if (run.onSent && out !== null) {
              run.onSent(out === undefined ? `${event.raw}\n\n` : out);
            }
            return out;
          },
          onFirstByte: () => {
            if (call) {
              this.upstream.observeFirstByte(call);
            }
          },
          formatError: run.formatError,
          // Synchronous unless usage must be estimated: the stream's last bytes then leave in
          // the same write as the events before them (see `pipeSse`).
          beforeEnd: (ending) => {
            const finish = (usage: TokenUsage | null) => {
              if (usage) {
                this.usage.report(run.usage.auth, run.usage.alias, usage);
              }
              // Field by field: a spread costs several times more, on every stream.
              final = {
                outcome: blocked && ending.error ? 'failed' : ending.outcome,
                error: ending.error,
                isClientGone: ending.isClientGone,
                call: ending.call,
                adapter,
                usage,
              };
              return run.beforeEnd?.(final);
            };
            const reported = adapter?.usage ?? null;
            if (reported || !ending.call || !adapter) {
              return finish(reported);
            }
            return estimateUsage(run.usage.prompt(), Math.max(0, adapter.contentEvents - 1)).then(
              finish,
            );
          },
        },
      );
      return (
        final ?? {
          outcome: result.outcome,
          error: result.error,
          isClientGone: result.isClientGone,
          call: result.call,
          adapter,
          usage: null,
        }
      );
    } finally {
      work.done();
      unfollow();
      metrics.streamsInFlight--;
    }
  }
}
