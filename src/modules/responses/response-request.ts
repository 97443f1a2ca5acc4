import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';

/**
 * Reading a `POST /v1/responses` body (pure): the fields Parley acts on, checked with the
 * catalog error and `param` of each, and the Chat Completions request they translate to.
 */

/** What a response object echoes from its request; stored with the response as JSON. */
export interface ResponseSettings {
  instructions: string | null;
  tools: JsonObject[];
  tool_choice: unknown;
  parallel_tool_calls: boolean;
  temperature: number | null;
  top_p: number | null;
  max_output_tokens: number | null;
  text: { format: JsonObject };
  truncation: 'disabled' | 'auto';
  metadata: Record<string, string>;
  user: string | null;
  store: boolean;
  background: boolean;
  /** The conversation the client named (`conversation`), echoed as `{id}`; null otherwise. */
  conversation: string | null;
}

export interface ResponseRequest {
  settings: ResponseSettings;
  model: unknown;
  input: unknown;
  previousResponseId: string | null;
  /** The conversation the client named, as sent (`conv_…` or a `/c1` id). */
  conversationId: string | null;
  stream: boolean;
}

const METADATA_MAX_KEYS = 16;
const METADATA_KEY_MAX = 64;
const METADATA_VALUE_MAX = 512;

const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (message: string, param: string) =>
  new ApiError('invalid_field', message, { param });

function optional<T>(
  body: JsonObject,
  key: string,
  check: (v: unknown) => v is T,
  what: string,
): T | null {
  const value = body[key];
  if (value === undefined || value === null) {
    return null;
  }
  if (!check(value)) {
    throw invalid(`${key} must be ${what}`, key);
  }
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Metadata as OpenAI bounds it: at most 16 string pairs, keys ≤ 64, values ≤ 512 characters. */
export function readMetadata(value: unknown, param = 'metadata'): Record<string, string> | null {
  if (value === undefined || value === null) {
    return null;
  }
  if (!isObject(value)) {
    throw invalid(`${param} must be an object of strings`, param);
  }
  const entries = Object.entries(value);
  if (entries.length > METADATA_MAX_KEYS) {
    throw invalid(`${param} may hold at most ${METADATA_MAX_KEYS} keys`, param);
  }
  for (const [k, v] of entries) {
    if (k.length > METADATA_KEY_MAX || typeof v !== 'string' || v.length > METADATA_VALUE_MAX) {
      throw invalid(
        `${param} keys are at most ${METADATA_KEY_MAX} characters and values strings of at most ${METADATA_VALUE_MAX}`,
        `${param}.${k}`,
      );
    }
  }
  return value as Record<string, string>;
}

/** Checks the body's own fields; `input` items are read later (`inputToChatMessages`). */
export function readResponseRequest(body: JsonObject): ResponseRequest {
  if (body.input === undefined || body.input === null) {
    throw new ApiError('missing_field', 'input is required', { param: 'input' });
  }
  const previousResponseId = optional(body, 'previous_response_id', isString, 'a string');
  let conversationId: string | null = null;
  const conversation = body.conversation;
  if (typeof conversation === 'string') {
    conversationId = conversation;
  } else if (isObject(conversation) && typeof conversation.id === 'string') {
    conversationId = conversation.id;
  } else if (conversation !== undefined && conversation !== null) {
    throw invalid('conversation must be an id or {"id": …}', 'conversation');
  }
  if (previousResponseId !== null && conversationId !== null) {
    throw invalid(
      'previous_response_id and conversation cannot both be set: a conversation already continues its last response',
      'previous_response_id',
    );
  }
  const truncation = body.truncation ?? 'disabled';
  if (truncation !== 'disabled' && truncation !== 'auto') {
    throw invalid('truncation must be disabled or auto', 'truncation');
  }
  const tools = readTools(body.tools);
  const maxOutput = optional(body, 'max_output_tokens', isNumber, 'a number');
  if (maxOutput !== null && (!Number.isInteger(maxOutput) || maxOutput < 1)) {
    throw invalid('max_output_tokens must be a positive integer', 'max_output_tokens');
  }
  const store = optional(body, 'store', isBoolean, 'a boolean') ?? true;
  const background = optional(body, 'background', isBoolean, 'a boolean') ?? false;
  if (background && !store) {
    throw invalid('background responses must be stored (store: true)', 'background');
  }
  return {
    model: body.model,
    input: body.input,
    previousResponseId,
    conversationId,
    stream: optional(body, 'stream', isBoolean, 'a boolean') ?? false,
    settings: {
      instructions: optional(body, 'instructions', isString, 'a string'),
      tools,
      tool_choice: readToolChoice(body.tool_choice),
      parallel_tool_calls: optional(body, 'parallel_tool_calls', isBoolean, 'a boolean') ?? true,
      temperature: optional(body, 'temperature', isNumber, 'a number'),
      top_p: optional(body, 'top_p', isNumber, 'a number'),
      max_output_tokens: maxOutput,
      text: { format: readTextFormat(body.text) },
      truncation,
      metadata: readMetadata(body.metadata) ?? {},
      user: optional(body, 'user', isString, 'a string'),
      store,
      background,
      conversation: conversationId,
    },
  };
}

function readTools(value: unknown): JsonObject[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw invalid('tools must be an array', 'tools');
  }
  return value.map((tool: unknown, i) => {
    if (!isObject(tool) || tool.type !== 'function') {
      throw invalid(
        'Only function tools are served here (built-in tools such as web_search are not)',
        `tools[${i}].type`,
      );
    }
    if (typeof tool.name !== 'string' || tool.name === '') {
      throw new ApiError('missing_field', `tools[${i}].name is required`, {
        param: `tools[${i}].name`,
      });
    }
    return tool;
  });
}

