import { NeutralMessage, NeutralPart } from 'src/kernel/neutral-history';
import {
  AnthropicContentBlock,
  AnthropicMessage,
  AnthropicTextBlock,
} from 'src/modules/proxy/wire/anthropic/anthropic.types';
import { isNonEmptyString, parseToolArguments } from 'src/modules/proxy/wire/anthropic/wire-utils';
import { JsonObject, isJsonObject } from 'src/kernel/json';

export interface AnthropicConversation {
  system?: string | AnthropicTextBlock[];
  messages: AnthropicMessage[];
}

/**
 * Neutral history → the `system` and `messages` of an Anthropic request, for a /c1 turn served
 * by an `anthropic` upstream whatever served the earlier turns. Rules where the formats differ:
 * - system messages join the one `system` prompt (a string, or text blocks when several);
 * - `tool` messages become `tool_result` blocks of a user turn, placed before anything else in
 *   that turn (Anthropic requires tool results first), consecutive turns of one role merged;
 * - reasoning goes back as a `thinking` block only with the signature Anthropic issued for it
 *   (Anthropic rejects unsigned thinking); reasoning from another provider is left out;
 * - audio, video and non-PDF files have no Anthropic block: a short text note stands in, so
 *   the model knows something was attached and the conversation can still move on;
 * - empty text is dropped, and a turn left with nothing is dropped (Anthropic refuses both).
 */
export function neutralToAnthropic(history: readonly NeutralMessage[]): AnthropicConversation {
  const system: string[] = [];
  const messages: Array<{ role: 'user' | 'assistant'; content: AnthropicContentBlock[] }> = [];
  const append = (role: 'user' | 'assistant', blocks: AnthropicContentBlock[]) => {
    if (blocks.length === 0) {
      return;
    }
    const last = messages[messages.length - 1];
    if (last?.role !== role) {
      messages.push({ role, content: blocks });
      return;
    }
    const results = blocks.filter((b) => b.type === 'tool_result');
    const others = blocks.filter((b) => b.type !== 'tool_result');
    const lastResults = last.content.filter((b) => b.type === 'tool_result');
    const lastOthers = last.content.filter((b) => b.type !== 'tool_result');
    last.content = [...lastResults, ...results, ...lastOthers, ...others];
  };
  for (const message of history) {
    switch (message.role) {
      case 'system':
        for (const part of message.parts) {
          if (part.type === 'text' && part.text !== '') {
            system.push(part.text);
          }
        }
        break;
      case 'user':
      case 'tool':
        append('user', message.parts.flatMap(userBlock));
        break;
      case 'assistant':
        append('assistant', assistantBlocks(message.parts));
        break;
    }
  }
  const out: AnthropicConversation = {
    messages: messages.map(({ role, content }) => ({
      role,
      content: content.length === 1 && content[0].type === 'text' ? content[0].text : content,
    })),
  };
  if (system.length === 1) {
    out.system = system[0];
  } else if (system.length > 1) {
    out.system = system.map((text) => ({ type: 'text', text }));
  }
  return out;
}

function userBlock(part: NeutralPart): AnthropicContentBlock[] {
  switch (part.type) {
    case 'text':
      return part.text === '' ? [] : [{ type: 'text', text: part.text }];
    case 'image':
      if (part.data !== undefined) {
        return [
          {
            type: 'image',
            source: {
              type: 'base64',
              media_type: part.mediaType ?? sniffImageType(part.data),
              data: part.data,
            },
          },
        ];
      }
      return part.url ? [{ type: 'image', source: { type: 'url', url: part.url } }] : [];
    case 'media':
      if (part.kind === 'file' && part.mediaType === 'application/pdf') {
        const block: AnthropicContentBlock = {
          type: 'document',
          source: { type: 'base64', media_type: 'application/pdf', data: part.data },
        };
        if (part.name) {
          block.title = part.name;
        }
        return [block];
      }
      return [
        {
          type: 'text',
          text: `[${part.kind}${part.name ? ` "${part.name}"` : ''} attached; this model cannot read it]`,
        },
      ];
    case 'tool_result': {
      const block: AnthropicContentBlock = {
        type: 'tool_result',
        tool_use_id: part.toolCallId,
        content: part.content,
      };
      if (part.isError) {
        block.is_error = true;
      }
      return [block];
    }
    case 'tool_call':
    case 'reasoning':
      // Only an assistant produces these; a user turn never carries them.
      return [];
  }
}

function assistantBlocks(parts: readonly NeutralPart[]): AnthropicContentBlock[] {
  const thinking: AnthropicContentBlock[] = [];
  const rest: AnthropicContentBlock[] = [];
  for (const part of parts) {
    switch (part.type) {
      case 'reasoning':
        if (part.signature) {
          thinking.push({ type: 'thinking', thinking: part.text, signature: part.signature });
        }
        break;
      case 'text':
        if (part.text !== '') {
          rest.push({ type: 'text', text: part.text });
        }
        break;
      case 'tool_call':
        rest.push({
          type: 'tool_use',
          id: part.id,
          name: part.name,
          // A stored call is history: it must render even if the model wrote broken JSON.
          input: parseToolArguments(part.arguments) ?? {},
        });
        break;
      case 'image':
      case 'media':
      case 'tool_result':
        break;
    }
  }
  // Anthropic wants the thinking first in the turn.
  return [...thinking, ...rest];
}

