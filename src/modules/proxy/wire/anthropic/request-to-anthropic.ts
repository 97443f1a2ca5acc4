import { ApiError } from 'src/common/errors/api-error';
import { NeutralMessage } from 'src/kernel/neutral-history';
import {
  AnthropicContentBlock,
  AnthropicMessage,
  AnthropicRequest,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
} from 'src/modules/proxy/wire/anthropic/anthropic.types';
import {
  AnthropicConversation,
  neutralToAnthropic,
} from 'src/modules/proxy/wire/anthropic/neutral-anthropic';
import {
  invalidField,
  isNonEmptyString,
  missingField,
  parseDataUri,
  parseToolArguments,
} from 'src/modules/proxy/wire/anthropic/wire-utils';
import { JsonObject, isJsonObject } from 'src/kernel/json';

export interface OpenAIToAnthropicOptions {
  /**
   * `max_tokens` when the client gave neither `max_tokens` nor `max_completion_tokens`:
   * Anthropic requires one, Chat Completions does not. The caller takes it from the model's
   * constraints (`max_output_tokens`).
   */
  defaultMaxTokens: number;
}

/**
 * OpenAI Chat Completions request → Anthropic Messages request, for a `/v1/chat/completions`
 * call to a model whose upstream speaks `anthropic`. Runs after the proxy's checks, so image
 * data URIs are known to be well formed. Anthropic refuses unknown fields, so only fields it
 * has are sent: sampling hints it lacks (`presence_penalty`, `seed`, `logit_bias`, …) are left
 * out; what would change the answer's shape and cannot be honoured (`n` > 1, JSON
 * `response_format`, audio) is refused with 400 `invalid_field`.
 */
export function openAIRequestToAnthropic(
  input: JsonObject,
  options: OpenAIToAnthropicOptions,
): AnthropicRequest {
  return withConversation(input, options, openAIMessagesToAnthropic(input.messages));
}

/**
 * A /c1 turn for an `anthropic` upstream: the request's parameters translated as above, the
 * conversation rendered straight from the stored neutral history (system prompt, earlier
 * turns, the new turn) rather than through its OpenAI rendering, so that what only Anthropic
 * carries (thinking signatures, tool errors) survives.
 */
export function anthropicRequestFromNeutral(
  input: JsonObject,
  history: readonly NeutralMessage[],
  options: OpenAIToAnthropicOptions,
): AnthropicRequest {
  return withConversation(input, options, neutralToAnthropic(history));
}

/** Chat Completions `messages` → the Anthropic `system` prompt and `messages`. */
export function openAIMessagesToAnthropic(input: unknown): AnthropicConversation {
  if (!Array.isArray(input)) {
    throw input === undefined
      ? missingField('messages')
      : invalidField('messages', 'messages must be an array');
  }
  const system: AnthropicTextBlock[] = [];
  const messages: AnthropicMessage[] = [];
  const push = (role: 'user' | 'assistant', blocks: AnthropicContentBlock[]) => {
    if (blocks.length === 0) {
      // An empty assistant turn said nothing, and Anthropic refuses empty turns: left out.
      return;
    }
    const last = messages[messages.length - 1];
    if (last && last.role === role && Array.isArray(last.content)) {
      // Anthropic wants tool results, and what follows them, in one user turn.
      last.content.push(...blocks);
    } else {
      messages.push({ role, content: blocks });
    }
  };
  input.forEach((message: unknown, i: number) => {
    const path = `messages[${i}]`;
    if (!isJsonObject(message)) {
      throw invalidField(path, `${path} must be an object`);
    }
    switch (message.role) {
      case 'system':
      case 'developer':
        // Anthropic has one system prompt, outside the turns: every system message joins it.
        for (const text of textsOf(message.content, `${path}.content`)) {
          system.push({ type: 'text', text });
        }
        return;
      case 'user':
        push('user', userBlocks(message.content, `${path}.content`));
        return;
      case 'assistant':
        push('assistant', assistantBlocks(message, path));
        return;
      case 'tool': {
        if (!isNonEmptyString(message.tool_call_id)) {
          throw invalidField(
            `${path}.tool_call_id`,
            `${path}.tool_call_id must be a non-empty string`,
          );
        }
        const text = textsOf(message.content, `${path}.content`).join('\n');
        push('user', [{ type: 'tool_result', tool_use_id: message.tool_call_id, content: text }]);
        return;
      }
      default:
        throw invalidField(
          `${path}.role`,
          `${path}.role must be one of "system", "developer", "user", "assistant", "tool"`,
        );
    }
  });
  if (messages.length === 0) {
    throw invalidField('messages', 'messages must contain at least one user or assistant message');
  }
  for (const message of messages) {
    // A one-text-block turn is sent as a string, the form every Anthropic endpoint takes.
    if (
      Array.isArray(message.content) &&
      message.content.length === 1 &&
      message.content[0].type === 'text'
    ) {
      message.content = message.content[0].text;
    }
  }
  const out: AnthropicConversation = { messages };
  if (system.length === 1) {
    out.system = system[0].text;
  } else if (system.length > 1) {
    out.system = system;
  }
  return out;
}