function readToolChoice(value: unknown): unknown {
  if (value === undefined || value === null) {
    return 'auto';
  }
  if (value === 'auto' || value === 'none' || value === 'required') {
    return value;
  }
  if (isObject(value) && value.type === 'function' && typeof value.name === 'string') {
    return value;
  }
  throw invalid(
    'tool_choice must be auto, none, required or {type: function, name}',
    'tool_choice',
  );
}

function readTextFormat(text: unknown): JsonObject {
  if (text === undefined || text === null) {
    return { type: 'text' };
  }
  if (!isObject(text)) {
    throw invalid('text must be an object', 'text');
  }
  const format = text.format ?? { type: 'text' };
  if (!isObject(format)) {
    throw invalid('text.format must be an object', 'text.format');
  }
  if (format.type === 'text' || format.type === 'json_object') {
    return format;
  }
  if (format.type === 'json_schema') {
    if (typeof format.name !== 'string' || !isObject(format.schema)) {
      throw invalid('text.format json_schema needs a name and a schema', 'text.format');
    }
    return format;
  }
  throw invalid('text.format.type must be text, json_object or json_schema', 'text.format.type');
}

/**
 * The Chat Completions request for the new turn (`messages` holds only the new turn; the
 * history is rendered in later): streamed from the upstream for a streamed or background
 * response (its events are built as the answer arrives), a JSON answer for a JSON one.
 */
export function toChatBody(
  request: ResponseRequest,
  messages: JsonObject[],
  defaultModel: string | null,
): JsonObject {
  const s = request.settings;
  const body: JsonObject = {
    model: request.model ?? defaultModel,
    messages,
    stream: request.stream || s.background,
  };
  if (s.tools.length > 0) {
    body.tools = s.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        ...(t.parameters !== undefined && t.parameters !== null
          ? { parameters: t.parameters }
          : {}),
        ...(typeof t.strict === 'boolean' ? { strict: t.strict } : {}),
      },
    }));
    body.parallel_tool_calls = s.parallel_tool_calls;
    const choice = s.tool_choice as JsonObject | string;
    body.tool_choice =
      typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
  }
  if (s.temperature !== null) {
    body.temperature = s.temperature;
  }
  if (s.top_p !== null) {
    body.top_p = s.top_p;
  }
  if (s.max_output_tokens !== null) {
    body.max_tokens = s.max_output_tokens;
  }
  const format = s.text.format;
  if (format.type === 'json_object') {
    body.response_format = { type: 'json_object' };
  } else if (format.type === 'json_schema') {
    body.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        schema: format.schema,
        ...(typeof format.strict === 'boolean' ? { strict: format.strict } : {}),
        ...(typeof format.description === 'string' ? { description: format.description } : {}),
      },
    };
  }
  if (s.user !== null) {
    body.user = s.user;
  }
  return body;
}

/** An error restated with its `param` (and the path in its message) renamed. */
export function restateParam(error: unknown, rename: (param: string) => string): unknown {
  if (!(error instanceof ApiError) || error.param === null) {
    return error;
  }
  const param = rename(error.param);
  if (param === error.param) {
    return error;
  }
  return new ApiError(error.code, error.message.split(error.param).join(param), {
    param,
    headers: error.headers,
    cause: error,
  });
}

/** A chat-check error restated in Responses terms (`max_tokens` → `max_output_tokens`…). */
export function inResponsesTerms(error: unknown): unknown {
  return restateParam(error, (param) =>
    param
      .replace(/^max_tokens$/, 'max_output_tokens')
      .replace(/^messages(\[\d+\])?/, 'input')
      .replace(/^response_format/, 'text.format'),
  );
}
