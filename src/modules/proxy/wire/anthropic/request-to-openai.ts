import { ApiError } from 'src/common/errors/api-error';
import { assertListSize } from 'src/modules/models/constraints/chat-request';
import {
  OpenAIChatMessage,
  OpenAIChatRequest,
  OpenAIContentPart,
  OpenAITool,
  OpenAIToolCall,
  OpenAIToolChoice,
} from 'src/modules/proxy/wire/anthropic/openai-chat.types';
import {
  describeType,
  invalidField,
  isNonEmptyString,
  missingField,
  toDataUri,
} from 'src/modules/proxy/wire/anthropic/wire-utils';
import { JsonObject, isJsonObject } from 'src/kernel/json';

export interface AnthropicToOpenAIOptions {
  /**
   * Content Chat Completions cannot carry (Anthropic server tools, URL or file-id documents,
   * block types it has no counterpart for): `reject` answers 400 (the request is going to an
   * `openai` upstream); `omit` leaves it out (the translation only serves to validate a body
   * that is passed through natively to an `anthropic` upstream).
   */
  untranslatable?: 'reject' | 'omit';
}

export interface OpenAIRequestTranslation {
  body: OpenAIChatRequest;
  /**
   * Maps a `param` path of `body` (as the proxy's checks report it, e.g.
   * `messages[1].content[0].image_url.url`) to the path of the same value in the Anthropic
   * request (`messages[0].content[2].source.data`), so errors name what the client sent.
   */
  toAnthropicParam: (param: string | null) => string | null;
}

/** Fields of an Anthropic request mapped one by one below; everything else is an extra. */
const MAPPED_FIELDS = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'metadata',
  'stop_sequences',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'tools',
  'tool_choice',
]);

/**
 * Anthropic-only fields with no Chat Completions counterpart. Dropped rather than forwarded:
 * an OpenAI-compatible server would reject or misread them. `thinking` has no portable
 * equivalent (reasoning models decide for themselves, vLLM switches it per chat template).
 */
const DROPPED_FIELDS = new Set([
  'thinking',
  'service_tier',
  'container',
  'mcp_servers',
  'context_management',
  'betas',
  'output_config',
  'output_format',
  'inference_geo',
]);

/** What a translated content part was in the Anthropic request, to map its param back. */
type PartKind = 'text' | 'image_base64' | 'image_url' | 'document';

interface PartOrigin {
  path: string;
  kind: PartKind;
}

interface MessageOrigin {
  /** Path of what `messages[k].content` came from (`system`, `messages[2].content`, …). */
  contentPath: string;
  parts: PartOrigin[];
  toolCalls: string[];
}

interface PendingPart {
  part: OpenAIContentPart;
  origin: PartOrigin;
}

/**
 * Anthropic Messages request → OpenAI Chat Completions request. Validates the structure it
 * reads (400 `missing_field` / `invalid_field` with the Anthropic path as `param`); the model,
 * max_tokens and image rules are the proxy's checks, run on the result.
 */
