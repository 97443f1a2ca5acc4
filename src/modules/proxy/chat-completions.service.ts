import { Inject, Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { AuthContext } from 'src/common/types/auth-context';
import { TokenUsage, USAGE_SINK, UsageSink } from 'src/common/types/usage-sink';
import { ApiError } from 'src/modules/errors/api-error';
import { CatalogModel, CatalogUpstream } from 'src/modules/models/catalog.types';
import {
  applyTokenBounds,
  checkMessages,
  JsonObject,
  readStreamFlags,
  requireJsonObject,
  resolveModel,
} from 'src/modules/models/constraints/chat-request';
import { assertJsonDepth } from 'src/modules/models/constraints/json-depth';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { LifecycleService, shutdownError } from 'src/modules/lifecycle/lifecycle.service';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import { openAIRequestToAnthropic } from 'src/modules/proxy/wire/anthropic/request-to-anthropic';
import { anthropicResponseToOpenAI } from 'src/modules/proxy/wire/anthropic/response-to-openai';
import { AnthropicUpstreamToChatStream } from 'src/modules/proxy/wire/anthropic/sse-adapters';
import { pipeSse, SsePipeResult } from 'src/modules/proxy/sse/sse-pipe';
import { Cancellation, CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import { UpstreamCall, UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { loadTokenizer } from 'src/modules/proxy/tokenizer';
import { estimateUsage } from 'src/modules/proxy/usage-estimate';
import {
  AssembledCompletion,
  OpenAiStreamAccumulator,
} from 'src/modules/proxy/wire/openai/stream-accumulator';
import {
  chunkErrorMessage,
  isOpenAiDone,
  isUsageOnlyChunk,
  mayCarryError,
  mayCarryUsage,
  readUsage,
} from 'src/modules/proxy/wire/openai/stream-events';

/** A chat request checked against the catalog and the caller's key, ready to forward. */
export interface PreparedChat {
  auth: AuthContext;
  model: CatalogModel;
  /**
   * The client's body as received, with unknown fields intact, `max_tokens` bounds applied
   * and, for streams, `stream_options.include_usage: true`. Forwarded as is except `model`,
   * which becomes the upstream's own name. /c1 replaces `messages` (history + new turn) and
   * removes its own fields before calling `complete`/`stream`.
   */
  body: JsonObject;
  isStream: boolean;
  /** The client asked for the usage chunk itself (otherwise it is removed from its stream). */
  clientWantsUsage: boolean;
  /** Notes for `x-parley-applied` (`max_tokens_floored=16`); see `appliedHeader`. */
  applied: string[];
  /**
   * The request already in Anthropic form (/v1/messages, /c1 history rendered from the neutral
   * form), sent as is (with the upstream's model name) to `anthropic` upstreams instead of
   * translating `body`. Without it, `body` is translated (wire/anthropic, issue #8).
   */
  anthropicBody?: JsonObject;
  /**
   * Renders the Anthropic request on demand (/c1/chat/completions: from the neutral history),
   * called only when an `anthropic` upstream is chosen, so that a request the Anthropic
   * rendering refuses (JSON `response_format`) still reaches an `openai` upstream of a mixed
   * alias. Used when `anthropicBody` is not set; may throw `ApiError`.
   */
  renderAnthropic?: () => JsonObject;
  /**
   * `body.messages` already serialised, as UTF-8 bytes in pieces (/c1: each stored message is
   * rendered once and kept with it, and the history's bytes are shared by the turns that
   * forward it): spliced into the body for `openai` upstreams instead of serialising and
   * encoding thousands of history messages again on every turn. Must encode `body.messages`
   * exactly.
   */
  messagesBytes?: Buffer[];
}

const MESSAGES_KEY = Buffer.from('{"messages":');

export interface PrepareOptions {
  /** Used when the body has no `model` (/c1: the conversation's model). */
  defaultModel?: string;
}

export interface CallOptions {
  /** Aborts the upstream call (the client hung up). An `AbortSignal` or a `Cancellation`. */
  signal?: CancelSignal;
  /** Forwarded upstream as `x-request-id`. */
  requestId?: string;
  /** Same key → same upstream while healthy (conversation affinity). */
  affinityKey?: string;
  /** The request's logger (`request.log`): upstream failures are logged with its request id. */
  log?: FastifyBaseLogger;
  /**
   * Extra safe headers for the upstream (`anthropic-version`, `anthropic-beta` from
   * /v1/messages). Not `headers`: in `StreamChatOptions` those are the client's response headers.
   */
  upstreamHeaders?: Record<string, string>;
}

export interface CompletedChat {
  /** The upstream's JSON answer, byte for byte (what /v1 sends back). */
  bytes: Buffer;
  /** The same, parsed. `assembleCompletion(json)` gives the turn to store. */
  json: JsonObject;
  usage: TokenUsage | null;
  call: UpstreamCall;
}

export interface StreamChatOptions extends CallOptions {
  /* `signal` here aborts the upstream whatever `onClientGone` says (`x-on-disconnect: cancel`). */
  /** `abort` (/v1) or `detach` (/c1: keep reading and return the whole answer). */
  onClientGone: 'abort' | 'detach';
  /** Extra response headers (`x-conversation-id`); `x-parley-applied` is added from `applied`. */
  headers?: Record<string, string>;
  /** Parse every chunk and return the assembled answer in `completion` (/c1). */
  collect?: boolean;
  /** Observes each upstream event and its parsed chunk (null when not parsed), in order. */
  onEvent?(event: SseEvent, chunk: JsonObject | null): void;
  /**
   * Awaited once the outcome is known, before the stream's last bytes (`data: [DONE]` or the
   * final error event) go out: /c1 stores the turn here, so a client that saw the end finds it
   * stored. Returning an `ApiError` (e.g. `storage_error`) sends that error event instead of
   * the last bytes. Also called after a client hang-up (then nothing is written). Usage has
   * been reported already.
   */
  beforeEnd?(result: StreamedChat): Promise<ApiError | void> | ApiError | void;
}

export interface StreamedChat extends SsePipeResult {
  /** The assembled answer when `collect` was set (what arrived, also for a cut stream). */
  completion: AssembledCompletion | null;
  /** Reported by the upstream, or estimated when the stream ended without it. */
  usage: TokenUsage | null;
}

/**
 * Chat completions over the catalog's upstreams: the engine of `/v1/chat/completions`, reused
 * by `/c1` (conversations) and the Anthropic translation. Typical use:
 *
 * ```ts
 * const prepared = chat.prepare(auth, body);               // throws ApiError (4xx)
 * if (!prepared.isStream) {
 *   const { bytes, json } = await chat.complete(prepared, { signal }); // throws ApiError (5xx)
 * } else {
 *   const result = await chat.stream(reply, prepared, { onClientGone: 'detach', collect: true });
 *   // result.completion: the assembled answer; result.outcome: completed | incomplete | failed
 * }
 * ```
 *
 * Usage is reported to the `USAGE_SINK` here (JSON answers, streams, abandoned streams), once
 * per call: callers must not report it again. Metrics (time to first token, tokens, active
 * streams) are recorded here as well; attempts, durations and errors by the upstream client.
 */
@Injectable()
export class ChatCompletionsService implements OnModuleInit {
  private readonly logger = new Logger('chat');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly catalog: ModelCatalog,
    private readonly upstream: UpstreamClient,
    private readonly metrics: MetricsService,
    private readonly lifecycle: LifecycleService,
    @Optional() @Inject(USAGE_SINK) private readonly usageSink?: UsageSink,
  ) {}

  /** Loads the tokenizer (usage estimates, echo model) before the app listens. */
  async onModuleInit(): Promise<void> {
    await loadTokenizer();
  }

  /**
   * Checks a chat request for the caller (pure apart from the catalog lookup), in this order:
   * body is an object and not nested absurdly deep; `model` present, in the catalog
   * (`model_not_in_allowlist`) and allowed for the key (`model_access_denied`); `messages`
   * and their media parts (`missing_field`, `invalid_field`, `image_url_not_supported`,
   * `image_decode_error`, `media_url_not_supported`); `stream`/`stream_options` types;
   * `max_tokens` bounds (raised, lowered, or `max_tokens_below_minimum`). Mutates and returns
   * the body inside `PreparedChat`; throws `ApiError` for the first problem.
   */
  prepare(auth: AuthContext, rawBody: unknown, options: PrepareOptions = {}): PreparedChat {
    const body = requireJsonObject(rawBody);
    assertJsonDepth(body);
    if ((body.model === undefined || body.model === null) && options.defaultModel) {
      body.model = options.defaultModel;
    }
    const model = resolveModel(this.catalog, body.model, auth.allowedModels);
    checkMessages(body.messages, model.constraints, model.alias);
    const { stream, clientWantsUsage } = readStreamFlags(body);
    const applied = applyTokenBounds(body, model.constraints);
    if (stream) {
      body.stream_options = {
        ...(body.stream_options as JsonObject | undefined),
        include_usage: true,
      };
    }
    return { auth, model, body, isStream: stream, clientWantsUsage, applied };
  }

  /** The `x-parley-applied` value for a prepared request, or null when nothing was applied. */
  appliedHeader(prepared: PreparedChat, extra: string[] = []): string | null {
    const notes = extra.length ? [...prepared.applied, ...extra] : prepared.applied;
    return notes.length ? notes.join(', ') : null;
  }

  /**
   * Opens the upstream call (connect retry, balancing, timeouts: see `UpstreamClient.send`).
   * Resolves with a 2xx answer whose body is still to be read; throws `ApiError` before that.
   */
  open(prepared: PreparedChat, options: CallOptions = {}): Promise<UpstreamCall> {
    return this.upstream.send(prepared.model, {
      operation: 'chat',
      stream: prepared.isStream,
      body: (upstream) => this.bodyFor(prepared, upstream),
      signal: options.signal,
      requestId: options.requestId,
      affinityKey: options.affinityKey,
      log: options.log,
      headers: options.upstreamHeaders,
    });
  }

  /**
   * A non-streamed completion: opens the call, reads the JSON answer (capped), reports usage.
   * Throws `ApiError` (502 for a body that is not JSON, 504/503 as `open`).
   */
  async complete(prepared: PreparedChat, options: CallOptions = {}): Promise<CompletedChat> {
    const call = await this.open(prepared, options);
    const alias = prepared.model.alias;
    this.upstream.observeFirstByte(call);
    const bytes = await this.upstream.readBody(call);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = null;
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      this.metrics.upstreamErrors.labels(alias, 'upstream_error').inc();
      throw new ApiError(
        'upstream_error',
        `The model server for "${alias}" answered with invalid JSON`,
      );
    }
    let answer = json as JsonObject;
    let answerBytes = bytes;
    if (call.upstream.format === 'anthropic') {
      answer = anthropicResponseToOpenAI(json, {
        model: alias,
        created: Math.floor(Date.now() / 1000),
      }) as unknown as JsonObject;
      answerBytes = Buffer.from(JSON.stringify(answer));
    }
    const usage = readUsage(answer);
    if (usage) {
      this.reportUsage(prepared, usage);
    }
    return { bytes: answerBytes, json: answer, usage, call };
  }

  /**
   * A streamed completion written to `reply` (see `pipeSse` for headers, keep-alives,
   * back-pressure and the final error event). Removes the usage-only chunk unless the client
   * asked for it, turns an upstream error event into the catalog envelope (`upstream_error`
   * with its message), and reports usage (estimated when the stream ended without it).
   * Throws `ApiError` only when the upstream failed before any byte was sent to the client;
   * otherwise resolves with the outcome, also after a client hang-up.
   */
  async stream(
    reply: FastifyReply,
    prepared: PreparedChat,
    options: StreamChatOptions,
  ): Promise<StreamedChat> {
    const accumulator = options.collect ? new OpenAiStreamAccumulator() : null;
    let usage: TokenUsage | null = null;
    let contentEvents = 0;
    let opened: UpstreamCall | null = null;
    let final: StreamedChat | null = null;
    const applied = this.appliedHeader(prepared);
    const headers = applied ? { ...options.headers, 'x-parley-applied': applied } : options.headers;
    // Set once the upstream is chosen: an `anthropic` one streams Messages API events (#8).
    let fromAnthropic: AnthropicUpstreamToChatStream | null = null;
    const active = this.metrics.activeStreams;
    active.inc();
    // A stream the shutdown must wait for; at the end of the grace period it is cut with a
    // final `server_overloaded` event and its upstream aborted.
    const cut = new Cancellation();
    const unfollow = cut.follow(options.signal);
    const work = this.lifecycle.track('stream', () => cut.abort(shutdownError()));
    try {
      const result = await pipeSse(
        reply,
        async (signal) => {
          opened = await this.open(prepared, { ...options, signal });
          if (opened.upstream.format === 'anthropic') {
            fromAnthropic = new AnthropicUpstreamToChatStream({
              model: prepared.model.alias,
              created: Math.floor(Date.now() / 1000),
              includeUsage: prepared.clientWantsUsage,
            });
          }
          return opened;
        },
        {
          headers,
          keepAliveIntervalMs: this.config.upstream.keepAliveIntervalMs,
          idleTimeoutMs: this.config.upstream.idleTimeoutMs,
          onClientGone: options.onClientGone,
          signal: cut,
          isTerminal: (event) => (fromAnthropic ? fromAnthropic.isFinished : isOpenAiDone(event)),
          onFirstByte: () => {
            if (opened) {
              this.upstream.observeFirstByte(opened);
            }
          },
          // Synchronous unless usage must be estimated: the stream's last bytes then leave in
          // the same write as the events before them (see `pipeSse`).
          beforeEnd: (ending) => {
            const finish = () => {
              if (usage) {
                this.reportUsage(prepared, usage);
              }
              final = { ...ending, completion: accumulator?.result() ?? null, usage };
              return options.beforeEnd?.(final);
            };
            if (usage || !ending.call) {
              return finish();
            }
            return estimateUsage(prepared.body.messages, Math.max(0, contentEvents - 1)).then(
              (estimated) => {
                usage = estimated;
                return finish();
              },
            );
          },
          onEvent: (event) => {
            if (fromAnthropic) {
              const translated = fromAnthropic.push(event);
              for (const chunk of translated.chunks) {
                contentEvents++;
                accumulator?.push(chunk);
                options.onEvent?.(event, chunk as unknown as JsonObject);
              }
              usage = fromAnthropic.usage ?? usage;
              return translated.text;
            }
            if (event.isComment || event.data === '[DONE]') {
              options.onEvent?.(event, null);
              return undefined;
            }
            contentEvents++;
            const data = event.data;
            let chunk: JsonObject | null = null;
            const hasUsage = mayCarryUsage(data);
            if (accumulator || hasUsage || mayCarryError(data) || options.onEvent) {
              chunk = parseChunk(data);
            }
            const errorMessage = chunk && mayCarryError(data) ? chunkErrorMessage(chunk) : null;
            if (errorMessage !== null) {
              throw new ApiError('upstream_error', `The model server reported: ${errorMessage}`);
            }
            accumulator?.push(chunk);
            options.onEvent?.(event, chunk);
            if (hasUsage && chunk) {
              usage = readUsage(chunk) ?? usage;
              if (!prepared.clientWantsUsage && isUsageOnlyChunk(chunk)) {
                contentEvents--;
                return null;
              }
            }
            return undefined;
          },
        },
      );
      return final ?? { ...result, completion: accumulator?.result() ?? null, usage };
    } finally {
      work.done();
      unfollow();
      active.dec();
    }
  }

  /** The forwarded body for one upstream: the client's, with the upstream's model name. */
  private bodyFor(prepared: PreparedChat, upstream: CatalogUpstream): string | Buffer {
    if (upstream.format === 'anthropic') {
      // #8: the Messages API; answers are translated back in complete() and stream().
      const anthropic =
        prepared.anthropicBody ??
        prepared.renderAnthropic?.() ??
        openAIRequestToAnthropic(prepared.body, {
          defaultMaxTokens: prepared.model.constraints.maxOutputTokens,
        });
      return JSON.stringify({ ...anthropic, model: upstream.model });
    }
    const body = prepared.body;
    if (prepared.messagesBytes) {
      const { messages: _serialised, ...rest } = body;
      const tail = Buffer.from(`,${JSON.stringify({ ...rest, model: upstream.model }).slice(1)}`);
      return Buffer.concat([MESSAGES_KEY, ...prepared.messagesBytes, tail]);
    }
    const alias = body.model;
    body.model = upstream.model;
    try {
      return JSON.stringify(body);
    } finally {
      body.model = alias;
    }
  }

  /** Counts and records usage once per call (also used by the Anthropic Messages service). */
  reportUsage(prepared: PreparedChat, usage: TokenUsage): void {
    const alias = prepared.model.alias;
    this.upstream.countTokens(alias, usage.promptTokens, usage.completionTokens);
    if (!this.usageSink) {
      return;
    }
    try {
      this.usageSink.record(prepared.auth, alias, usage);
    } catch (error) {
      this.logger.error(`usage sink failed: ${(error as Error).message}`);
    }
  }
}

/** One SSE `data:` payload as a JSON object; null when it is not one. */
export function parseChunk(data: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : null;
  } catch {
    return null;
  }
}
