import { ApiError } from 'src/common/errors/api-error';
import {
  OpenAIChatMessage,
  OpenAIChatResponse,
  OpenAIToolCall,
} from 'src/modules/proxy/wire/anthropic/openai-chat.types';
import {
  openAIFinishFromAnthropic,
  openAIUsageFromAnthropic,
} from 'src/modules/proxy/wire/anthropic/stop-and-usage';
import { isNonEmptyString } from 'src/modules/proxy/wire/anthropic/wire-utils';
import { isJsonObject } from 'src/kernel/json';

export interface AnthropicToOpenAIResponseOptions {
  /** The model the client asked for (the catalog alias). */
  model: string;
  /** `created` of the chat completion, in Unix seconds (the caller reads the clock). */
  created: number;
}

/**
 * Anthropic Messages response → OpenAI chat completion. Text blocks are joined into
 * `content`, `tool_use` blocks become `tool_calls` (input serialised as JSON), `thinking`
 * becomes `reasoning_content` as vLLM and DeepSeek return it; redacted thinking is left out.
 */
export function anthropicResponseToOpenAI(
  response: unknown,
  options: AnthropicToOpenAIResponseOptions,
): OpenAIChatResponse {
  if (!isJsonObject(response) || !Array.isArray(response.content)) {
    throw new ApiError('upstream_error', 'The upstream answer is not an Anthropic message');
  }
  const texts: string[] = [];
  const reasoning: string[] = [];
  const toolCalls: OpenAIToolCall[] = [];
  for (const block of response.content as unknown[]) {
    if (!isJsonObject(block)) {
      continue;
    }
    if (block.type === 'text' && typeof block.text === 'string') {
      texts.push(block.text);
    } else if (block.type === 'thinking' && typeof block.thinking === 'string') {
      reasoning.push(block.thinking);
    } else if (block.type === 'tool_use' && isNonEmptyString(block.name)) {
      toolCalls.push({
        id: isNonEmptyString(block.id) ? block.id : `call_${toolCalls.length}`,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  const message: OpenAIChatMessage & { role: 'assistant' } = {
    role: 'assistant',
    content: texts.length === 0 && toolCalls.length > 0 ? null : texts.join(''),
  };
  if (reasoning.length > 0) {
    message.reasoning_content = reasoning.join('');
  }
  if (toolCalls.length > 0) {
    message.tool_calls = toolCalls;
  }
  return {
    id: isNonEmptyString(response.id) ? response.id : 'msg_parley',
    object: 'chat.completion',
    created: options.created,
    model: options.model,
    choices: [
      {
        index: 0,
        message,
        finish_reason: openAIFinishFromAnthropic(response.stop_reason),
        logprobs: null,
      },
    ],
    usage: openAIUsageFromAnthropic(response.usage),
  };
}