function withConversation(
  input: JsonObject,
  options: OpenAIToAnthropicOptions,
  conversation: AnthropicConversation,
): AnthropicRequest {
  const body: AnthropicRequest = {
    model: typeof input.model === 'string' ? input.model : '',
    max_tokens: maxTokens(input, options.defaultMaxTokens),
    messages: conversation.messages,
  };
  if (conversation.system !== undefined) {
    body.system = conversation.system;
  }
  const stop = input.stop;
  if (typeof stop === 'string') {
    body.stop_sequences = [stop];
  } else if (Array.isArray(stop) && stop.length > 0) {
    if (stop.some((s) => typeof s !== 'string')) {
      throw invalidField('stop', 'stop must be a string or an array of strings');
    }
    body.stop_sequences = stop as string[];
  }
  for (const field of ['temperature', 'top_p', 'top_k'] as const) {
    if (typeof input[field] === 'number') {
      body[field] = input[field];
    }
  }
  if (isNonEmptyString(input.user)) {
    body.metadata = { user_id: input.user };
  }
  if (input.stream === true) {
    body.stream = true;
  }
  if (input.n !== undefined && input.n !== null && input.n !== 1) {
    throw invalidField('n', 'n must be 1: this model answers with one choice');
  }
  if (isJsonObject(input.response_format) && input.response_format.type !== 'text') {
    throw invalidField(
      'response_format.type',
      'response_format other than "text" is not supported by this model',
    );
  }
  const tools = translateTools(input.tools);
  if (tools.length > 0) {
    body.tools = tools;
  }
  const choice = translateToolChoice(input.tool_choice, input.parallel_tool_calls === false);
  if (choice && (tools.length > 0 || choice.type === 'none')) {
    body.tool_choice = choice;
  }
  return body;
}

function maxTokens(input: JsonObject, fallback: number): number {
  for (const field of ['max_completion_tokens', 'max_tokens'] as const) {
    const value = input[field];
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw invalidField(field, `${field} must be an integer of at least 1`);
    }
    return value;
  }
  return fallback;
}

function textsOf(content: unknown, path: string): string[] {
  if (content === undefined || content === null) {
    return [];
  }
  if (typeof content === 'string') {
    return content === '' ? [] : [content];
  }
  if (!Array.isArray(content)) {
    throw invalidField(path, `${path} must be a string or an array of content parts`);
  }
  return content.map((part: unknown, j: number) => {
    if (!isJsonObject(part) || part.type !== 'text' || typeof part.text !== 'string') {
      throw invalidField(`${path}[${j}]`, `${path}[${j}] must be a text part`);
    }
    return part.text;
  });
}

function userBlocks(content: unknown, path: string): AnthropicContentBlock[] {
  if (content === undefined || content === null) {
    throw missingField(path);
  }
  if (typeof content === 'string') {
    return [{ type: 'text', text: content }];
  }
  if (!Array.isArray(content)) {
    throw invalidField(path, `${path} must be a string or an array of content parts`);
  }
  return content.map((part: unknown, j: number): AnthropicContentBlock => {
    const partPath = `${path}[${j}]`;
    if (!isJsonObject(part)) {
      throw invalidField(partPath, `${partPath} must be an object`);
    }
    switch (part.type) {
      case 'text':
        if (typeof part.text !== 'string') {
          throw invalidField(`${partPath}.text`, `${partPath}.text must be a string`);
        }
        return { type: 'text', text: part.text };
      case 'image_url': {
        const url = isJsonObject(part.image_url) ? part.image_url.url : undefined;
        if (typeof url !== 'string') {
          throw invalidField(
            `${partPath}.image_url.url`,
            `${partPath}.image_url.url must be a string`,
          );
        }
        const inline = parseDataUri(url);
        return inline
          ? {
              type: 'image',
              source: { type: 'base64', media_type: inline.mediaType, data: inline.data },
            }
          : { type: 'image', source: { type: 'url', url } };
      }
      case 'file': {
        const data = isJsonObject(part.file) ? part.file.file_data : undefined;
        const inline = typeof data === 'string' ? parseDataUri(data) : null;
        if (!inline || inline.mediaType !== 'application/pdf') {
          throw invalidField(
            `${partPath}.file`,
            `${partPath}: only inline PDF files (file_data) can be sent to this model`,
          );
        }
        return {
          type: 'document',
          source: { type: 'base64', media_type: inline.mediaType, data: inline.data },
        };
      }
      default:
        throw invalidField(
          `${partPath}.type`,
          `${partPath}: ${JSON.stringify(part.type ?? null)} parts cannot be sent to this model`,
        );
    }
  });
}