export function anthropicRequestToOpenAI(
  input: unknown,
  options: AnthropicToOpenAIOptions = {},
): OpenAIRequestTranslation {
  const reject = (options.untranslatable ?? 'reject') === 'reject';
  if (!isJsonObject(input)) {
    throw new ApiError('invalid_field', 'The request body must be a JSON object');
  }
  const model = input.model;
  if (model === undefined || model === null) {
    throw missingField('model');
  }
  if (!isNonEmptyString(model)) {
    throw invalidField('model', 'model must be a non-empty string');
  }
  const maxTokens = input.max_tokens;
  if (maxTokens === undefined || maxTokens === null) {
    throw missingField('max_tokens');
  }
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw invalidField('max_tokens', 'max_tokens must be an integer of at least 1');
  }

  const messages: OpenAIChatMessage[] = [];
  const origins: MessageOrigin[] = [];
  const system = systemText(input.system);
  if (system !== null) {
    messages.push({ role: 'system', content: system });
    origins.push({ contentPath: 'system', parts: [], toolCalls: [] });
  }
  if (input.messages === undefined || input.messages === null) {
    throw missingField('messages');
  }
  if (!Array.isArray(input.messages)) {
    throw invalidField('messages', 'messages must be an array');
  }
  if (input.messages.length === 0) {
    throw invalidField('messages', 'messages must contain at least one message');
  }
  // Before translating: a million messages must not cost a million translations first.
  assertListSize(input.messages, 'messages', 'messages');
  input.messages.forEach((message: unknown, i: number) => {
    for (const out of translateMessage(message, `messages[${i}]`, reject)) {
      messages.push(out.message);
      origins.push(out.origin);
    }
  });

  const body: OpenAIChatRequest = { model, messages, max_tokens: maxTokens };
  for (const [field, value] of Object.entries(input)) {
    if (!MAPPED_FIELDS.has(field) && !DROPPED_FIELDS.has(field)) {
      body[field] = value;
    }
  }
  copyNumber(input, body, 'temperature');
  copyNumber(input, body, 'top_p');
  copyNumber(input, body, 'top_k');
  const stop = stopSequences(input.stop_sequences);
  if (stop) {
    body.stop = stop;
  }
  const user = metadataUser(input.metadata);
  if (user !== null) {
    body.user = user;
  }
  if (input.stream !== undefined && input.stream !== null) {
    if (typeof input.stream !== 'boolean') {
      throw invalidField('stream', 'stream must be a boolean');
    }
    body.stream = input.stream;
    if (input.stream) {
      // Anthropic's message_delta carries the usage; Chat Completions only streams it on request.
      body.stream_options = { include_usage: true };
    }
  }
  const tools = translateTools(input.tools, reject);
  if (tools.length > 0) {
    body.tools = tools;
  }
  if (input.tool_choice !== undefined && input.tool_choice !== null) {
    const choice = translateToolChoice(input.tool_choice);
    body.tool_choice = choice.toolChoice;
    if (choice.parallel === false && tools.length > 0) {
      body.parallel_tool_calls = false;
    }
  }

  return { body, toAnthropicParam: (param) => toAnthropicParam(param, origins) };
}

function systemText(system: unknown): string | null {
  if (system === undefined || system === null) {
    return null;
  }
  if (typeof system === 'string') {
    return system === '' ? null : system;
  }
  if (!Array.isArray(system)) {
    throw invalidField('system', 'system must be a string or an array of text blocks');
  }
  const texts = system.map((block: unknown, j: number) => {
    if (!isJsonObject(block) || block.type !== 'text' || typeof block.text !== 'string') {
      throw invalidField(
        `system[${j}]`,
        'system blocks must be text blocks ({type: "text", text})',
      );
    }
    return block.text;
  });
  // Separate blocks stay separate paragraphs; Chat Completions takes one system string.
  const joined = texts.filter((t) => t !== '').join('\n\n');
  return joined === '' ? null : joined;
}

interface TranslatedMessage {
  message: OpenAIChatMessage;
  origin: MessageOrigin;
}

function translateMessage(message: unknown, path: string, reject: boolean): TranslatedMessage[] {
  if (!isJsonObject(message)) {
    throw invalidField(path, `${path} must be an object`);
  }
  const role = message.role;
  if (role === undefined || role === null) {
    throw missingField(`${path}.role`);
  }
  if (role !== 'user' && role !== 'assistant') {
    throw invalidField(`${path}.role`, `${path}.role must be "user" or "assistant"`);
  }
  const content = message.content;
  if (content === undefined || content === null) {
    throw missingField(`${path}.content`);
  }
  if (typeof content === 'string') {
    return [
      {
        message: { role, content },
        origin: { contentPath: `${path}.content`, parts: [], toolCalls: [] },
      },
    ];
  }
  if (!Array.isArray(content)) {
    throw invalidField(`${path}.content`, `${path}.content must be a string or an array of blocks`);
  }
  assertListSize(content, `${path}.content`, 'content blocks');
  const blocks = content.map((block: unknown, j: number) => {
    const blockPath = `${path}.content[${j}]`;
    if (!isJsonObject(block) || typeof block.type !== 'string') {
      throw invalidField(`${blockPath}.type`, `${blockPath} must be a content block with a type`);
    }
    return { block, blockPath };
  });
  return role === 'user'
    ? translateUserBlocks(blocks, path, reject)
    : translateAssistantBlocks(blocks, path, reject);
}

