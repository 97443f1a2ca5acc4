import { ApiError } from 'src/common/errors/api-error';
import { isJsonObject, JsonObject } from 'src/kernel/json';

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** `data:<mime>;base64,<data>` split into its parts; null for anything else (URLs included). */
export function parseDataUri(url: string): { mediaType: string; data: string } | null {
  const match = /^data:([^;,]*)((?:;[^;,]*)*?);base64,(.*)$/s.exec(url);
  if (!match) {
    return null;
  }
  return { mediaType: match[1].toLowerCase(), data: match[3] };
}

export function toDataUri(mediaType: string, data: string): string {
  return `data:${mediaType};base64,${data}`;
}

/**
 * Tool arguments as a JSON object. OpenAI carries them as JSON text, Anthropic as an object;
 * an empty string (some servers send it for a tool without parameters) is `{}`. Null when the
 * text is not a JSON object: the caller decides whether that is the client's or upstream's fault.
 */
export function parseToolArguments(text: string): JsonObject | null {
  if (text.trim() === '') {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return isJsonObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

export function invalidField(param: string, message: string): ApiError {
  return new ApiError('invalid_field', message, { param });
}

export function missingField(param: string): ApiError {
  return new ApiError('missing_field', `${param} is required`, { param });
}

/** Truthy check for the one-line type descriptions in validation messages. */
export function describeType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  return Array.isArray(value) ? 'array' : typeof value;
}
