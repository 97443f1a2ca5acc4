import { epochSeconds } from 'src/common/time/clock';
import { HEADER } from 'src/common/http/headers';
import { TokenUsage } from 'src/common/types/usage-sink';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import type { PreparedChat } from 'src/kernel/prepared-request';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import { AnthropicResponse } from 'src/modules/proxy/wire/anthropic/anthropic.types';
import { openAIRequestToAnthropic } from 'src/modules/proxy/wire/anthropic/request-to-anthropic';
import { anthropicResponseToOpenAI } from 'src/modules/proxy/wire/anthropic/response-to-openai';
import {
  AnthropicPassThroughStream,
  AnthropicUpstreamToChatStream,
  formatAnthropicStreamError,
  tokenUsageFromAnthropic,
} from 'src/modules/proxy/wire/anthropic/sse-adapters';
import {
  AssembledCompletion,
  OpenAiStreamAccumulator,
} from 'src/modules/proxy/wire/openai/stream-accumulator';
import type {
  ChatStreamAdapter,
  ChatStreamContext,
  MessagesStreamAdapter,
  UpstreamOperation,
  WireFormat,
} from 'src/modules/proxy/wire/wire-format';

/** `anthropic-version` sent to `anthropic` upstreams unless the caller names another. */
export const ANTHROPIC_VERSION = '2023-06-01';

/**
 * The Anthropic Messages wire: `x-api-key` + `anthropic-version`, requests rendered in the
 * Messages API (the client's own body from `/v1/messages`, the neutral history from /c1, or a
 * translation of a Chat Completions body), answers passed through to Messages clients and
 * translated for Chat Completions clients. No embeddings.
 */
export const anthropicWire: WireFormat = {
  name: 'anthropic',
  path: (operation: UpstreamOperation) => {
    switch (operation) {
      case 'chat':
        return '/messages';
      case 'models':
        return '/models';
      case 'embeddings':
        throw new ApiError('invalid_field', 'This model does not serve embeddings', {
          param: 'model',
        });
    }
  },
  baseHeaders: (apiKey) => ({
    [HEADER.anthropicVersion]: ANTHROPIC_VERSION,
    ...(apiKey ? { [HEADER.apiKey]: apiKey } : {}),
  }),
  reportsLoad: false,
  callerOverridableHeaders: [HEADER.anthropicVersion],
  isMessagesNative: true,

  requestBody: (prepared: PreparedChat, upstreamModel: string) => {
    const anthropic =
      prepared.anthropicBody ??
      prepared.renderAnthropic?.() ??
      openAIRequestToAnthropic(prepared.body, {
        defaultMaxTokens: prepared.model.constraints.maxOutputTokens,
      });
    return JSON.stringify({ ...anthropic, model: upstreamModel });
  },

  chatAnswer: (json, _bytes, alias) => {
    const answer = anthropicResponseToOpenAI(json, {
      model: alias,
      created: epochSeconds(),
    }) as unknown as JsonObject;
    return { json: answer, bytes: Buffer.from(JSON.stringify(answer)) };
  },

  messagesAnswer: (json, bytes, context) => {
    if (json.type !== 'message' || !Array.isArray(json.content)) {
      throw new ApiError(
        'upstream_error',
        `The model server for "${context.alias}" answered with no message`,
      );
    }
    return {
      message: json as unknown as AnthropicResponse,
      bytes,
      usage: tokenUsageFromAnthropic(json.usage),
    };
  },

  chatStream: (context) => new AnthropicToChatAdapter(context),
  messagesStream: () => new AnthropicMessagesPassThrough(),
  streamError: formatAnthropicStreamError,
};

/** Chat Completions clients of an `anthropic` upstream: every event translated to chunks. */
class AnthropicToChatAdapter implements ChatStreamAdapter {
  private readonly translator: AnthropicUpstreamToChatStream;
  private readonly accumulator: OpenAiStreamAccumulator | null;
  contentEvents = 0;

  constructor(private readonly context: ChatStreamContext) {
    this.translator = new AnthropicUpstreamToChatStream({
      model: context.alias,
      created: epochSeconds(),
      includeUsage: context.clientWantsUsage,
    });
    this.accumulator = context.collect ? new OpenAiStreamAccumulator() : null;
  }

  get usage(): TokenUsage | null {
    return this.translator.usage;
  }

  isTerminal(): boolean {
    return this.translator.isFinished;
  }

  push(event: SseEvent): string | null {
    const translated = this.translator.push(event);
    for (const chunk of translated.chunks) {
      this.contentEvents++;
      this.accumulator?.push(chunk);
      this.context.observe?.(event, chunk as unknown as Record<string, unknown>);
    }
    return translated.text;
  }

  completion(): AssembledCompletion | null {
    return this.accumulator?.result() ?? null;
  }
}

/** Messages clients of an `anthropic` upstream: events pass through, watched for the end. */
class AnthropicMessagesPassThrough implements MessagesStreamAdapter {
  private readonly watcher = new AnthropicPassThroughStream();
  contentEvents = 0;

  get usage(): TokenUsage | null {
    return this.watcher.usage;
  }

  isTerminal(): boolean {
    return this.watcher.isFinished;
  }

  push(event: SseEvent): undefined {
    if (!event.isComment) {
      this.contentEvents++;
    }
    this.watcher.observe(event);
    return undefined;
  }

  message(): AnthropicResponse | null {
    const assembler = this.watcher.assembler;
    return assembler.hasStarted ? assembler.message() : null;
  }
}
