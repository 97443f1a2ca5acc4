import {
  AnthropicStopReason,
  AnthropicUsage,
} from 'src/modules/proxy/wire/anthropic/anthropic.types';
import {
  OpenAIFinishReason,
  OpenAIUsage,
} from 'src/modules/proxy/wire/anthropic/openai-chat.types';
import { isJsonObject } from 'src/kernel/json';

export interface AnthropicStop {
  stopReason: AnthropicStopReason;
  stopSequence: string | null;
}

/**
 * OpenAI `finish_reason` → Anthropic `stop_reason`. Chat Completions does not say which stop
 * sequence matched; vLLM does (`stop_reason` on the choice), so `stop_sequence` is reported
 * when that value is one of the request's `stop_sequences`, and `end_turn` otherwise.
 */
export function anthropicStopFromOpenAI(
  finishReason: unknown,
  upstreamStopReason: unknown,
  stopSequences: readonly string[],
  hasToolCalls: boolean,
): AnthropicStop {
  switch (finishReason as OpenAIFinishReason | null) {
    case 'length':
      return { stopReason: 'max_tokens', stopSequence: null };
    case 'tool_calls':
    case 'function_call':
      return { stopReason: 'tool_use', stopSequence: null };
    case 'content_filter':
      return { stopReason: 'refusal', stopSequence: null };
    case 'stop':
    case null:
    default:
      if (hasToolCalls) {
        // Some servers finish a tool-calling answer with "stop".
        return { stopReason: 'tool_use', stopSequence: null };
      }
      if (typeof upstreamStopReason === 'string' && stopSequences.includes(upstreamStopReason)) {
        return { stopReason: 'stop_sequence', stopSequence: upstreamStopReason };
      }
      return { stopReason: 'end_turn', stopSequence: null };
  }
}

/** Anthropic `stop_reason` → OpenAI `finish_reason`. */
export function openAIFinishFromAnthropic(stopReason: unknown): OpenAIFinishReason {
  switch (stopReason as AnthropicStopReason | null) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
    case null:
    default:
      return 'stop';
  }
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/**
 * OpenAI usage → Anthropic usage. OpenAI's `prompt_tokens` include cached tokens; Anthropic's
 * `input_tokens` do not (cache reads are counted apart), so the cached share moves over.
 */
export function anthropicUsageFromOpenAI(usage: unknown): AnthropicUsage {
  if (!isJsonObject(usage)) {
    return {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
  }
  const prompt = count(usage.prompt_tokens);
  const details = usage.prompt_tokens_details;
  const cached = Math.min(prompt, isJsonObject(details) ? count(details.cached_tokens) : 0);
  return {
    input_tokens: prompt - cached,
    output_tokens: count(usage.completion_tokens),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

/** Anthropic usage → OpenAI usage: every kind of input token counts as a prompt token. */
export function openAIUsageFromAnthropic(usage: unknown): OpenAIUsage {
  const u = isJsonObject(usage) ? usage : {};
  const cacheRead = count(u.cache_read_input_tokens);
  const prompt = count(u.input_tokens) + count(u.cache_creation_input_tokens) + cacheRead;
  const completion = count(u.output_tokens);
  const result: OpenAIUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
  if (cacheRead > 0) {
    result.prompt_tokens_details = { cached_tokens: cacheRead };
  }
  return result;
}
