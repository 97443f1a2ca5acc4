/** Longest upstream message inlined into an `upstream_error`. */
export const MAX_UPSTREAM_MESSAGE = 1000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The human message of an upstream error body, whatever its dialect: OpenAI
 * (`{error: {message}}`), vLLM (`{object: "error", message}`), Anthropic
 * (`{type: "error", error: {type, message}}`), FastAPI (`{detail}`), a bare string, or plain
 * text. Control characters are removed, the length is capped, and `secrets` (the upstream's own
 * key) are masked if the upstream echoed them. Null when nothing readable is there.
 */
export function upstreamErrorMessage(
  body: string,
  contentType: string | undefined,
  secrets: readonly string[] = [],
): string | null {
  let message: string | null = null;
  const trimmed = body.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('"') || contentType?.includes('json')) {
    try {
      message = messageFromJson(JSON.parse(trimmed));
    } catch {
      message = null;
    }
  }
  if (message === null && trimmed && !trimmed.startsWith('<') && !contentType?.includes('json')) {
    message = trimmed;
  }
  if (message === null) {
    return null;
  }
  for (const secret of secrets) {
    if (secret) {
      message = message.split(secret).join('[redacted]');
    }
  }
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  message = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (message.length > MAX_UPSTREAM_MESSAGE) {
    message = `${message.slice(0, MAX_UPSTREAM_MESSAGE)}…`;
  }
  return message || null;
}

function messageFromJson(value: unknown): string | null {
  if (typeof value === 'string') {
    return value;
  }
  if (!isObj(value)) {
    return null;
  }
  const error = value.error;
  if (typeof error === 'string') {
    return error;
  }
  if (isObj(error) && typeof error.message === 'string') {
    return error.message;
  }
  if (typeof value.message === 'string') {
    return value.message;
  }
  if (typeof value.detail === 'string') {
    return value.detail;
  }
  if (Array.isArray(value.detail)) {
    const first: unknown = value.detail[0];
    if (isObj(first) && typeof first.msg === 'string') {
      return first.msg;
    }
  }
  return null;
}