interface LocatedBlock {
  block: JsonObject;
  blockPath: string;
}

function translateUserBlocks(
  blocks: LocatedBlock[],
  path: string,
  reject: boolean,
): TranslatedMessage[] {
  const toolMessages: TranslatedMessage[] = [];
  const parts: PendingPart[] = [];
  for (const { block, blockPath } of blocks) {
    switch (block.type) {
      case 'tool_result': {
        const result = translateToolResult(block, blockPath, reject);
        toolMessages.push(result.message);
        // Tool messages carry text only: images a tool returned follow in the user message.
        parts.push(...result.media);
        break;
      }
      case 'text':
        parts.push(textPart(block, blockPath));
        break;
      case 'image':
        parts.push(imagePart(block, blockPath));
        break;
      case 'document': {
        const part = documentPart(block, blockPath, reject);
        if (part) {
          parts.push(part);
        }
        break;
      }
      case 'tool_use':
      case 'thinking':
      case 'redacted_thinking':
        throw invalidField(
          `${blockPath}.type`,
          `${blockPath}: ${String(block.type)} blocks belong in assistant messages`,
        );
      default:
        untranslatable(blockPath, block.type, reject);
    }
  }
  const out = [...toolMessages];
  if (parts.length > 0 || toolMessages.length === 0) {
    // One text part is sent as a plain string: every OpenAI-compatible server takes that.
    const content =
      parts.length === 1 && parts[0].part.type === 'text'
        ? (parts[0].part as { text: string }).text
        : parts.map((p) => p.part);
    out.push({
      message: { role: 'user', content },
      origin: { contentPath: `${path}.content`, parts: parts.map((p) => p.origin), toolCalls: [] },
    });
  }
  return out;
}

function translateAssistantBlocks(
  blocks: LocatedBlock[],
  path: string,
  reject: boolean,
): TranslatedMessage[] {
  const texts: string[] = [];
  const toolCalls: OpenAIToolCall[] = [];
  const toolCallPaths: string[] = [];
  for (const { block, blockPath } of blocks) {
    switch (block.type) {
      case 'text':
        texts.push(textPart(block, blockPath).part.text);
        break;
      case 'tool_use': {
        if (!isNonEmptyString(block.id)) {
          throw invalidField(`${blockPath}.id`, `${blockPath}.id must be a non-empty string`);
        }
        if (!isNonEmptyString(block.name)) {
          throw invalidField(`${blockPath}.name`, `${blockPath}.name must be a non-empty string`);
        }
        if (!isJsonObject(block.input)) {
          throw invalidField(`${blockPath}.input`, `${blockPath}.input must be an object`);
        }
        toolCalls.push({
          id: block.id,
          type: 'function',
          function: { name: block.name, arguments: JSON.stringify(block.input) },
        });
        toolCallPaths.push(blockPath);
        break;
      }
      case 'thinking':
      case 'redacted_thinking':
        // Chat Completions has no way to send earlier reasoning back (DeepSeek even rejects
        // reasoning_content in requests), and the model does not need it: left out.
        break;
      case 'tool_result':
      case 'image':
      case 'document':
        throw invalidField(
          `${blockPath}.type`,
          `${blockPath}: ${String(block.type)} blocks belong in user messages`,
        );
      default:
        untranslatable(blockPath, block.type, reject);
    }
  }
  const message: OpenAIChatMessage = {
    role: 'assistant',
    // Text blocks of one answer are pieces of one text (Anthropic splits around citations).
    content: texts.length === 0 && toolCalls.length > 0 ? null : texts.join(''),
  };
  if (toolCalls.length > 0) {
    message.tool_calls = toolCalls;
  }
  return [
    { message, origin: { contentPath: `${path}.content`, parts: [], toolCalls: toolCallPaths } },
  ];
}

