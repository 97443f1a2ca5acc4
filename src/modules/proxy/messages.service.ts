import { performance } from 'node:perf_hooks';
import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { TokenUsage } from 'src/common/types/usage-sink';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/modules/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import {
  JsonObject,
  requireJsonObject,
  resolveModel,
} from 'src/modules/models/constraints/chat-request';
import { assertJsonDepth } from 'src/modules/models/constraints/json-depth';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { LifecycleService, shutdownError } from 'src/modules/lifecycle/lifecycle.service';
import {
  CallOptions,
  ChatCompletionsService,
  PrepareOptions,
  PreparedChat,
} from 'src/modules/proxy/chat-completions.service';
import { pipeSse, SsePipeResult } from 'src/modules/proxy/sse/sse-pipe';
import { Cancellation } from 'src/modules/proxy/upstream/cancellation';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { AnthropicResponse } from 'src/modules/proxy/wire/anthropic/anthropic.types';
import { estimateUsage } from 'src/modules/proxy/usage-estimate';
import { anthropicRequestToOpenAI } from 'src/modules/proxy/wire/anthropic/request-to-openai';
import { openAIResponseToAnthropic } from 'src/modules/proxy/wire/anthropic/response-from-openai';
import {
  AnthropicPassThroughStream,
  formatAnthropicStreamError,
  OpenAIUpstreamToMessagesStream,
  tokenUsageFromAnthropic,
} from 'src/modules/proxy/wire/anthropic/sse-adapters';
import { readUsage } from 'src/modules/proxy/wire/openai/stream-events';

/** An Anthropic Messages request checked like a chat completion, ready for either upstream. */
export interface PreparedMessages {
  /**
   * The request translated to Chat Completions and checked by `ChatCompletionsService.prepare`
   * (model, key, media, max_tokens bounds); `chat.anthropicBody` is the client's own body
   * (unknown fields intact, bounded `max_tokens`), sent as is to `anthropic` upstreams.
   */
  chat: PreparedChat;
  isStream: boolean;
  /** The request's `stop_sequences`, to report which one ended an answer. */
  stopSequences: string[];
}

export interface CompletedMessage {
  /** The Anthropic message: the upstream's bytes (anthropic) or the translation (openai). */
  bytes: Buffer;
  /** The same, parsed (/c1 stores it). */
  message: AnthropicResponse;
  usage: TokenUsage | null;
}

export interface MessagesStreamOptions extends CallOptions {
  /* `signal` here aborts the upstream whatever `onClientGone` says (`x-on-disconnect: cancel`). */
  /** `abort` (/v1) or `detach` (/c1: keep reading and return the whole answer). */
  onClientGone: 'abort' | 'detach';
  /** Extra response headers (`x-conversation-id`); `x-parley-applied` is added from `applied`. */
  headers?: Record<string, string>;
  /** Assemble the answer from the events and return it in `message` (/c1). */
  collect?: boolean;
  /**
   * Awaited once the outcome is known, before the stream's last bytes (`message_stop` or the
   * final error event): as `StreamChatOptions.beforeEnd` (/c1 stores the turn here). Usage has
   * been reported already.
   */
  beforeEnd?(result: StreamedMessage): Promise<ApiError | void> | ApiError | void;
  /** Observes each event's text as the client gets it (also after it left): /c1 reattach. */
  onSent?(text: string): void;
}

export interface StreamedMessage extends SsePipeResult {
  usage: TokenUsage | null;
  /** The assembled answer when `collect` was set and the stream started (also when cut). */
  message: AnthropicResponse | null;
}

/**
 * `POST /v1/messages` (issue #8) on top of the chat completions engine: the same checks (run
 * on the translated request, errors pointing into the Anthropic body), the same upstream call
 * (`ChatCompletionsService.open`: balancing, retry, timeouts), the same SSE pipe. What differs
 * is the answer: an `openai` upstream's is translated to the Messages API, an `anthropic`
 * upstream's passes through; stream failures end with an Anthropic `event: error` carrying the
 * catalog error. Usage is reported once per call through the chat service.
 */