/** The magic number of base64 image data, for images stored without a MIME type. */
function sniffImageType(data: string): string {
  if (data.startsWith('/9j/')) {
    return 'image/jpeg';
  }
  if (data.startsWith('R0lGOD')) {
    return 'image/gif';
  }
  if (data.startsWith('UklGR')) {
    return 'image/webp';
  }
  return 'image/png';
}

/**
 * An Anthropic request's `system` and `messages` → neutral messages (what `/c1/messages`
 * stores for a new turn). Runs on a request already validated by `anthropicRequestToOpenAI`.
 * `tool_result` blocks become `tool` messages (one per result, before the rest of the turn),
 * as Chat Completions would carry them; images a tool returned join the user message.
 */
export function anthropicToNeutral(input: {
  system?: unknown;
  messages: unknown;
}): NeutralMessage[] {
  const out: NeutralMessage[] = [];
  const system = input.system;
  if (typeof system === 'string' && system !== '') {
    out.push({ role: 'system', parts: [{ type: 'text', text: system }] });
  } else if (Array.isArray(system)) {
    // One text, joined as for an openai upstream (request-to-openai), so that every renderer
    // shows the same system prompt.
    const text = system
      .flatMap((b: unknown) => (isJsonObject(b) && isNonEmptyString(b.text) ? [b.text] : []))
      .join('\n\n');
    if (text !== '') {
      out.push({ role: 'system', parts: [{ type: 'text', text }] });
    }
  }
  const messages: unknown[] = Array.isArray(input.messages) ? input.messages : [];
  for (const message of messages) {
    if (!isJsonObject(message)) {
      continue;
    }
    const blocks: unknown[] =
      typeof message.content === 'string'
        ? [{ type: 'text', text: message.content }]
        : Array.isArray(message.content)
          ? message.content
          : [];
    if (message.role === 'assistant') {
      out.push({ role: 'assistant', parts: assistantParts(blocks) });
      continue;
    }
    const parts: NeutralPart[] = [];
    for (const block of blocks) {
      if (isJsonObject(block) && block.type === 'tool_result') {
        const result = toolResult(block);
        out.push({ role: 'tool', parts: [result.part] });
        parts.push(...result.media);
      } else if (isJsonObject(block)) {
        parts.push(...userParts(block));
      }
    }
    if (parts.length > 0) {
      out.push({ role: 'user', parts });
    }
  }
  return out;
}

/** An Anthropic answer's content blocks → the parts of the neutral assistant message. */
export function anthropicResponseToNeutral(response: { content: unknown }): NeutralMessage {
  return {
    role: 'assistant',
    parts: assistantParts(Array.isArray(response.content) ? response.content : []),
  };
}

function assistantParts(blocks: readonly unknown[]): NeutralPart[] {
  const parts: NeutralPart[] = [];
  for (const block of blocks) {
    if (!isJsonObject(block)) {
      continue;
    }
    if (block.type === 'text' && typeof block.text === 'string') {
      parts.push({ type: 'text', text: block.text });
    } else if (block.type === 'thinking' && typeof block.thinking === 'string') {
      const part: NeutralPart = { type: 'reasoning', text: block.thinking };
      if (isNonEmptyString(block.signature)) {
        part.signature = block.signature;
      }
      parts.push(part);
    } else if (block.type === 'tool_use' && isNonEmptyString(block.id)) {
      parts.push({
        type: 'tool_call',
        id: block.id,
        name: typeof block.name === 'string' ? block.name : '',
        arguments: JSON.stringify(isJsonObject(block.input) ? block.input : {}),
      });
    }
    // redacted_thinking is opaque and bound to Anthropic: not part of portable history.
  }
  return parts;
}

function userParts(block: JsonObject): NeutralPart[] {
  const source = isJsonObject(block.source) ? block.source : {};
  switch (block.type) {
    case 'text':
      return typeof block.text === 'string' ? [{ type: 'text', text: block.text }] : [];
    case 'image':
      if (source.type === 'base64' && typeof source.data === 'string') {
        const mediaType = typeof source.media_type === 'string' ? source.media_type : null;
        return [{ type: 'image', mediaType, data: source.data }];
      }
      return typeof source.url === 'string'
        ? [{ type: 'image', mediaType: null, url: source.url }]
        : [];
    case 'document':
      if (source.type === 'base64' && typeof source.data === 'string') {
        const part: NeutralPart = {
          type: 'media',
          kind: 'file',
          mediaType: typeof source.media_type === 'string' ? source.media_type : 'application/pdf',
          data: source.data,
        };
        if (isNonEmptyString(block.title)) {
          part.name = block.title;
        }
        return [part];
      }
      return source.type === 'text' && typeof source.data === 'string'
        ? [{ type: 'text', text: source.data }]
        : [];
    default:
      return [];
  }
}

function toolResult(block: JsonObject): { part: NeutralPart; media: NeutralPart[] } {
  const texts: string[] = [];
  const media: NeutralPart[] = [];
  if (typeof block.content === 'string') {
    texts.push(block.content);
  } else if (Array.isArray(block.content)) {
    for (const inner of block.content as unknown[]) {
      if (!isJsonObject(inner)) {
        continue;
      }
      for (const part of userParts(inner)) {
        if (part.type === 'text') {
          texts.push(part.text);
        } else {
          media.push(part);
        }
      }
    }
  }
  const part: NeutralPart = {
    type: 'tool_result',
    toolCallId: typeof block.tool_use_id === 'string' ? block.tool_use_id : '',
    content: texts.join('\n'),
  };
  if (block.is_error === true) {
    part.isError = true;
  }
  return { part, media };
}
