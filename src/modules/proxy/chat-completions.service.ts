import { Injectable, Optional } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AuthContext } from 'src/common/types/auth-context';
import type { RequestLog } from 'src/common/logging/request-log';
import { TokenUsage } from 'src/common/types/usage-sink';
import { ApiError } from 'src/common/errors/api-error';
import {
  applyTokenBounds,
  checkMessages,
  readStreamFlags,
  requireJsonObject,
  resolveModel,
} from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { checkChatCostControls } from 'src/modules/models/constraints/cost-controls';
import { assertJsonDepth } from 'src/common/validation/json-depth';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { PreparedChat } from 'src/kernel/prepared-request';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import { sseErrorEvent } from 'src/modules/proxy/sse/sse-error-event';
import { SsePipeResult } from 'src/modules/proxy/sse/sse-pipe';
import {
  StreamInspector,
  StreamRunner,
  StreamRunResult,
} from 'src/modules/proxy/stream/stream-runner';
import { CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import { PolicyService } from 'src/modules/policy/policy.service';
import { UpstreamCall, UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { UsageReporter } from 'src/modules/proxy/usage-reporter';
import { AssembledCompletion } from 'src/modules/proxy/wire/openai/stream-accumulator';
import { readUsage } from 'src/modules/proxy/wire/openai/stream-events';
import type { ChatStreamAdapter } from 'src/modules/proxy/wire/wire-format';

export interface PrepareOptions {
  /** Used when the body has no `model` (/c1: the conversation's model). */
  defaultModel?: string;
}

export interface CallOptions {
  /** Aborts the upstream call (the client hung up). An `AbortSignal` or a `Cancellation`. */
  signal?: CancelSignal;
  /** Forwarded upstream as `x-request-id`. */
  requestId?: string;
  /** The request's logger (see `UpstreamRequest.log`). */
  log: RequestLog;
  /** Same key → same upstream while healthy (conversation affinity). */
  affinityKey?: string;
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
 *   const { bytes, json } = await chat.complete(prepared, { signal, log }); // throws ApiError (5xx)
 * } else {
 *   const result = await chat.stream(reply, prepared, { onClientGone: 'detach', collect: true, log });
 *   // result.completion: the assembled answer; result.outcome: completed | incomplete | failed
 * }
 * ```
 *
 * Usage is reported to the `USAGE_SINK` here (JSON answers, streams, abandoned streams), once
 * per call: callers must not report it again. What the upstream's format changes (bodies,
 * answers, stream events) comes from its `WireFormat` (`call.wire`); what every stream shares
 * (gauge, drain, keep-alives, time to first token, usage, the last write) from `StreamRunner`.
 */
@Injectable()
export class ChatCompletionsService {
  constructor(
    private readonly catalog: ModelCatalog,
    private readonly upstream: UpstreamClient,
    private readonly metrics: MetricsService,
    private readonly runner: StreamRunner,
    private readonly usage: UsageReporter,
    @Optional() private readonly policy?: PolicyService,
  ) {}

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
    checkChatCostControls(body, model);
    checkMessages(body.messages, model.constraints, model.alias);
    this.policy?.checkInput(model.alias, body.messages);
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
  open(prepared: PreparedChat, options: CallOptions): Promise<UpstreamCall> {
    return this.upstream.send(prepared.model, {
      operation: 'chat',
      stream: prepared.isStream,
      body: (upstream, wire) => wire.requestBody(prepared, upstream.model),
      signal: options.signal,
      requestId: options.requestId,
      log: options.log,
      affinityKey: options.affinityKey,
      headers: options.upstreamHeaders,
    });
  }

  /**
   * A non-streamed completion: opens the call, reads the JSON answer (capped), reports usage.
   * Throws `ApiError` (502 for a body that is not JSON, 504/503 as `open`).
   */
  async complete(prepared: PreparedChat, options: CallOptions): Promise<CompletedChat> {
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
    const answer = call.wire.chatAnswer(json as JsonObject, bytes, alias);
    const usage = readUsage(answer.json);
    if (usage) {
      this.reportUsage(prepared, usage);
    }
    this.policy?.checkAnswer(alias, answer.json);
    return { bytes: answer.bytes, json: answer.json, usage, call };
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
    const applied = this.appliedHeader(prepared);
    const collect = options.collect === true;
    const result = await this.runner.run({
      reply,
      open: (signal) => this.open(prepared, { ...options, signal }),
      adapter: (call) =>
        call.wire.chatStream({
          alias: prepared.model.alias,
          clientWantsUsage: prepared.clientWantsUsage,
          collect,
          observe: options.onEvent && ((event, chunk) => options.onEvent?.(event, chunk)),
        }),
      usage: {
        auth: prepared.auth,
        alias: prepared.model.alias,
        prompt: () => prepared.body.messages,
      },
      formatError: sseErrorEvent,
      assembled: collect,
      inspect: this.outputInspector(prepared),
      onClientGone: options.onClientGone,
      signal: options.signal,
      headers: applied ? { ...options.headers, 'x-parley-applied': applied } : options.headers,
      beforeEnd: options.beforeEnd
        ? (ending) => options.beforeEnd?.(streamedChat(ending, collect))
        : undefined,
    });
    return streamedChat(result, collect);
  }

  /**
   * The content policy's output rules for a stream of this request (`StreamRun.inspect`), for
   * every stream that forwards a chat request (this service's, `/v1/responses`'); undefined
   * without a policy.
   */
  outputInspector(
    prepared: PreparedChat,
  ): ((call: UpstreamCall) => StreamInspector | null) | undefined {
    const policy = this.policy;
    return policy
      ? (call) => policy.streamScanner(prepared.model.alias, call.wire.isMessagesNative)
      : undefined;
  }

  /** Counts and records usage once per call (also used by the Anthropic Messages service). */
  reportUsage(prepared: PreparedChat, usage: TokenUsage): void {
    this.usage.report(prepared.auth, prepared.model.alias, usage);
  }
}

/** Field by field: object rest and spread cost several times more, on every stream. */
function streamedChat(result: StreamRunResult<ChatStreamAdapter>, collect: boolean): StreamedChat {
  return {
    outcome: result.outcome,
    error: result.error,
    isClientGone: result.isClientGone,
    call: result.call,
    usage: result.usage,
    completion: collect ? (result.adapter?.completion() ?? null) : null,
  };
}