@Injectable()
export class MessagesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly catalog: ModelCatalog,
    private readonly chat: ChatCompletionsService,
    private readonly upstream: UpstreamClient,
    private readonly metrics: MetricsService,
    private readonly lifecycle: LifecycleService,
  ) {}

  /**
   * Checks a Messages request, in the chat completions order: body, `model` (catalog, key),
   * then the structure of the Anthropic body (`missing_field` / `invalid_field`), media and
   * `max_tokens` bounds. Every `param` is a path in the client's Anthropic body. Content an
   * `openai` upstream cannot take (server tools, document URLs) is refused only when the model
   * has such an upstream.
   */
  prepare(auth: AuthContext, rawBody: unknown, options: PrepareOptions = {}): PreparedMessages {
    const body = requireJsonObject(rawBody);
    assertJsonDepth(body);
    if ((body.model === undefined || body.model === null) && options.defaultModel) {
      body.model = options.defaultModel;
    }
    const model = resolveModel(this.catalog, body.model, auth.allowedModels);
    const hasOpenAIUpstream = model.upstreams.some((u) => u.format === 'openai');
    const translation = anthropicRequestToOpenAI(body, {
      untranslatable: hasOpenAIUpstream ? 'reject' : 'omit',
    });
    let chat: PreparedChat;
    try {
      chat = this.chat.prepare(auth, translation.body);
    } catch (error) {
      throw inAnthropicTerms(error, translation.toAnthropicParam);
    }
    chat.anthropicBody = { ...body, max_tokens: chat.body.max_tokens };
    const stop = body.stop_sequences;
    return {
      chat,
      isStream: chat.isStream,
      stopSequences: Array.isArray(stop) ? (stop as string[]) : [],
    };
  }

  appliedHeader(prepared: PreparedMessages): string | null {
    return this.chat.appliedHeader(prepared.chat);
  }

  /** A non-streamed message. Throws `ApiError` (5xx from the upstream, as chat completions). */
  async complete(prepared: PreparedMessages, options: CallOptions = {}): Promise<CompletedMessage> {
    const alias = prepared.chat.model.alias;
    const call = await this.chat.open(prepared.chat, options);
    this.metrics.timeToFirstToken
      .labels(alias)
      .observe((performance.now() - call.startedAt) / 1000);
    const bytes = await this.upstream.readBody(call);
    const json = parseObject(bytes);
    if (!json) {
      this.metrics.upstreamErrors.labels(alias, 'upstream_error').inc();
      throw new ApiError(
        'upstream_error',
        `The model server for "${alias}" answered with invalid JSON`,
      );
    }
    let answer: Buffer;
    let message: AnthropicResponse;
    let usage: TokenUsage | null;
    if (call.upstream.format === 'anthropic') {
      if (json.type !== 'message' || !Array.isArray(json.content)) {
        throw new ApiError(
          'upstream_error',
          `The model server for "${alias}" answered with no message`,
        );
      }
      answer = bytes;
      message = json as unknown as AnthropicResponse;
      usage = tokenUsageFromAnthropic(json.usage);
    } else {
      message = openAIResponseToAnthropic(json, {
        model: alias,
        stopSequences: prepared.stopSequences,
      });
      answer = Buffer.from(JSON.stringify(message));
      usage = readUsage(json);
    }
    if (usage) {
      this.chat.reportUsage(prepared.chat, usage);
    }
    return { bytes: answer, message, usage };
  }

  /**
   * A streamed message written to `reply` (headers, keep-alives, back-pressure, hang-up: see
   * `pipeSse`). Throws `ApiError` only when the upstream failed before anything was sent;
   * afterwards a failure ends the stream with one `event: error`. Tracked by the lifecycle like
   * a chat stream: a shutdown waits for it, and at the end of the grace period cuts it with a
   * final `server_overloaded` event.
   */
  async stream(
    reply: FastifyReply,
    prepared: PreparedMessages,
    options: MessagesStreamOptions,
  ): Promise<StreamedMessage> {
    const alias = prepared.chat.model.alias;
    // Set once the upstream is chosen (`as`: assigned in a callback, which TS cannot follow).
    let translator = null as OpenAIUpstreamToMessagesStream | null;
    let passThrough = null as AnthropicPassThroughStream | null;
    let startedAt = 0;
    let contentEvents = 0;
    let final: StreamedMessage | null = null;
    const applied = this.appliedHeader(prepared);
    const active = this.metrics.activeStreams;
    active.inc();
    const cut = new Cancellation();
    const unfollow = cut.follow(options.signal);
    const work = this.lifecycle.track('stream', () => cut.abort(shutdownError()));
    try {
      const result = await pipeSse(
        reply,
        async (signal) => {
          const call = await this.chat.open(prepared.chat, { ...options, signal });
          startedAt = call.startedAt;
          if (call.upstream.format === 'anthropic') {
            passThrough = new AnthropicPassThroughStream();
          } else {
            translator = new OpenAIUpstreamToMessagesStream({
              model: alias,
              stopSequences: prepared.stopSequences,
              collect: options.collect,
            });
          }
          return call;
        },
        {
          headers: applied ? { ...options.headers, [HEADER.applied]: applied } : options.headers,
          keepAliveIntervalMs: this.config.upstream.keepAliveIntervalMs,
          idleTimeoutMs: this.config.upstream.idleTimeoutMs,
          onClientGone: options.onClientGone,
          signal: cut,
          isTerminal: () => (passThrough ?? translator)?.isFinished ?? false,
          onFirstByte: () =>
            this.metrics.timeToFirstToken
              .labels(alias)
              .observe((performance.now() - startedAt) / 1000),
          onEvent: (event) => {
            if (!event.isComment) {
              contentEvents++;
            }
            if (passThrough) {
              passThrough.observe(event);
              options.onSent?.(`${event.raw}\n\n`);
              return undefined;
            }
            const text = translator?.push(event) ?? null;
            if (text) {
              options.onSent?.(text);
            }
            return text;
          },
          formatError: formatAnthropicStreamError,
          beforeEnd: async (ending) => {
            const adapter = passThrough ?? translator;
            let usage = adapter?.usage ?? null;
            if (!usage && ending.call) {
              usage = await estimateUsage(
                prepared.chat.body.messages,
                Math.max(0, contentEvents - 1),
              );
            }
            if (usage) {
              this.chat.reportUsage(prepared.chat, usage);
            }
            const assembler = adapter?.assembler;
            const message = options.collect && assembler?.hasStarted ? assembler.message() : null;
            final = { ...ending, usage, message };
            return options.beforeEnd?.(final);
          },
        },
      );
      return final ?? { ...result, usage: null, message: null };
    } finally {
      work.done();
      unfollow();
      active.dec();
    }
  }
}

/**
 * Restates an error of the chat checks in the client's terms: its `param` (and the path in its
 * message) as the path in the Anthropic body.
 */
function inAnthropicTerms(error: unknown, toAnthropicParam: (p: string | null) => string | null) {
  if (!(error instanceof ApiError) || error.param === null) {
    return error;
  }
  const param = toAnthropicParam(error.param);
  if (param === null || param === error.param) {
    return error;
  }
  return new ApiError(error.code, error.message.split(error.param).join(param), {
    param,
    headers: error.headers,
    cause: error,
  });
}

function parseObject(bytes: Buffer): JsonObject | null {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : null;
  } catch {
    return null;
  }
}