function translateToolResult(
  block: JsonObject,
  blockPath: string,
  reject: boolean,
): { message: TranslatedMessage; media: PendingPart[] } {
  if (!isNonEmptyString(block.tool_use_id)) {
    throw invalidField(
      `${blockPath}.tool_use_id`,
      `${blockPath}.tool_use_id must be a non-empty string`,
    );
  }
  const texts: string[] = [];
  const media: PendingPart[] = [];
  const content = block.content;
  if (typeof content === 'string') {
    texts.push(content);
  } else if (Array.isArray(content)) {
    content.forEach((inner: unknown, n: number) => {
      const innerPath = `${blockPath}.content[${n}]`;
      if (!isJsonObject(inner) || typeof inner.type !== 'string') {
        throw invalidField(`${innerPath}.type`, `${innerPath} must be a content block with a type`);
      }
      if (inner.type === 'text') {
        texts.push(textPart(inner, innerPath).part.text);
      } else if (inner.type === 'image') {
        media.push(imagePart(inner, innerPath));
      } else if (inner.type === 'document') {
        const part = documentPart(inner, innerPath, reject);
        if (part?.part.type === 'text') {
          texts.push((part.part as { text: string }).text);
        } else if (part) {
          media.push(part);
        }
      } else {
        untranslatable(innerPath, inner.type, reject);
      }
    });
  } else if (content !== undefined && content !== null) {
    throw invalidField(
      `${blockPath}.content`,
      `${blockPath}.content must be a string or an array of blocks`,
    );
  }
  if (block.is_error !== undefined && typeof block.is_error !== 'boolean') {
    throw invalidField(`${blockPath}.is_error`, `${blockPath}.is_error must be a boolean`);
  }
  let text = texts.join('\n');
  if (block.is_error === true) {
    // Chat Completions has no error flag on tool results: say it in the text the model reads.
    text = text === '' ? 'Error' : `Error: ${text}`;
  }
  return {
    message: {
      message: { role: 'tool', tool_call_id: block.tool_use_id, content: text },
      origin: { contentPath: `${blockPath}.content`, parts: [], toolCalls: [] },
    },
    media,
  };
}

function textPart(
  block: JsonObject,
  blockPath: string,
): { part: { type: 'text'; text: string }; origin: PartOrigin } {
  if (typeof block.text !== 'string') {
    throw invalidField(`${blockPath}.text`, `${blockPath}.text must be a string`);
  }
  return { part: { type: 'text', text: block.text }, origin: { path: blockPath, kind: 'text' } };
}

function imagePart(block: JsonObject, blockPath: string): PendingPart {
  const source = block.source;
  if (!isJsonObject(source)) {
    throw invalidField(`${blockPath}.source`, `${blockPath}.source must be an object`);
  }
  if (source.type === 'base64') {
    if (typeof source.media_type !== 'string') {
      throw invalidField(
        `${blockPath}.source.media_type`,
        `${blockPath}.source.media_type must be a string`,
      );
    }
    if (typeof source.data !== 'string') {
      throw invalidField(`${blockPath}.source.data`, `${blockPath}.source.data must be a string`);
    }
    return {
      part: { type: 'image_url', image_url: { url: toDataUri(source.media_type, source.data) } },
      origin: { path: blockPath, kind: 'image_base64' },
    };
  }
  if (source.type === 'url') {
    if (typeof source.url !== 'string') {
      throw invalidField(`${blockPath}.source.url`, `${blockPath}.source.url must be a string`);
    }
    return {
      part: { type: 'image_url', image_url: { url: source.url } },
      origin: { path: blockPath, kind: 'image_url' },
    };
  }
  throw invalidField(
    `${blockPath}.source.type`,
    `${blockPath}.source.type must be "base64" or "url", got ${JSON.stringify(source.type ?? null)}`,
  );
}

