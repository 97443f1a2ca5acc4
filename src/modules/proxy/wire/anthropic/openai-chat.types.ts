/**
 * The OpenAI Chat Completions wire shapes the Anthropic translators produce and read
 * (https://platform.openai.com/docs/api-reference/chat). Kept next to the translators so that
 * `wire/anthropic` depends on nothing but itself and the neutral form; fields other servers add
 * (vLLM's `reasoning_content`, `stop_reason`, `top_k`) are listed where they are used.
 */

export type OpenAIContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: string } }
  | { type: 'input_audio'; input_audio: { data: string; format: string } }
  | { type: 'file'; file: { file_data?: string; file_id?: string; filename?: string } }
  | { type: string; [field: string]: unknown };

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAIChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: string | OpenAIContentPart[] | null;
  name?: string;
  tool_calls?: OpenAIToolCall[];
  tool_call_id?: string;
  /** Reasoning text as vLLM, DeepSeek and SGLang return it. */
  reasoning_content?: string | null;
  refusal?: string | null;
}

export interface OpenAITool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export type OpenAIToolChoice =
  'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export interface OpenAIChatRequest {
  model: string;
  messages: OpenAIChatMessage[];
  max_tokens?: number;
  max_completion_tokens?: number;
  stop?: string | string[];
  temperature?: number;
  top_p?: number;
  /** Not OpenAI's: vLLM and most OpenAI-compatible servers take it as an extra. */
  top_k?: number;
  user?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: OpenAITool[];
  tool_choice?: OpenAIToolChoice;
  parallel_tool_calls?: boolean;
  n?: number;
  [extra: string]: unknown;
}

export type OpenAIFinishReason =
  'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

export interface OpenAIChatResponse {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: OpenAIChatMessage & { role: 'assistant' };
    finish_reason: OpenAIFinishReason | null;
    logprobs?: unknown;
    /** vLLM: the stop string (or token id) that ended the answer. */
    stop_reason?: string | number | null;
  }>;
  usage?: OpenAIUsage;
}

export interface OpenAIToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface OpenAIChunkDelta {
  role?: 'assistant';
  content?: string | null;
  reasoning_content?: string | null;
  /** Newer vLLM releases name the reasoning delta `reasoning`. */
  reasoning?: string | null;
  tool_calls?: OpenAIToolCallDelta[];
  refusal?: string | null;
}

export interface OpenAIChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: OpenAIChunkDelta;
    finish_reason: OpenAIFinishReason | null;
    logprobs?: unknown;
    stop_reason?: string | number | null;
  }>;
  usage?: OpenAIUsage | null;
}
