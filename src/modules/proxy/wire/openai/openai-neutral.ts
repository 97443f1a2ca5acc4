import { NeutralMessage, NeutralPart } from 'src/kernel/neutral-history';

/**
 * OpenAI chat messages ⇄ the neutral form stored for /c1 (pure functions, no I/O).
 *
 * Lossless for what the neutral form models (text, images, audio/video/file, tool calls and
 * results, reasoning, participant names); OpenAI-only details it does not model (image
 * `detail`, `cache_control`, `refusal` vs text) are dropped.
 */

/** A chat message in OpenAI's wire format, loosely typed: it comes from clients and upstreams. */
export interface OpenAIMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: OpenAIToolCall[];
  tool_call_id?: string;
  reasoning_content?: string;
  [extra: string]: unknown;
}

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type OpenAIContentPart = Record<string, unknown> & { type: string };

interface DataUri {
  mediaType: string | null;
  data: string;
}

/** `data:<mime>;base64,<payload>` → its parts; null when `url` is not a base64 data URI. */
export function parseDataUri(url: string): DataUri | null {
  const match = /^data:([^;,]*)((?:;[^;,]*)*),/i.exec(url);
  if (!match || !/;base64$/i.test(match[2] ?? '')) {
    return null;
  }
  return { mediaType: match[1] ? match[1].toLowerCase() : null, data: url.slice(match[0].length) };
}

export function toDataUri(mediaType: string | null, data: string): string {
  return `data:${mediaType ?? 'application/octet-stream'};base64,${data}`;
}

const asString = (value: unknown): string => (typeof value === 'string' ? value : '');

function textOf(content: unknown): string {
  if (typeof content === 'string') {
    return content;
  }
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) => {
        const part = p as { type?: unknown; text?: unknown; refusal?: unknown };
        return asString(part?.text ?? part?.refusal);
      })
      .join('');
  }
  return '';
}

function mediaPart(kind: 'audio' | 'video' | 'file', url: string, name?: string): NeutralPart {
  const parsed = parseDataUri(url);
  return {
    type: 'media',
    kind,
    mediaType: parsed?.mediaType ?? null,
    data: parsed ? parsed.data : url,
    ...(name ? { name } : {}),
  };
}

const AUDIO_FORMATS: Record<string, string> = { wav: 'audio/wav', mp3: 'audio/mpeg' };

function contentPartToNeutral(part: OpenAIContentPart): NeutralPart | null {
  switch (part.type) {
    case 'text':
    case 'input_text':
      return { type: 'text', text: asString(part.text) };
    case 'refusal':
      return { type: 'text', text: asString(part.refusal) };
    case 'image_url': {
      const url = asString(
        (part.image_url as { url?: unknown } | undefined)?.url ?? part.image_url,
      );
      const parsed = parseDataUri(url);
      return parsed
        ? { type: 'image', mediaType: parsed.mediaType, data: parsed.data }
        : { type: 'image', mediaType: null, url };
    }
    case 'input_audio': {
      const audio = (part.input_audio ?? {}) as { data?: unknown; format?: unknown };
      const format = asString(audio.format);
      return {
        type: 'media',
        kind: 'audio',
        mediaType: AUDIO_FORMATS[format] ?? (format ? `audio/${format}` : null),
        data: asString(audio.data),
      };
    }
    case 'audio_url':
      return mediaPart('audio', asString((part.audio_url as { url?: unknown })?.url));
    case 'video_url':
      return mediaPart('video', asString((part.video_url as { url?: unknown })?.url));
    case 'file': {
      const file = (part.file ?? {}) as { file_data?: unknown; filename?: unknown };
      const filename = asString(file.filename);
      return mediaPart('file', asString(file.file_data), filename || undefined);
    }
    default:
      return typeof part.text === 'string' ? { type: 'text', text: part.text } : null;
  }
}

function contentToNeutral(content: unknown): NeutralPart[] {
  if (typeof content === 'string') {
    return [{ type: 'text', text: content }];
  }
  if (!Array.isArray(content)) {
    return [];
  }
  const parts: NeutralPart[] = [];
  for (const item of content) {
    if (item && typeof item === 'object' && typeof (item as OpenAIContentPart).type === 'string') {
      const part = contentPartToNeutral(item as OpenAIContentPart);
      if (part) {
        parts.push(part);
      }
    }
  }
  return parts;
}