function documentPart(block: JsonObject, blockPath: string, reject: boolean): PendingPart | null {
  const source = block.source;
  if (!isJsonObject(source)) {
    throw invalidField(`${blockPath}.source`, `${blockPath}.source must be an object`);
  }
  if (source.type === 'base64' && typeof source.data === 'string') {
    const mediaType = typeof source.media_type === 'string' ? source.media_type : 'application/pdf';
    const file: { file_data: string; filename?: string } = {
      file_data: toDataUri(mediaType, source.data),
    };
    if (isNonEmptyString(block.title)) {
      file.filename = block.title;
    }
    return { part: { type: 'file', file }, origin: { path: blockPath, kind: 'document' } };
  }
  if (source.type === 'text' && typeof source.data === 'string') {
    return {
      part: { type: 'text', text: source.data },
      origin: { path: `${blockPath}.source`, kind: 'document' },
    };
  }
  if (source.type === 'url') {
    // The model server behind would fetch it: refused like every media URL (SPEC, SSRF).
    if (reject) {
      throw new ApiError(
        'media_url_not_supported',
        'Document URLs are not accepted: send the document inline (base64)',
        { param: `${blockPath}.source.url` },
      );
    }
    return null;
  }
  untranslatable(`${blockPath}.source`, `document source ${String(source.type)}`, reject);
  return null;
}

function untranslatable(path: string, what: unknown, reject: boolean): void {
  if (reject) {
    throw invalidField(
      `${path}.type`,
      `${path}: ${String(what)} cannot be sent to a model served over the OpenAI wire format`,
    );
  }
}

function copyNumber(input: JsonObject, body: OpenAIChatRequest, field: string): void {
  const value = input[field];
  if (value === undefined || value === null) {
    return;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidField(field, `${field} must be a number`);
  }
  body[field] = value;
}

function stopSequences(value: unknown): string[] | null {
  if (value === undefined || value === null) {
    return null;
  }
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) {
    throw invalidField('stop_sequences', 'stop_sequences must be an array of strings');
  }
  return value.length > 0 ? (value as string[]) : null;
}

function metadataUser(metadata: unknown): string | null {
  if (metadata === undefined || metadata === null) {
    return null;
  }
  if (!isJsonObject(metadata)) {
    throw invalidField('metadata', 'metadata must be an object');
  }
  const userId = metadata.user_id;
  if (userId === undefined || userId === null) {
    return null;
  }
  if (typeof userId !== 'string') {
    throw invalidField('metadata.user_id', 'metadata.user_id must be a string');
  }
  return userId;
}

function translateTools(value: unknown, reject: boolean): OpenAITool[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw invalidField('tools', 'tools must be an array');
  }
  const tools: OpenAITool[] = [];
  value.forEach((tool: unknown, i: number) => {
    const path = `tools[${i}]`;
    if (!isJsonObject(tool)) {
      throw invalidField(path, `${path} must be an object, got ${describeType(tool)}`);
    }
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      // Server tools (web search, code execution, computer use) run at Anthropic only.
      untranslatable(path, `the Anthropic server tool ${JSON.stringify(tool.type)}`, reject);
      return;
    }
    if (!isNonEmptyString(tool.name)) {
      throw invalidField(`${path}.name`, `${path}.name must be a non-empty string`);
    }
    if (!isJsonObject(tool.input_schema)) {
      throw invalidField(
        `${path}.input_schema`,
        `${path}.input_schema must be a JSON schema object`,
      );
    }
    const fn: OpenAITool['function'] = { name: tool.name, parameters: tool.input_schema };
    if (typeof tool.description === 'string') {
      fn.description = tool.description;
    }
    tools.push({ type: 'function', function: fn });
  });
  return tools;
}

