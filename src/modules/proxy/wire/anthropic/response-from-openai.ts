import { ApiError } from 'src/common/errors/api-error';
import {
  AnthropicResponse,
  AnthropicResponseBlock,
} from 'src/modules/proxy/wire/anthropic/anthropic.types';
import {
  anthropicStopFromOpenAI,
  anthropicUsageFromOpenAI,
} from 'src/modules/proxy/wire/anthropic/stop-and-usage';
import { isNonEmptyString, parseToolArguments } from 'src/modules/proxy/wire/anthropic/wire-utils';
import { isJsonObject } from 'src/kernel/json';

export interface OpenAIToAnthropicResponseOptions {
  /** The model the client asked for (the catalog alias), reported instead of the upstream's. */
  model: string;
  /** The request's `stop_sequences`, to recognise which one ended the answer. */
  stopSequences?: readonly string[];
}

/** Anthropic message ids start with `msg_`; the upstream's id is kept after it for tracing. */
export function anthropicMessageId(upstreamId: unknown): string {
  if (!isNonEmptyString(upstreamId)) {
    return 'msg_parley';
  }
  return upstreamId.startsWith('msg_') ? upstreamId : `msg_${upstreamId}`;
}

/** For servers that leave out tool call ids: unique within the message, stable across reads. */
export function fallbackToolUseId(messageId: string, index: number): string {
  return `toolu_${messageId.replace(/^msg_/, '').replace(/[^A-Za-z0-9_-]/g, '')}_${index}`;
}

/**
 * OpenAI Chat Completions response → Anthropic Messages response. Reasoning (vLLM's
 * `reasoning_content`) becomes a leading `thinking` block without a signature, text one `text`
 * block, each tool call a `tool_use` block with its arguments parsed. Upstream answers are
 * untrusted: a missing choice or tool arguments that are not a JSON object → 502 upstream_error.
 */
export function openAIResponseToAnthropic(
  response: unknown,
  options: OpenAIToAnthropicResponseOptions,
): AnthropicResponse {
  if (!isJsonObject(response) || !Array.isArray(response.choices)) {
    throw new ApiError('upstream_error', 'The upstream answer is not a chat completion');
  }
  const choice: unknown = response.choices[0];
  if (!isJsonObject(choice) || !isJsonObject(choice.message)) {
    throw new ApiError('upstream_error', 'The upstream answer has no choice');
  }
  const message = choice.message;
  const messageId = anthropicMessageId(response.id);
  const content: AnthropicResponseBlock[] = [];
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (isNonEmptyString(reasoning)) {
    content.push({ type: 'thinking', thinking: reasoning, signature: '' });
  }
  if (isNonEmptyString(message.content)) {
    content.push({ type: 'text', text: message.content });
  } else if (Array.isArray(message.content)) {
    // Some servers answer with content parts; only text can come back from a chat model.
    const text = message.content
      .map((p: unknown) => (isJsonObject(p) && typeof p.text === 'string' ? p.text : ''))
      .join('');
    if (text !== '') {
      content.push({ type: 'text', text });
    }
  }
  if (isNonEmptyString(message.refusal)) {
    content.push({ type: 'text', text: message.refusal });
  }
  const toolCalls: unknown[] = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  toolCalls.forEach((call, i) => {
    const fn = isJsonObject(call) && isJsonObject(call.function) ? call.function : null;
    if (!fn || !isNonEmptyString(fn.name)) {
      throw new ApiError('upstream_error', `The upstream returned tool call ${i} without a name`);
    }
    const args = typeof fn.arguments === 'string' ? fn.arguments : '';
    const input = parseToolArguments(args);
    if (input === null) {
      throw new ApiError(
        'upstream_error',
        `The upstream returned arguments for tool "${fn.name}" that are not a JSON object`,
      );
    }
    const id =
      isJsonObject(call) && isNonEmptyString(call.id) ? call.id : fallbackToolUseId(messageId, i);
    content.push({ type: 'tool_use', id, name: fn.name, input });
  });
  const stop = anthropicStopFromOpenAI(
    isNonEmptyString(message.refusal) ? 'content_filter' : choice.finish_reason,
    choice.stop_reason,
    options.stopSequences ?? [],
    toolCalls.length > 0,
  );
  return {
    id: messageId,
    type: 'message',
    role: 'assistant',
    model: options.model,
    content,
    stop_reason: stop.stopReason,
    stop_sequence: stop.stopSequence,
    usage: anthropicUsageFromOpenAI(response.usage),
  };
}