/** One OpenAI message (request or response side) → one neutral message. */
export function openAIToNeutral(message: OpenAIMessage): NeutralMessage {
  const name = typeof message.name === 'string' ? message.name : undefined;
  const withName = (m: NeutralMessage): NeutralMessage => (name ? { ...m, name } : m);
  switch (message.role) {
    case 'system':
    case 'developer':
      return withName({ role: 'system', parts: [{ type: 'text', text: textOf(message.content) }] });
    case 'tool':
    case 'function':
      return {
        role: 'tool',
        parts: [
          {
            type: 'tool_result',
            toolCallId: asString(message.tool_call_id) || asString(message.name),
            content: textOf(message.content),
          },
        ],
      };
    case 'assistant': {
      const parts: NeutralPart[] = [];
      const reasoning = asString(message.reasoning_content) || asString(message.reasoning);
      if (reasoning) {
        parts.push({ type: 'reasoning', text: reasoning });
      }
      const text = textOf(message.content);
      if (text) {
        parts.push({ type: 'text', text });
      }
      for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
        parts.push({
          type: 'tool_call',
          id: asString(call?.id),
          name: asString(call?.function?.name),
          arguments: asString(call?.function?.arguments),
        });
      }
      return withName({ role: 'assistant', parts });
    }
    default:
      return withName({ role: 'user', parts: contentToNeutral(message.content) });
  }
}

function partToOpenAI(part: NeutralPart): OpenAIContentPart | null {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image':
      return {
        type: 'image_url',
        image_url: {
          url: part.data !== undefined ? toDataUri(part.mediaType, part.data) : part.url,
        },
      };
    case 'media': {
      const url =
        part.mediaType === null && part.data.startsWith('data:')
          ? part.data
          : toDataUri(part.mediaType, part.data);
      if (part.kind === 'audio') {
        const format = Object.entries(AUDIO_FORMATS).find(([, mt]) => mt === part.mediaType)?.[0];
        return format
          ? { type: 'input_audio', input_audio: { data: part.data, format } }
          : { type: 'audio_url', audio_url: { url } };
      }
      if (part.kind === 'video') {
        return { type: 'video_url', video_url: { url } };
      }
      return {
        type: 'file',
        file: { file_data: url, ...(part.name ? { filename: part.name } : {}) },
      };
    }
    case 'tool_call':
    case 'tool_result':
    case 'reasoning':
      return null;
  }
}

export interface RenderOptions {
  /**
   * Include stored reasoning as `reasoning_content` on assistant messages. Off when forwarding
   * (OpenAI-compatible servers expect it not to be sent back), on when showing a history.
   */
  includeReasoning?: boolean;
  /**
   * Prefix a failed tool result's text with `Error: ` (Chat Completions has no error flag, so
   * the model reads it in the text, as the /v1/messages translation does). On when forwarding,
   * off when showing a history (the stored text is shown as sent).
   */
  markToolErrors?: boolean;
}

/**
 * One neutral message → the OpenAI messages that carry it: usually one, but tool results
 * become one `tool` message each (Anthropic puts them inside a user message).
 */
export function neutralToOpenAI(
  message: NeutralMessage,
  options: RenderOptions = {},
): OpenAIMessage[] {
  const name = message.name ? { name: message.name } : {};
  switch (message.role) {
    case 'system':
      return [{ role: 'system', content: textOnly(message.parts), ...name }];
    case 'assistant': {
      const text = textOnly(message.parts);
      const calls = message.parts.flatMap((p) =>
        p.type === 'tool_call'
          ? [
              {
                id: p.id,
                type: 'function' as const,
                function: { name: p.name, arguments: p.arguments },
              },
            ]
          : [],
      );
      const reasoning = message.parts
        .flatMap((p) => (p.type === 'reasoning' ? [p.text] : []))
        .join('');
      return [
        {
          role: 'assistant',
          content: text === '' && calls.length > 0 ? null : text,
          ...name,
          ...(calls.length > 0 ? { tool_calls: calls } : {}),
          ...(options.includeReasoning && reasoning ? { reasoning_content: reasoning } : {}),
        },
      ];
    }
    case 'tool':
    case 'user': {
      const out: OpenAIMessage[] = message.parts.flatMap((p) =>
        p.type === 'tool_result'
          ? [
              {
                role: 'tool',
                tool_call_id: p.toolCallId,
                content: p.isError && options.markToolErrors ? errorText(p.content) : p.content,
              },
            ]
          : [],
      );
      const rest = message.parts.filter((p) => p.type !== 'tool_result');
      if (message.role === 'user' && (rest.length > 0 || out.length === 0)) {
        out.push({ role: 'user', content: userContent(rest), ...name });
      }
      return out;
    }
  }
}

/** A list of neutral messages → OpenAI messages, in order. */
export function neutralListToOpenAI(
  messages: NeutralMessage[],
  options: RenderOptions = {},
): OpenAIMessage[] {
  return messages.flatMap((m) => neutralToOpenAI(m, options));
}

function errorText(content: string): string {
  return content === '' ? 'Error' : `Error: ${content}`;
}

function textOnly(parts: NeutralPart[]): string {
  let text = '';
  for (const part of parts) {
    if (part.type === 'text') {
      text += part.text;
    }
  }
  return text;
}

/** A plain string when the content is one text part (the common case), else the parts array. */
function userContent(parts: NeutralPart[]): string | OpenAIContentPart[] {
  if (parts.length === 1 && parts[0].type === 'text') {
    return parts[0].text;
  }
  return parts.flatMap((p) => {
    const part = partToOpenAI(p);
    return part ? [part] : [];
  });
}
