import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { NeutralPart } from 'src/kernel/neutral-history';
import {
  OpenAIMessage,
  OpenAIToolCall,
  toDataUri,
} from 'src/modules/proxy/wire/openai/openai-neutral';

/**
 * Responses API items ⇄ what Parley stores (pure functions, no I/O).
 *
 * Input items become OpenAI chat messages (then the neutral form, through the same code as
 * `/c1/chat/completions`); stored neutral messages become items again. One stored message is
 * one item, except an assistant message, which is a `message` item for its text and one
 * `function_call` item per tool call. Item ids name the stored message they come from:
 * `msg_<id>`, `fc_<id>_<n>` (the n-th tool call), `fco_<id>` (a tool result).
 */

export type ItemKind = 'msg' | 'fc' | 'fco';

export interface ItemRef {
  kind: ItemKind;
  messageId: string;
  /** For `fc`: the index of the tool call among the message's tool calls. */
  index: number;
}

const ITEM_ID = /^(msg|fc|fco)_([0-9a-f-]{36})(?:_(\d{1,4}))?$/;

/** Parses an item id Parley issued; null for anything else (answered as "not found"). */
export function parseItemId(id: unknown): ItemRef | null {
  if (typeof id !== 'string') {
    return null;
  }
  const match = ITEM_ID.exec(id);
  if (!match) {
    return null;
  }
  const kind = match[1] as ItemKind;
  if ((kind === 'fc') !== (match[3] !== undefined)) {
    return null;
  }
  return { kind, messageId: match[2], index: match[3] === undefined ? 0 : Number(match[3]) };
}

export const messageItemId = (messageId: string) => `msg_${messageId}`;
export const functionCallItemId = (messageId: string, index: number) => `fc_${messageId}_${index}`;

/** The items of one stored message, in order (none for an empty failed answer). */
export function storedToItems(m: StoredMessage): JsonObject[] {
  const status =
    m.status === 'pending' ? 'in_progress' : m.status === 'failed' ? 'incomplete' : m.status;
  switch (m.role) {
    case 'assistant': {
      const items: JsonObject[] = [];
      const text = textOf(m.parts);
      if (text !== '' || !m.parts.some((p) => p.type === 'tool_call')) {
        if (m.parts.length > 0) {
          items.push(outputMessageItem(m.id, text, status));
        }
      }
      let index = 0;
      for (const part of m.parts) {
        if (part.type === 'tool_call') {
          items.push(functionCallItem(m.id, index++, part));
        }
      }
      return items;
    }
    case 'tool': {
      const result = m.parts.find((p) => p.type === 'tool_result');
      return [
        {
          type: 'function_call_output',
          id: `fco_${m.id}`,
          call_id: result?.type === 'tool_result' ? result.toolCallId : '',
          output: result?.type === 'tool_result' ? result.content : '',
          status: 'completed',
        },
      ];
    }
    case 'system':
    case 'user':
      return [
        {
          type: 'message',
          id: messageItemId(m.id),
          status: 'completed',
          role: m.role,
          content: m.parts.flatMap(inputContent),
        },
      ];
  }
}

export function outputMessageItem(messageId: string, text: string, status: string): JsonObject {
  return {
    type: 'message',
    id: messageItemId(messageId),
    status,
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
  };
}

export function functionCallItem(
  messageId: string,
  index: number,
  call: { id: string; name: string; arguments: string },
  status = 'completed',
): JsonObject {
  return {
    type: 'function_call',
    id: functionCallItemId(messageId, index),
    call_id: call.id,
    name: call.name,
    arguments: call.arguments,
    status,
  };
}

/** One item of the items a stored message becomes, by its id; null when it has no such item. */
export function pickItem(m: StoredMessage, ref: ItemRef): JsonObject | null {
  const id = ref.kind === 'fc' ? functionCallItemId(m.id, ref.index) : `${ref.kind}_${m.id}`;
  return storedToItems(m).find((item) => item.id === id) ?? null;
}

function inputContent(part: NeutralPart): JsonObject[] {
  switch (part.type) {
    case 'text':
      return [{ type: 'input_text', text: part.text }];
    case 'image':
      return [
        {
          type: 'input_image',
          image_url: part.url ?? toDataUri(part.mediaType, part.data ?? ''),
          detail: 'auto',
        },
      ];
    case 'media':
    case 'reasoning':
    case 'tool_call':
    case 'tool_result':
      return [];
  }
}

