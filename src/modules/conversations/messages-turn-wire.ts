import { PreparedMessages } from 'src/kernel/prepared-request';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { assertStorableText } from 'src/common/validation/storable-text';
import { assertTurnFieldCaps } from 'src/modules/conversations/turn-field-caps';
import { TokenUsage } from 'src/common/types/usage-sink';
import { JsonObject } from 'src/kernel/json';
import { anthropicClientHeaders } from 'src/modules/proxy/anthropic-client-headers';
import { CallOptions } from 'src/modules/proxy/chat-completions.service';
import { MessagesService } from 'src/modules/proxy/messages.service';
import { AnthropicResponse } from 'src/modules/proxy/wire/anthropic/anthropic.types';
import {
  anthropicResponseToNeutral,
  neutralToAnthropic,
} from 'src/modules/proxy/wire/anthropic/neutral-anthropic';
import { openAIResponseToAnthropic } from 'src/modules/proxy/wire/anthropic/response-from-openai';
import { openAIFinishFromAnthropic } from 'src/modules/proxy/wire/anthropic/stop-and-usage';
import {
  OpenAIToAnthropicStream,
  serializeAnthropicEvent,
} from 'src/modules/proxy/wire/anthropic/stream-from-openai';
import {
  promptMessages,
  PromptWindow,
  renderOpenAIPrompt,
  RenderedWindows,
} from 'src/modules/conversations/openai-prompt';
import { splitAnthropicTurn, SplitTurn } from 'src/modules/conversations/turn-request';
import {
  PreparedTurn,
  StoredCompletion,
  TurnStreamOptions,
  TurnWire,
} from 'src/modules/conversations/turn-wire';
import { TurnAnswer } from 'src/modules/conversations/turn-engine';

interface PreparedMessagesTurn extends PreparedTurn {
  messages: PreparedMessages;
  /** The client's Anthropic body (bounded `max_tokens`), before the history is put in. */
  client: JsonObject;
  /** `anthropic-version` / `anthropic-beta` from the client, for an `anthropic` upstream. */
  upstreamHeaders: Record<string, string>;
}

/**
 * `/c1/messages`: a turn in the Anthropic Messages format (see `TurnWire`), on the
 * `/v1/messages` engine (`MessagesService`): the same checks, and the answer passed through
 * from an `anthropic` upstream or translated from an `openai` one, JSON or stream.
 */
@Injectable()
export class MessagesTurnWire implements TurnWire<PreparedMessagesTurn> {
  constructor(
    private readonly messages: MessagesService,
    private readonly windows: RenderedWindows,
  ) {}

  prepare(
    auth: AuthContext,
    body: JsonObject,
    context: { defaultModel?: string; headers: IncomingHttpHeaders },
  ): PreparedMessagesTurn {
    const messages = this.messages.prepare(auth, body, { defaultModel: context.defaultModel });
    return {
      chat: messages.chat,
      messages,
      client: messages.chat.anthropicBody ?? body,
      upstreamHeaders: anthropicClientHeaders(context.headers, messages.chat.model),
    };
  }

  splitTurn(prepared: PreparedMessagesTurn, isNewConversation: boolean): SplitTurn {
    const split = splitAnthropicTurn(prepared.client, isNewConversation);
    assertStorableText(prepared.client.system, 'system');
    assertStorableText(prepared.client.messages, 'messages');
    assertTurnFieldCaps(prepared.client.messages);
    return split;
  }

  /**
   * The client's own body with the conversation rendered from the neutral history for an
   * `anthropic` upstream (its other fields, `thinking` or `cache_control` included, kept); the
   * translated body with the OpenAI rendering for an `openai` one.
   */
  renderPrompt(prepared: PreparedMessagesTurn, window: PromptWindow): void {
    renderOpenAIPrompt(prepared.chat, window, this.windows);
    // Rendered only when an `anthropic` upstream is chosen: the neutral history is walked then.
    // `anthropicBody` (the client's body without the history, set by `prepare`) would win.
    const { system: _system, ...client } = prepared.client;
    let rendered: JsonObject | undefined;
    prepared.chat.anthropicBody = undefined;
    prepared.chat.renderAnthropic = () => {
      if (!rendered) {
        const { system, messages } = neutralToAnthropic(promptMessages(window));
        rendered = { ...client, ...(system !== undefined ? { system } : {}), messages };
      }
      return rendered;
    };
  }

  async complete(
    prepared: PreparedMessagesTurn,
    options: CallOptions,
  ): Promise<{ body: JsonObject; answer: TurnAnswer }> {
    const { message, usage } = await this.messages.complete(prepared.messages, {
      ...options,
      upstreamHeaders: prepared.upstreamHeaders,
    });
    return { body: { ...message } as unknown as JsonObject, answer: answerOf(message, usage) };
  }

  async stream(
    reply: FastifyReply,
    prepared: PreparedMessagesTurn,
    options: TurnStreamOptions,
  ): Promise<void> {
    await this.messages.stream(reply, prepared.messages, {
      ...options,
      upstreamHeaders: prepared.upstreamHeaders,
      collect: true,
      beforeEnd: (result) =>
        options.beforeEnd({
          ...result,
          answer: result.message ? answerOf(result.message, result.usage) : null,
        }),
    });
  }

  /** The stored answer through the same translation an `openai` upstream's answer takes. */
  replay(
    prepared: PreparedMessagesTurn,
    stored: StoredCompletion,
  ): { body: JsonObject } | { sse: string } {
    const model = stored.model ?? prepared.chat.model.alias;
    const id = `msg_${stored.messageId}`;
    const choice = { index: 0, message: stored.message, finish_reason: stored.finishReason };
    if (!prepared.messages.isStream) {
      const completion = { id, choices: [choice], usage: stored.usage };
      return {
        body: openAIResponseToAnthropic(completion, { model }) as unknown as JsonObject,
      };
    }
    const { role: _role, tool_calls: calls, ...delta } = stored.message;
    const mapper = new OpenAIToAnthropicStream({ model });
    const events = [
      ...mapper.push({
        id,
        choices: [
          {
            index: 0,
            delta: {
              ...delta,
              // Stream deltas number their tool calls.
              ...(Array.isArray(calls)
                ? { tool_calls: calls.map((c, index) => ({ index, ...(c as JsonObject) })) }
                : {}),
            },
            finish_reason: stored.finishReason,
          },
        ],
        usage: stored.usage,
      }),
      ...mapper.finish(),
    ];
    return { sse: events.map(serializeAnthropicEvent).join('') };
  }
}

function answerOf(message: AnthropicResponse, usage: TokenUsage | null): TurnAnswer {
  return {
    message: anthropicResponseToNeutral(message),
    finishReason:
      message.stop_reason === null || message.stop_reason === undefined
        ? null
        : openAIFinishFromAnthropic(message.stop_reason),
    usage,
  };
}