function assistantBlocks(message: JsonObject, path: string): AnthropicContentBlock[] {
  const blocks: AnthropicContentBlock[] = [];
  const content = message.content;
  const addText = (text: string) => {
    // Anthropic refuses empty text blocks.
    if (text !== '') {
      blocks.push({ type: 'text', text });
    }
  };
  if (Array.isArray(content)) {
    content.forEach((part: unknown, j: number) => {
      if (isJsonObject(part) && part.type === 'refusal' && typeof part.refusal === 'string') {
        addText(part.refusal);
      } else if (isJsonObject(part) && part.type === 'text' && typeof part.text === 'string') {
        addText(part.text);
      } else {
        throw invalidField(`${path}.content[${j}]`, `${path}.content[${j}] must be a text part`);
      }
    });
  } else {
    textsOf(content, `${path}.content`).forEach(addText);
  }
  const toolCalls: unknown = message.tool_calls;
  if (Array.isArray(toolCalls)) {
    toolCalls.forEach((call: unknown, t: number) => {
      const callPath = `${path}.tool_calls[${t}]`;
      const fn = isJsonObject(call) && isJsonObject(call.function) ? call.function : null;
      if (!isJsonObject(call) || !isNonEmptyString(call.id)) {
        throw invalidField(`${callPath}.id`, `${callPath}.id must be a non-empty string`);
      }
      if (!fn || !isNonEmptyString(fn.name)) {
        throw invalidField(
          `${callPath}.function.name`,
          `${callPath}.function.name must be a non-empty string`,
        );
      }
      const input = parseToolArguments(typeof fn.arguments === 'string' ? fn.arguments : '');
      if (input === null) {
        throw invalidField(
          `${callPath}.function.arguments`,
          `${callPath}.function.arguments must be a JSON object`,
        );
      }
      blocks.push({ type: 'tool_use', id: call.id, name: fn.name, input });
    });
  }
  return blocks;
}

function translateTools(value: unknown): AnthropicTool[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw invalidField('tools', 'tools must be an array');
  }
  return value.map((tool: unknown, i: number): AnthropicTool => {
    const path = `tools[${i}]`;
    if (!isJsonObject(tool) || tool.type !== 'function' || !isJsonObject(tool.function)) {
      throw invalidField(path, `${path} must be a function tool ({type: "function", function})`);
    }
    const fn = tool.function;
    if (!isNonEmptyString(fn.name)) {
      throw invalidField(
        `${path}.function.name`,
        `${path}.function.name must be a non-empty string`,
      );
    }
    const out: AnthropicTool = {
      name: fn.name,
      // A function without parameters takes none: Anthropic wants the schema spelt out.
      input_schema: isJsonObject(fn.parameters)
        ? fn.parameters
        : { type: 'object', properties: {} },
    };
    if (typeof fn.description === 'string') {
      out.description = fn.description;
    }
    return out;
  });
}

function translateToolChoice(value: unknown, noParallel: boolean): AnthropicToolChoice | null {
  const withParallel = (choice: AnthropicToolChoice): AnthropicToolChoice =>
    noParallel && choice.type !== 'none' ? { ...choice, disable_parallel_tool_use: true } : choice;
  if (value === undefined || value === null) {
    return noParallel ? withParallel({ type: 'auto' }) : null;
  }
  if (value === 'auto') {
    return withParallel({ type: 'auto' });
  }
  if (value === 'required') {
    return withParallel({ type: 'any' });
  }
  if (value === 'none') {
    return { type: 'none' };
  }
  if (
    isJsonObject(value) &&
    isJsonObject(value.function) &&
    isNonEmptyString(value.function.name)
  ) {
    return withParallel({ type: 'tool', name: value.function.name });
  }
  throw new ApiError(
    'invalid_field',
    'tool_choice must be "auto", "none", "required" or {type: "function", function: {name}}',
    { param: 'tool_choice' },
  );
}
