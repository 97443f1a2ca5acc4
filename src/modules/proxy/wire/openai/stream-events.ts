import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import { upstreamErrorMessage } from 'src/modules/proxy/wire/upstream-error-message';

/**
 * Cheap checks on OpenAI chat-completion SSE events (pure). The /v1 stream does not parse
 * every chunk: these substring tests decide which few need `JSON.parse` (usage, errors).
 */

type Obj = Record<string, unknown>;

/** `data: [DONE]`: the end of a complete OpenAI stream. */
export function isOpenAiDone(event: SseEvent): boolean {
  return event.data === '[DONE]';
}

/**
 * False when the chunk certainly carries no usage (no `"usage"` key, or `"usage": null` as
 * OpenAI sends on every chunk once `include_usage` is on); true when it may.
 */
export function mayCarryUsage(data: string): boolean {
  const at = data.indexOf('"usage"');
  if (at === -1) {
    return false;
  }
  let i = at + 7;
  while (i < data.length && (data.charCodeAt(i) === 32 || data.charCodeAt(i) === 58)) {
    i++;
  }
  return data.charCodeAt(i) !== 110; /* n of null */
}

const QUOTE = 0x22;
const USAGE_KEY = Buffer.from('"usage"');
const ERROR_KEY = Buffer.from('"error"');
/**
 * Horspool shifts for finding either key (both 7 bytes, both ending in `"`): how far the
 * window may move when its last byte is the index. Most bytes of a chunk skip several.
 */
const KEY_SHIFT = new Uint8Array(256).fill(7);
for (const key of [USAGE_KEY, ERROR_KEY]) {
  for (let k = 0; k < 6; k++) {
    KEY_SHIFT[key[k]] = Math.min(KEY_SHIFT[key[k]], 6 - k);
  }
}

/**
 * `mayCarryUsage || mayCarryError` on an event's value as bytes (`data[start, end)`, not
 * decoded): false only for a JSON object with neither, which can pass through as it is.
 * `[DONE]` is not an object.
 */
export function mayMatterBytes(data: Buffer, start: number, end: number): boolean {
  if (data[start] !== 0x7b /* { */) {
    return true;
  }
  for (let i = start + 6; i < end; i += KEY_SHIFT[data[i]]) {
    if (data[i] !== QUOTE || data[i - 6] !== QUOTE) {
      continue;
    }
    if (isKeyAt(data, i - 6, ERROR_KEY)) {
      return true;
    }
    if (isKeyAt(data, i - 6, USAGE_KEY)) {
      let k = i + 1;
      while (k < end && (data[k] === 32 || data[k] === 58)) {
        k++;
      }
      if (data[k] !== 110 /* n of null */) {
        return true;
      }
    }
  }
  return false;
}

function isKeyAt(data: Buffer, at: number, key: Buffer): boolean {
  for (let k = 1; k < 6; k++) {
    if (data[at + k] !== key[k]) {
      return false;
    }
  }
  return true;
}

/** True when the chunk may be an error event; confirm with `chunkErrorMessage`. */
export function mayCarryError(data: string): boolean {
  return data.includes('"error"');
}

/**
 * The message of an error sent as a stream event (`{"error": {...}}` from OpenAI/vLLM,
 * `{"object": "error", "message"}` from older vLLM), or null for an ordinary chunk.
 */
export function chunkErrorMessage(chunk: unknown): string | null {
  if (typeof chunk !== 'object' || chunk === null) {
    return null;
  }
  const c = chunk as Obj;
  if (c.error === undefined && c.object !== 'error') {
    return null;
  }
  return upstreamErrorMessage(JSON.stringify(c), 'application/json') ?? 'unknown error';
}

/** The chunk `stream_options.include_usage` adds at the end: no choices, only usage. */
export function isUsageOnlyChunk(chunk: unknown): boolean {
  if (typeof chunk !== 'object' || chunk === null) {
    return false;
  }
  const c = chunk as Obj;
  return (
    Array.isArray(c.choices) &&
    c.choices.length === 0 &&
    typeof c.usage === 'object' &&
    c.usage !== null
  );
}

/** `{prompt_tokens, completion_tokens}` of a chunk or answer, or null. */
export function readUsage(
  value: unknown,
): { promptTokens: number; completionTokens: number } | null {
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const usage = (value as Obj).usage;
  if (typeof usage !== 'object' || usage === null) {
    return null;
  }
  const u = usage as Obj;
  return {
    promptTokens: typeof u.prompt_tokens === 'number' ? u.prompt_tokens : 0,
    completionTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : 0,
  };
}