function textOf(parts: NeutralPart[]): string {
  return parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

// ---- input items → chat messages -------------------------------------------------------------

const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (message: string, param: string) =>
  new ApiError('invalid_field', message, { param });

/**
 * The new turn's input (a string, or items with `item_reference`s already resolved) as OpenAI
 * chat messages. Consecutive assistant text and `function_call` items become one assistant
 * message with `tool_calls`, as Chat Completions expects. `reasoning` items are dropped
 * (reasoning is never forwarded again, as on `/c1`).
 */
export function inputToChatMessages(input: unknown): OpenAIMessage[] {
  if (typeof input === 'string') {
    return [{ role: 'user', content: input }];
  }
  if (!Array.isArray(input)) {
    throw invalid('input must be a string or an array of items', 'input');
  }
  const messages: OpenAIMessage[] = [];
  input.forEach((item: unknown, i) => {
    const param = `input[${i}]`;
    if (!isObject(item)) {
      throw invalid(`${param} must be an object`, param);
    }
    const type: unknown = item.type ?? (item.role !== undefined ? 'message' : null);
    switch (type) {
      case 'message':
        messages.push(messageToChat(item, param));
        break;
      case 'function_call': {
        const call: OpenAIToolCall = {
          id: requireString(item.call_id, `${param}.call_id`),
          type: 'function',
          function: {
            name: requireString(item.name, `${param}.name`),
            arguments: requireString(item.arguments, `${param}.arguments`),
          },
        };
        const last = messages[messages.length - 1];
        if (last?.role === 'assistant') {
          last.tool_calls = [...(last.tool_calls ?? []), call];
        } else {
          messages.push({ role: 'assistant', content: null, tool_calls: [call] });
        }
        break;
      }
      case 'function_call_output':
        messages.push({
          role: 'tool',
          tool_call_id: requireString(item.call_id, `${param}.call_id`),
          content: outputText(item.output, `${param}.output`),
        });
        break;
      case 'reasoning':
        break;
      default:
        throw invalid(
          `${param}.type must be message, function_call, function_call_output or item_reference`,
          `${param}.type`,
        );
    }
  });
  return messages;
}

function messageToChat(item: JsonObject, param: string): OpenAIMessage {
  const role = item.role;
  if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
    throw invalid(`${param}.role must be user, assistant, system or developer`, `${param}.role`);
  }
  const content = item.content;
  if (typeof content === 'string') {
    return { role: role === 'developer' ? 'system' : role, content };
  }
  if (!Array.isArray(content)) {
    throw invalid(`${param}.content must be a string or an array`, `${param}.content`);
  }
  if (role !== 'user') {
    // Assistant, system and developer content is text (output_text / input_text / refusal).
    const text = content
      .map((part: unknown, j) => {
        const p = part as JsonObject;
        if (!isObject(p)) {
          throw invalid('content parts must be objects', `${param}.content[${j}]`);
        }
        return typeof p.text === 'string' ? p.text : typeof p.refusal === 'string' ? p.refusal : '';
      })
      .join('');
    return { role: role === 'developer' ? 'system' : role, content: text };
  }
  return {
    role: 'user',
    content: content.map((part: unknown, j) => userPart(part, `${param}.content[${j}]`)),
  };
}

function userPart(part: unknown, param: string): JsonObject {
  if (!isObject(part)) {
    throw invalid(`${param} must be an object`, param);
  }
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: requireString(part.text, `${param}.text`) };
    case 'input_image': {
      if (typeof part.image_url !== 'string') {
        throw invalid(
          `${param}.image_url is required: Parley has no file store (file_id is not supported)`,
          `${param}.image_url`,
        );
      }
      const detail = typeof part.detail === 'string' ? { detail: part.detail } : {};
      return { type: 'image_url', image_url: { url: part.image_url, ...detail } };
    }
    default:
      throw invalid(`${param}.type must be input_text or input_image`, `${param}.type`);
  }
}

function outputText(output: unknown, param: string): string {
  if (typeof output === 'string') {
    return output;
  }
  if (Array.isArray(output)) {
    return output
      .map((p: unknown) => (isObject(p) && typeof p.text === 'string' ? p.text : ''))
      .join('');
  }
  throw invalid(`${param} must be a string or an array of content`, param);
}

function requireString(value: unknown, param: string): string {
  if (typeof value !== 'string') {
    throw new ApiError(
      value === undefined ? 'missing_field' : 'invalid_field',
      `${param} must be a string`,
      { param },
    );
  }
  return value;
}