function translateToolChoice(value: unknown): {
  toolChoice: OpenAIToolChoice;
  parallel: boolean;
} {
  if (!isJsonObject(value)) {
    throw invalidField('tool_choice', 'tool_choice must be an object');
  }
  const parallel = value.disable_parallel_tool_use !== true;
  switch (value.type) {
    case 'auto':
      return { toolChoice: 'auto', parallel };
    case 'any':
      return { toolChoice: 'required', parallel };
    case 'none':
      return { toolChoice: 'none', parallel };
    case 'tool':
      if (!isNonEmptyString(value.name)) {
        throw invalidField('tool_choice.name', 'tool_choice.name must be a non-empty string');
      }
      return { toolChoice: { type: 'function', function: { name: value.name } }, parallel };
    default:
      throw invalidField(
        'tool_choice.type',
        'tool_choice.type must be one of "auto", "any", "tool", "none"',
      );
  }
}

const TOP_LEVEL_PARAMS: Record<string, string> = {
  max_completion_tokens: 'max_tokens',
  stop: 'stop_sequences',
  user: 'metadata.user_id',
  stream_options: 'stream',
  parallel_tool_calls: 'tool_choice.disable_parallel_tool_use',
};

function toAnthropicParam(param: string | null, origins: MessageOrigin[]): string | null {
  if (param === null) {
    return null;
  }
  const message = /^messages\[(\d+)\](.*)$/.exec(param);
  if (message) {
    const origin = origins[Number(message[1])];
    if (!origin) {
      return param;
    }
    return messageParam(origin, message[2]);
  }
  const tool = /^tools\[(\d+)\]\.function(?:\.(\w+))?(.*)$/.exec(param);
  if (tool) {
    const field = tool[2] === 'parameters' ? 'input_schema' : tool[2];
    return `tools[${tool[1]}]${field ? `.${field}` : ''}${tool[3]}`;
  }
  const head = /^[a-z_]+/.exec(param)?.[0] ?? '';
  const mapped = TOP_LEVEL_PARAMS[head];
  return mapped ? mapped + param.slice(head.length) : param;
}

function messageParam(origin: MessageOrigin, rest: string): string {
  const part = /^\.content\[(\d+)\](.*)$/.exec(rest);
  if (part) {
    const partOrigin = origin.parts[Number(part[1])];
    if (!partOrigin) {
      return origin.contentPath;
    }
    const sub = part[2];
    if (sub.startsWith('.image_url') || sub.startsWith('.file')) {
      switch (partOrigin.kind) {
        case 'image_base64':
        case 'document':
          return `${partOrigin.path}.source.data`;
        case 'image_url':
          return `${partOrigin.path}.source.url`;
        case 'text':
          return partOrigin.path;
      }
    }
    return sub.startsWith('.text') && partOrigin.kind === 'text'
      ? `${partOrigin.path}.text`
      : partOrigin.path;
  }
  const call = /^\.tool_calls\[(\d+)\](.*)$/.exec(rest);
  if (call) {
    const callPath = origin.toolCalls[Number(call[1])];
    if (!callPath) {
      return origin.contentPath;
    }
    return call[2].includes('arguments') ? `${callPath}.input` : callPath;
  }
  if (rest.startsWith('.content')) {
    return origin.contentPath;
  }
  // The message as a whole (`messages[k]`, `.role`): its Anthropic counterpart.
  return origin.contentPath.replace(/\.content$/, '') + (rest.startsWith('.role') ? rest : '');
}
