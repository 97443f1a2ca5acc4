import { Injectable, Optional } from '@nestjs/common';
import { PreparedChat, PreparedMessages } from 'src/kernel/prepared-request';
import type { FastifyReply } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { TokenUsage } from 'src/common/types/usage-sink';
import { ApiError } from 'src/common/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { requireJsonObject, resolveModel } from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { checkMessagesCostControls } from 'src/modules/models/constraints/cost-controls';
import { assertJsonDepth } from 'src/common/validation/json-depth';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import {
  CallOptions,
  ChatCompletionsService,
  PrepareOptions,
} from 'src/modules/proxy/chat-completions.service';
import { SsePipeResult } from 'src/modules/proxy/sse/sse-pipe';
import { StreamRunner, StreamRunResult } from 'src/modules/proxy/stream/stream-runner';
import { PolicyService } from 'src/modules/policy/policy.service';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { AnthropicResponse } from 'src/modules/proxy/wire/anthropic/anthropic.types';
import { anthropicRequestToOpenAI } from 'src/modules/proxy/wire/anthropic/request-to-openai';
import type { MessagesStreamAdapter } from 'src/modules/proxy/wire/wire-format';
import { WireFormats } from 'src/modules/proxy/wire/wire-formats';

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
    private readonly catalog: ModelCatalog,
    private readonly chat: ChatCompletionsService,
    private readonly upstream: UpstreamClient,
    private readonly metrics: MetricsService,
    private readonly runner: StreamRunner,
    private readonly wires: WireFormats,
    @Optional() private readonly policy?: PolicyService,
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
    checkMessagesCostControls(body, model);
    const translation = anthropicRequestToOpenAI(body, {
      untranslatable: this.wires.anyNotMessagesNative(model.upstreams) ? 'reject' : 'omit',
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
  async complete(prepared: PreparedMessages, options: CallOptions): Promise<CompletedMessage> {
    const alias = prepared.chat.model.alias;
    const call = await this.chat.open(prepared.chat, options);
    this.upstream.observeFirstByte(call);
    const bytes = await this.upstream.readBody(call);
    const json = parseObject(bytes);
    if (!json) {
      this.metrics.upstreamErrors.labels(alias, 'upstream_error').inc();
      throw new ApiError(
        'upstream_error',
        `The model server for "${alias}" answered with invalid JSON`,
      );
    }
    const answer = call.wire.messagesAnswer(json, bytes, {
      alias,
      stopSequences: prepared.stopSequences,
    });
    if (answer.usage) {
      this.chat.reportUsage(prepared.chat, answer.usage);
    }
    this.policy?.checkMessage(alias, answer.message);
    return answer;
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
    const applied = this.appliedHeader(prepared);
    const collect = options.collect === true;
    const result = await this.runner.run({
      reply,
      open: (signal) => this.chat.open(prepared.chat, { ...options, signal }),
      adapter: (call) =>
        call.wire.messagesStream({ alias, stopSequences: prepared.stopSequences, collect }),
      usage: { auth: prepared.chat.auth, alias, prompt: () => prepared.chat.body.messages },
      // The client speaks the Messages API: its error event is Anthropic's.
      formatError: this.wires.get('anthropic').streamError,
      assembled: collect,
      inspect: this.policy
        ? (call) => this.policy?.streamScanner(alias, call.wire.isMessagesNative) ?? null
        : undefined,
      onSent: options.onSent && ((text) => options.onSent?.(text)),
      onClientGone: options.onClientGone,
      signal: options.signal,
      headers: applied ? { ...options.headers, [HEADER.applied]: applied } : options.headers,
      beforeEnd: options.beforeEnd
        ? (ending) => options.beforeEnd?.(streamedMessage(ending, collect))
        : undefined,
    });
    return streamedMessage(result, collect);
  }
}

function streamedMessage(
  result: StreamRunResult<MessagesStreamAdapter>,
  collect: boolean,
): StreamedMessage {
  const { adapter, ...rest } = result;
  return { ...rest, message: collect ? (adapter?.message() ?? null) : null };
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
