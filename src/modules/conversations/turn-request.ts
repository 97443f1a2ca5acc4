import { createHash } from 'node:crypto';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import { parseConversationId } from 'src/modules/conversations/conversation-id';
import { anthropicToNeutral } from 'src/modules/proxy/wire/anthropic/neutral-anthropic';
import { NeutralMessage, NeutralPart } from 'src/kernel/neutral-history';
import { OpenAIMessage, openAIToNeutral } from 'src/modules/proxy/wire/openai/openai-neutral';

/**
 * Pure helpers for a /c1 turn request: where the conversation id comes from, the fields /c1
 * adds to the OpenAI body (never forwarded), the system prompt, and the Idempotency-Key.
 */

export interface TurnFields {
  conversationId: string | null;
  expectedLastMessageId: string | null;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Reads and removes `conversation_id` and `expected_last_message_id` from the body, and
 * reconciles `conversation_id` with the `x-conversation-id` header (both, naming different
 * conversations → 400). Either spelling of the id (`conv_<uuid>` or the bare one) comes out
 * as the stored id; a malformed one comes out as sent (the caller answers it as not found).
 */
export function takeTurnFields(body: JsonObject, header: unknown): TurnFields {
  const fromBody = body.conversation_id;
  const expected = body.expected_last_message_id;
  delete body.conversation_id;
  delete body.expected_last_message_id;
  if (fromBody !== undefined && fromBody !== null && typeof fromBody !== 'string') {
    throw new ApiError('invalid_field', 'conversation_id must be a string', {
      param: 'conversation_id',
    });
  }
  if (header !== undefined && typeof header !== 'string') {
    throw new ApiError('invalid_field', 'x-conversation-id must be sent once', {
      param: 'x-conversation-id',
    });
  }
  const fromHeader = header === '' ? undefined : storedIdOf(header);
  const fromBodyId = fromBody === '' || fromBody === null ? undefined : storedIdOf(fromBody);
  if (fromHeader !== undefined && fromBodyId !== undefined && fromHeader !== fromBodyId) {
    throw new ApiError(
      'invalid_field',
      'conversation_id and the x-conversation-id header name different conversations',
      { param: 'conversation_id' },
    );
  }
  if (expected !== undefined && expected !== null && typeof expected !== 'string') {
    throw new ApiError('invalid_field', 'expected_last_message_id must be a string', {
      param: 'expected_last_message_id',
    });
  }
  return {
    conversationId: fromHeader ?? fromBodyId ?? null,
    expectedLastMessageId: typeof expected === 'string' ? expected : null,
  };
}

const storedIdOf = (id: string | undefined) =>
  id === undefined ? undefined : (parseConversationId(id) ?? id);

/** The `Idempotency-Key` header, checked: 1-255 printable ASCII characters. */
export function readIdempotencyKey(header: unknown): string | null {
  if (header === undefined) {
    return null;
  }
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new ApiError(
      'invalid_field',
      'Idempotency-Key must be 1-255 printable ASCII characters, sent once',
      { param: 'idempotency-key' },
    );
  }
  return header;
}

/** JSON with object keys sorted at every level: equal requests give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as JsonObject)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What makes two turn requests "the same request" for an Idempotency-Key. */
export function requestFingerprint(fields: TurnFields, body: JsonObject): string {
  return createHash('sha256')
    .update(canonicalJson({ ...fields, body }))
    .digest('hex');
}

export interface SplitTurn {
  /** The system prompt of a new conversation (leading system/developer messages, merged). */
  system: NeutralMessage | null;
  /** The turn's messages, in the neutral form. */
  messages: NeutralMessage[];
}

const isSystemRole = (role: unknown) => role === 'system' || role === 'developer';

/**
 * Splits the turn's messages (already checked by the /v1 validation): on a new conversation,
 * leading system messages become its system prompt; anywhere else a system message is refused,
 * because history is not rewritten (fork the conversation to change its prompt).
 */
export function splitTurn(messages: OpenAIMessage[], isNewConversation: boolean): SplitTurn {
  let start = 0;
  const systemParts: NeutralPart[] = [];
  if (isNewConversation) {
    while (start < messages.length && isSystemRole(messages[start].role)) {
      if (systemParts.length > 0) {
        systemParts.push({ type: 'text', text: '\n\n' });
      }
      systemParts.push(...openAIToNeutral(messages[start]).parts);
      start++;
    }
  }
  const rest = messages.slice(start);
  const misplaced = rest.findIndex((m) => isSystemRole(m.role));
  if (misplaced >= 0) {
    throw new ApiError(
      'invalid_field',
      isNewConversation
        ? 'A system message is only accepted at the start of a new conversation'
        : 'A system message is only accepted on the first turn; fork the conversation to change it',
      { param: `messages[${start + misplaced}].role` },
    );
  }
  if (rest.length === 0) {
    throw new ApiError(
      'invalid_field',
      'messages must hold the new turn, not only a system prompt',
      {
        param: 'messages',
      },
    );
  }
  const system = systemParts.length > 0 ? mergeText({ role: 'system', parts: systemParts }) : null;
  return { system, messages: rest.map(openAIToNeutral) };
}

/**
 * `splitTurn` for an Anthropic Messages body (already checked by the /v1/messages validation):
 * its `system` is the system prompt of a new conversation and refused on a later turn, for the
 * same reason; `messages` become neutral messages (`tool_result` blocks → `tool` messages).
 */
export function splitAnthropicTurn(body: JsonObject, isNewConversation: boolean): SplitTurn {
  const [first, ...rest] = anthropicToNeutral({ system: body.system, messages: body.messages });
  const hasSystem = first?.role === 'system';
  if (hasSystem && !isNewConversation) {
    throw new ApiError(
      'invalid_field',
      'A system prompt is only accepted on the first turn; fork the conversation to change it',
      { param: 'system' },
    );
  }
  const messages = hasSystem ? rest : [first, ...rest].filter((m) => m !== undefined);
  if (messages.length === 0) {
    throw new ApiError('invalid_field', 'messages must hold the new turn', {
      param: 'messages',
    });
  }
  return { system: hasSystem ? first : null, messages };
}

function mergeText(message: NeutralMessage): NeutralMessage {
  const text = message.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
  return { role: message.role, parts: [{ type: 'text', text }] };
}

/** The text of the first user message, for the default title. */
export function firstUserText(messages: NeutralMessage[]): string {
  const user = messages.find((m) => m.role === 'user');
  return (user?.parts ?? []).flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(' ');
}
