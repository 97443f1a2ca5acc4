import { TokenUsage } from 'src/common/types/usage-sink';
import { ApiError } from 'src/common/errors/api-error';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import { AnthropicMessageAssembler } from 'src/modules/proxy/wire/anthropic/message-assembler';
import { OpenAIChatChunk } from 'src/modules/proxy/wire/anthropic/openai-chat.types';
import {
  anthropicErrorEvent,
  OpenAIToAnthropicStream,
  OpenAIToAnthropicStreamOptions,
  serializeAnthropicEvent,
} from 'src/modules/proxy/wire/anthropic/stream-from-openai';
import {
  AnthropicToOpenAIStream,
  AnthropicToOpenAIStreamOptions,
  serializeOpenAIStreamOutput,
} from 'src/modules/proxy/wire/anthropic/stream-to-openai';
import { isJsonObject } from 'src/kernel/json';

/**
 * Glue between the SSE pipe (`pipeSse`'s `onEvent` / `isTerminal` / `formatError`) and the
 * pure stream mappers: one class per direction a stream can take. Pure apart from their state;
 * a failure the upstream reports inside its stream is thrown as `ApiError('upstream_error')`,
 * which the pipe turns into the final error event of the client's format.
 */

function parseData(event: SseEvent): unknown {
  try {
    return JSON.parse(event.data) as unknown;
  } catch {
    throw new ApiError('upstream_error', 'The model server sent a malformed stream event');
  }
}

/** Anthropic usage (`message_start` + `message_delta`) as the proxy counts it. */
export function tokenUsageFromAnthropic(usage: unknown): TokenUsage | null {
  if (!isJsonObject(usage)) {
    return null;
  }
  const n = (v: unknown) => (typeof v === 'number' && v > 0 ? v : 0);
  return {
    promptTokens:
      n(usage.input_tokens) +
      n(usage.cache_creation_input_tokens) +
      n(usage.cache_read_input_tokens),
    completionTokens: n(usage.output_tokens),
  };
}

/** The message of an Anthropic `event: error` payload. */
function anthropicErrorMessage(data: unknown): string {
  const error = isJsonObject(data) && isJsonObject(data.error) ? data.error : {};
  return typeof error.message === 'string' ? error.message : 'unknown error';
}

/**
 * `/v1/chat/completions` served by an `anthropic` upstream: each Anthropic event becomes the
 * OpenAI chunks it stands for (`data: …` lines, `[DONE]` after `message_stop`). A `ping`
 * becomes an SSE comment, so that proxies in between still see traffic.
 */
export class AnthropicUpstreamToChatStream {
  private readonly mapper: AnthropicToOpenAIStream;

  constructor(options: AnthropicToOpenAIStreamOptions) {
    this.mapper = new AnthropicToOpenAIStream(options);
  }

  /** True once `message_stop` was translated: the client's stream is complete. */
  get isFinished(): boolean {
    return this.mapper.isFinished;
  }

  get usage(): TokenUsage | null {
    const usage = this.mapper.usage;
    return usage
      ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens }
      : null;
  }

  push(event: SseEvent): { text: string | null; chunks: OpenAIChatChunk[] } {
    if (event.isComment) {
      return { text: null, chunks: [] };
    }
    const data = parseData(event);
    if (isJsonObject(data) && data.type === 'ping') {
      return { text: ': ping\n\n', chunks: [] };
    }
    if (isJsonObject(data) && data.type === 'error') {
      throw new ApiError(
        'upstream_error',
        `The model server reported: ${anthropicErrorMessage(data)}`,
      );
    }
    const outputs = this.mapper.push(data);
    const chunks = outputs.flatMap((o) => (o.type === 'chunk' ? [o.chunk] : []));
    const text = outputs.map(serializeOpenAIStreamOutput).join('');
    return { text: text === '' ? null : text, chunks };
  }
}

export interface OpenAIUpstreamToMessagesStreamOptions extends OpenAIToAnthropicStreamOptions {
  /** Also assemble the whole message from the events (`/c1/messages` stores it). */
  collect?: boolean;
}

/**
 * `/v1/messages` served by an `openai` upstream: each chunk becomes Anthropic events,
 * `[DONE]` the closing `message_delta` and `message_stop`.
 */
export class OpenAIUpstreamToMessagesStream {
  private readonly mapper: OpenAIToAnthropicStream;
  /** The message the client receives, assembled from the events sent (with `collect`). */
  readonly assembler: AnthropicMessageAssembler | null;

  constructor(options: OpenAIUpstreamToMessagesStreamOptions) {
    const { collect, ...mapperOptions } = options;
    this.mapper = new OpenAIToAnthropicStream(mapperOptions);
    this.assembler = collect ? new AnthropicMessageAssembler() : null;
  }

  get isFinished(): boolean {
    return this.mapper.isFinished;
  }

  get usage(): TokenUsage | null {
    return this.mapper.usage;
  }

  push(event: SseEvent): string | null {
    if (event.isComment) {
      return null;
    }
    const events =
      event.data === '[DONE]' ? this.mapper.finish() : this.mapper.push(parseData(event));
    const failure = events.find((e) => e.type === 'error');
    if (failure && failure.type === 'error') {
      throw new ApiError('upstream_error', failure.error.message);
    }
    if (this.assembler) {
      for (const e of events) {
        this.assembler.push(e);
      }
    }
    return events.length === 0 ? null : events.map(serializeAnthropicEvent).join('');
  }
}

/**
 * `/v1/messages` passed through to an `anthropic` upstream: events go out as received; this
 * watches them for the end (`message_stop`), the usage and the assembled message, and turns
 * an upstream `event: error` into Parley's (thrown, so the pipe writes the catalog error).
 */
export class AnthropicPassThroughStream {
  readonly assembler = new AnthropicMessageAssembler();
  private stopped = false;

  get isFinished(): boolean {
    return this.stopped;
  }

  get usage(): TokenUsage | null {
    return this.assembler.hasStarted
      ? tokenUsageFromAnthropic(this.assembler.message().usage)
      : null;
  }

  observe(event: SseEvent): void {
    if (event.isComment) {
      return;
    }
    const data = parseData(event);
    if (isJsonObject(data) && data.type === 'error') {
      throw new ApiError(
        'upstream_error',
        `The model server reported: ${anthropicErrorMessage(data)}`,
      );
    }
    this.assembler.push(data);
    if (isJsonObject(data) && data.type === 'message_stop') {
      this.stopped = true;
    }
  }
}

/** The final event of a `/v1/messages` stream that failed after its headers. */
export function formatAnthropicStreamError(error: ApiError): string {
  return serializeAnthropicEvent(anthropicErrorEvent(error.toEnvelope()));
}
