import { PreparedChat } from 'src/kernel/prepared-request';
import type { FastifyReply } from 'fastify';
import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { assertStorableText } from 'src/common/validation/storable-text';
import { assertTurnFieldCaps } from 'src/modules/conversations/turn-field-caps';
import { TokenUsage } from 'src/common/types/usage-sink';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import { CallOptions, ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import { anthropicRequestFromNeutral } from 'src/modules/proxy/wire/anthropic/request-to-anthropic';
import { OpenAIMessage, openAIToNeutral } from 'src/modules/proxy/wire/openai/openai-neutral';
import {
  promptMessages,
  PromptWindow,
  renderOpenAIPrompt,
  RenderedWindows,
} from 'src/modules/conversations/openai-prompt';
import {
  AssembledCompletion,
  assembleCompletion,
} from 'src/modules/proxy/wire/openai/stream-accumulator';
import { splitTurn, SplitTurn } from 'src/modules/conversations/turn-request';
import {
  PreparedTurn,
  StoredCompletion,
  TurnStreamOptions,
  TurnWire,
} from 'src/modules/conversations/turn-wire';
import { TurnAnswer } from 'src/modules/conversations/turn-engine';

/** `/c1/chat/completions`: a turn in the Chat Completions format (see `TurnWire`). */
@Injectable()
export class ChatTurnWire implements TurnWire {
  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly windows: RenderedWindows,
  ) {}

  prepare(auth: AuthContext, body: JsonObject, context: { defaultModel?: string }): PreparedTurn {
    const chat = this.chat.prepare(auth, body, { defaultModel: context.defaultModel });
    if (body.n !== undefined && body.n !== null && body.n !== 1) {
      throw new ApiError('invalid_field', 'n must be 1 on /c1: a conversation keeps one answer', {
        param: 'n',
      });
    }
    return { chat };
  }

  splitTurn(prepared: PreparedTurn, isNewConversation: boolean): SplitTurn {
    const messages = prepared.chat.body.messages;
    const split = splitTurn(messages as OpenAIMessage[], isNewConversation);
    assertStorableText(messages, 'messages');
    assertTurnFieldCaps(messages);
    return split;
  }

  renderPrompt(prepared: PreparedTurn, window: PromptWindow): void {
    renderChatPrompt(prepared.chat, window, this.windows);
  }

  async complete(
    prepared: PreparedTurn,
    options: CallOptions,
  ): Promise<{ body: JsonObject; answer: TurnAnswer }> {
    const { json } = await this.chat.complete(prepared.chat, options);
    const answer = answerOf(assembleCompletion(json), null);
    if (!answer) {
      throw new ApiError(
        'upstream_error',
        `The model server for "${prepared.chat.model.alias}" answered without a choice`,
      );
    }
    return { body: json, answer };
  }

  async stream(
    reply: FastifyReply,
    prepared: PreparedTurn,
    options: TurnStreamOptions,
  ): Promise<void> {
    await this.chat.stream(reply, prepared.chat, {
      ...options,
      collect: true,
      onEvent: (event, chunk) => {
        if (chunk) {
          options.onSent?.(`data: ${JSON.stringify(chunk)}\n\n`);
        } else if (event.data === '[DONE]') {
          options.onSent?.('data: [DONE]\n\n');
        }
      },
      beforeEnd: (result) =>
        options.beforeEnd({ ...result, answer: answerOf(result.completion, result.usage) }),
    });
  }

  replay(prepared: PreparedTurn, stored: StoredCompletion): { body: JsonObject } | { sse: string } {
    const { created, model, message, finishReason, usage } = stored;
    const id = `chatcmpl-${stored.messageId}`;
    if (!prepared.chat.isStream) {
      return {
        body: {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
          usage,
        },
      };
    }
    const chunk = (fields: JsonObject) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, ...fields })}\n\n`;
    const { role: _role, ...delta } = message;
    let sse =
      chunk({
        choices: [
          { index: 0, delta: { role: 'assistant', ...delta }, finish_reason: null, logprobs: null },
        ],
      }) +
      chunk({ choices: [{ index: 0, delta: {}, finish_reason: finishReason, logprobs: null }] });
    if (prepared.chat.clientWantsUsage && usage) {
      sse += chunk({ choices: [], usage });
    }
    return { sse: `${sse}data: [DONE]\n\n` };
  }
}

/**
 * Sets the prompt of a /c1 turn for either kind of upstream: the OpenAI rendering of the
 * neutral history in `body.messages`, and a renderer of the Anthropic request straight from
 * the neutral history (so thinking signatures and tool errors survive, which the OpenAI
 * rendering cannot carry). The Anthropic wire calls it only when an `anthropic` upstream is
 * chosen (once, kept for a retry): it refuses what Anthropic cannot express (JSON
 * `response_format`), which must not fail a turn that an `openai` upstream of the same alias
 * serves.
 */
export function renderChatPrompt(
  chat: PreparedChat,
  window: PromptWindow,
  windows: RenderedWindows,
): void {
  renderOpenAIPrompt(chat, window, windows);
  let rendered: JsonObject | undefined;
  chat.renderAnthropic = () =>
    (rendered ??= anthropicRequestFromNeutral(chat.body, promptMessages(window), {
      defaultMaxTokens: chat.model.constraints.maxOutputTokens,
    }));
}

/** The first choice of an assembled completion, as the answer to store; null without one. */
function answerOf(completion: AssembledCompletion | null, streamUsage: TokenUsage | null) {
  const choice = completion?.choices[0];
  if (!completion || !choice) {
    return null;
  }
  const usage = completion.usage
    ? {
        promptTokens: completion.usage.prompt_tokens,
        completionTokens: completion.usage.completion_tokens,
      }
    : streamUsage;
  return {
    message: openAIToNeutral(choice.message as unknown as OpenAIMessage),
    finishReason: choice.finish_reason,
    usage,
  };
}
