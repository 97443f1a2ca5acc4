import { systemClock } from 'src/common/time/clock';
import { ConversationRecord, StoredMessage } from 'src/modules/conversations/conversation.types';
import {
  ConversationDetailResponseDto,
  ConversationMessageDto,
  ConversationResponseDto,
} from 'src/modules/conversations/dto/conversations.dto';
import { neutralToOpenAI } from 'src/modules/proxy/wire/openai/openai-neutral';

const seconds = (ms: number) => Math.floor(ms / 1000);

export function toConversationResponse(
  c: ConversationRecord,
  now: number = systemClock(),
): ConversationResponseDto {
  return {
    id: c.id,
    object: 'conversation',
    title: c.title,
    metadata: c.metadata,
    model: c.model,
    last_message_id: c.headMessageId,
    busy: c.activeTurnId !== null && (c.activeTurnExpiresAt ?? 0) >= now,
    created_at: seconds(c.createdAt),
    updated_at: seconds(c.updatedAt),
  };
}

export function toConversationDetail(
  c: ConversationRecord,
  history: StoredMessage[],
  now: number = systemClock(),
): ConversationDetailResponseDto {
  return { ...toConversationResponse(c, now), messages: history.map(toMessageResponse) };
}

/** A stored message as OpenAI shapes a chat message, plus what Parley knows about it. */
export function toMessageResponse(m: StoredMessage): ConversationMessageDto {
  const rendered = neutralToOpenAI(
    { role: m.role, parts: m.parts, ...(m.name ? { name: m.name } : {}) },
    { includeReasoning: true },
  );
  // Tool results held inside a user message (Anthropic style) render as extra tool messages;
  // a history shows one entry per stored message, so they are listed on it.
  const main = rendered[rendered.length - 1] ?? { role: m.role, content: null };
  const toolResults = rendered.slice(0, -1);
  const content = main.content as ConversationMessageDto['content'] | undefined;
  return {
    id: m.id,
    role: main.role,
    content: m.status === 'failed' && m.role === 'assistant' && !content ? null : (content ?? null),
    ...(main.name ? { name: main.name } : {}),
    ...(main.tool_calls
      ? { tool_calls: main.tool_calls as unknown as Record<string, unknown>[] }
      : {}),
    ...(main.tool_call_id ? { tool_call_id: main.tool_call_id } : {}),
    ...(main.reasoning_content ? { reasoning_content: main.reasoning_content } : {}),
    ...(toolResults.length > 0 ? { tool_results: toolResults } : {}),
    status: m.status,
    finish_reason: m.finishReason,
    usage:
      m.promptTokens === null && m.completionTokens === null
        ? null
        : {
            prompt_tokens: m.promptTokens ?? 0,
            completion_tokens: m.completionTokens ?? 0,
            total_tokens: (m.promptTokens ?? 0) + (m.completionTokens ?? 0),
          },
    model: m.model,
    error: m.errorCode ? { code: m.errorCode } : null,
    created_at: seconds(m.createdAt),
  };
}

/** Cursors are opaque to clients: base64url of the last item's sort key. */
export function encodeCursor(c: ConversationRecord): string {
  return Buffer.from(JSON.stringify([c.updatedAt, c.id])).toString('base64url');
}

export function decodeCursor(cursor: string): { updatedAt: number; id: string } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isSafeInteger(value[0]) &&
      typeof value[1] === 'string'
    ) {
      return { updatedAt: value[0] as number, id: value[1] };
    }
  } catch {
    return null;
  }
  return null;
}

const TITLE_LENGTH = 80;

/** A title from the start of the first user message: whitespace collapsed, cut at a word. */
export function defaultTitle(text: string): string | null {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (!flat) {
    return null;
  }
  if (flat.length <= TITLE_LENGTH) {
    return flat;
  }
  const cut = flat.slice(0, TITLE_LENGTH);
  const space = cut.lastIndexOf(' ');
  return `${(space > TITLE_LENGTH / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
