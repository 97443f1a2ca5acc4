import { JsonObject } from 'src/kernel/json';
import { conversationIdOf, UUID } from 'src/modules/conversations/conversation-id';
import { ResponseSettings } from 'src/modules/responses/response-request';

export type ResponseStatus =
  'queued' | 'in_progress' | 'completed' | 'incomplete' | 'failed' | 'cancelled';

export interface ResponseUsage {
  inputTokens: number;
  outputTokens: number;
}

/** Everything a response object is made of. */
export interface ResponseView {
  id: string;
  createdAt: number;
  status: ResponseStatus;
  model: string;
  settings: ResponseSettings;
  previousResponseId: string | null;
  output: JsonObject[];
  usage: ResponseUsage | null;
  error: { code: string; message: string } | null;
  /** Chat Completions' finish reason, for `incomplete_details`. */
  finishReason: string | null;
}

const RESPONSE_PREFIX = 'resp_';

export const responseIdOf = (turnId: string) => `${RESPONSE_PREFIX}${turnId}`;

/** `resp_<uuid>` → the turn id; null for anything else (answered as "not found"). */
export function parseResponseId(id: unknown): string | null {
  if (typeof id !== 'string' || !id.startsWith(RESPONSE_PREFIX)) {
    return null;
  }
  const uuid = id.slice(RESPONSE_PREFIX.length);
  return UUID.test(uuid) ? uuid : null;
}

/** The OpenAI `response` object. */
export function toResponseObject(view: ResponseView): JsonObject {
  const s = view.settings;
  const usage = view.usage
    ? {
        input_tokens: view.usage.inputTokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: view.usage.outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: view.usage.inputTokens + view.usage.outputTokens,
      }
    : null;
  return {
    id: responseIdOf(view.id),
    object: 'response',
    created_at: Math.floor(view.createdAt / 1000),
    status: view.status,
    background: s.background,
    error: view.error,
    incomplete_details:
      view.status === 'incomplete'
        ? { reason: view.finishReason === 'length' ? 'max_output_tokens' : 'interrupted' }
        : null,
    instructions: s.instructions,
    max_output_tokens: s.max_output_tokens,
    metadata: s.metadata,
    model: view.model,
    output: view.output,
    parallel_tool_calls: s.parallel_tool_calls,
    previous_response_id: view.previousResponseId ? responseIdOf(view.previousResponseId) : null,
    conversation: s.conversation ? { id: conversationIdOf(s.conversation) } : null,
    store: s.store,
    temperature: s.temperature,
    text: s.text,
    tool_choice: s.tool_choice,
    tools: s.tools,
    top_p: s.top_p,
    truncation: s.truncation,
    usage,
    user: s.user,
  };
}
