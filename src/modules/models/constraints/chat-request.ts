import { ApiError } from 'src/common/errors/api-error';
import { isJsonObject, JsonObject } from 'src/kernel/json';
import { CatalogModel, ModelConstraints } from 'src/kernel/catalog-model';
import {
  checkDataImage,
  isDataUri,
  isPlainHttpUrl,
  looksLikeUrl,
} from 'src/modules/models/constraints/media';

/**
 * Request checks shared by /v1 and /c1 (SPEC "Models"). Pure functions over the raw JSON body:
 * they read only the fields the contract names, at a fixed depth, and leave every other field
 * untouched so that it is forwarded as the client sent it.
 */

/** What a catalog lookup needs; `ModelCatalog` satisfies it. */
export interface ModelLookup {
  get(alias: string): CatalogModel | undefined;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

/**
 * Most entries accepted in `messages`, in one message's content parts, and in an embeddings
 * `input` list. Far above real requests (long agent loops stay in the hundreds), low enough that
 * validating, forwarding and storing one request cannot hold the event loop for long: a million
 * messages would otherwise become a million /c1 rows in one turn.
 */
export const MAX_LIST_ITEMS = 10_000;

export function assertListSize(list: unknown[], param: string, what: string): void {
  if (list.length > MAX_LIST_ITEMS) {
    throw new ApiError(
      'invalid_field',
      `${param} has ${list.length} ${what}; at most ${MAX_LIST_ITEMS} are accepted`,
      { param },
    );
  }
}

const TOKEN_FIELDS = ['max_tokens', 'max_completion_tokens'] as const;

/** The body must be a JSON object; anything else (array, string, null) is refused. */
export function requireJsonObject(body: unknown): JsonObject {
  if (!isJsonObject(body)) {
    throw new ApiError('invalid_field', 'The request body must be a JSON object', { param: null });
  }
  return body;
}

/**
 * Resolves `model` to a catalog entry the caller may use.
 * - absent → 400 `missing_field`; not a string → 400 `invalid_field`;
 * - not in the catalog → 400 `model_not_in_allowlist`;
 * - in the catalog but outside the key's `allowed_models` → 403 `model_access_denied`.
 */
export function resolveModel(
  catalog: ModelLookup,
  model: unknown,
  allowedModels: readonly string[] | null,
): CatalogModel {
  if (model === undefined || model === null || model === '') {
    throw new ApiError('missing_field', 'model is required', { param: 'model' });
  }
  if (typeof model !== 'string') {
    throw new ApiError('invalid_field', 'model must be a string', { param: 'model' });
  }
  const entry = catalog.get(model);
  if (!entry) {
    throw new ApiError(
      'model_not_in_allowlist',
      `Model "${model.slice(0, 200)}" is not served here; GET /v1/models lists the models`,
      { param: 'model' },
    );
  }
  if (allowedModels !== null && !allowedModels.includes(model)) {
    throw new ApiError('model_access_denied', `This API key may not use model "${model}"`, {
      param: 'model',
    });
  }
  return entry;
}

/**
 * Applies the model's `max_tokens` bounds to `max_tokens` and `max_completion_tokens`
 * (whichever are present), in place. Below `min_max_tokens` → raised
 * (`max_tokens_floored=<N>`); above `max_output_tokens` → lowered (`max_tokens_capped=<N>`).
 * When the floor itself is above `max_output_tokens`, no value can be served → 400
 * `max_tokens_below_minimum`. Returns the notes for `x-parley-applied`.
 */
export function applyTokenBounds(body: JsonObject, c: ModelConstraints): string[] {
  const notes: string[] = [];
  for (const field of TOKEN_FIELDS) {
    const value = body[field];
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new ApiError('invalid_field', `${field} must be a positive integer`, { param: field });
    }
    if (value < c.minMaxTokens) {
      if (c.minMaxTokens > c.maxOutputTokens) {
        throw new ApiError(
          'max_tokens_below_minimum',
          `${field} is below this model's minimum of ${c.minMaxTokens}, which is above its maximum output of ${c.maxOutputTokens}`,
          { param: field },
        );
      }
      body[field] = c.minMaxTokens;
      pushOnce(notes, `max_tokens_floored=${c.minMaxTokens}`);
    } else if (value > c.maxOutputTokens) {
      body[field] = c.maxOutputTokens;
      pushOnce(notes, `max_tokens_capped=${c.maxOutputTokens}`);
    }
  }
  return notes;
}

function pushOnce(list: string[], note: string): void {
  if (!list.includes(note)) {
    list.push(note);
  }
}

/**
 * Checks `stream` and `stream_options` types; returns whether the request streams and whether
 * the client itself asked for the usage chunk.
 */
export function readStreamFlags(body: JsonObject): { stream: boolean; clientWantsUsage: boolean } {
  const stream = body.stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw new ApiError('invalid_field', 'stream must be a boolean', { param: 'stream' });
  }
  const options = body.stream_options;
  if (options !== undefined && options !== null && !isJsonObject(options)) {
    throw new ApiError('invalid_field', 'stream_options must be an object', {
      param: 'stream_options',
    });
  }
  return { stream: stream === true, clientWantsUsage: options?.include_usage === true };
}

/**
 * Walks `messages`: an array of objects with a known `role` and a `content` that is a string,
 * an array of typed parts, or null. Media parts are checked against the model: images
 * (`data:` decoded and sniffed, http(s) URLs only when `accepts_image_url`), and URLs in
 * `audio_url`, `video_url` and `file` parts refused (the model server would fetch them).
 *
 * Images to a model with `accepts_images: false` → 400 `invalid_field` at the part: the part
 * itself is what the model cannot take, whatever its URL.
 */
export function checkMessages(messages: unknown, c: ModelConstraints, alias: string): void {
  if (messages === undefined || messages === null) {
    throw new ApiError('missing_field', 'messages is required', { param: 'messages' });
  }
  if (!Array.isArray(messages)) {
    throw new ApiError('invalid_field', 'messages must be an array of messages', {
      param: 'messages',
    });
  }
  if (messages.length === 0) {
    throw new ApiError('invalid_field', 'messages must contain at least one message', {
      param: 'messages',
    });
  }
  assertListSize(messages, 'messages', 'messages');
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    const at = `messages[${i}]`;
    if (!isJsonObject(message)) {
      throw new ApiError('invalid_field', `${at} must be an object`, { param: at });
    }
    const role = message.role;
    if (role === undefined || role === null) {
      throw new ApiError('missing_field', `${at}.role is required`, { param: `${at}.role` });
    }
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw new ApiError(
        'invalid_field',
        `${at}.role must be one of system, developer, user, assistant, tool`,
        { param: `${at}.role` },
      );
    }
    const content = message.content;
    if (typeof content === 'string') {
      continue;
    }
    if (content === undefined || content === null) {
      if (role === 'assistant' || role === 'function') {
        continue;
      }
      throw new ApiError('missing_field', `${at}.content is required`, {
        param: `${at}.content`,
      });
    }
    if (!Array.isArray(content)) {
      throw new ApiError(
        'invalid_field',
        `${at}.content must be a string or an array of content parts`,
        { param: `${at}.content` },
      );
    }
    assertListSize(content, `${at}.content`, 'content parts');
    for (let j = 0; j < content.length; j++) {
      checkPart(content[j], `${at}.content[${j}]`, c, alias);
    }
  }
}

function checkPart(part: unknown, at: string, c: ModelConstraints, alias: string): void {
  if (!isJsonObject(part)) {
    throw new ApiError('invalid_field', `${at} must be an object with a type`, { param: at });
  }
  const type = part.type;
  if (typeof type !== 'string') {
    throw new ApiError(
      type === undefined ? 'missing_field' : 'invalid_field',
      `${at}.type must be a string`,
      { param: `${at}.type` },
    );
  }
  switch (type) {
    case 'image_url': {
      if (!c.acceptsImages) {
        throw new ApiError('invalid_field', `Model "${alias}" does not accept images`, {
          param: at,
        });
      }
      const holder = part.image_url;
      const isNested = isJsonObject(holder);
      const url = isNested ? holder.url : holder;
      checkImageUrl(url, isNested ? `${at}.image_url.url` : `${at}.image_url`, c, alias);
      return;
    }
    case 'audio_url':
    case 'video_url': {
      const holder = part[type];
      const isNested = isJsonObject(holder);
      const url = isNested ? holder.url : holder;
      const param = isNested ? `${at}.${type}.url` : `${at}.${type}`;
      if (typeof url !== 'string' || url === '') {
        throw new ApiError(
          url === undefined ? 'missing_field' : 'invalid_field',
          `${param} must be a data: URI`,
          {
            param,
          },
        );
      }
      if (!isDataUri(url)) {
        throw mediaUrlRefused(param);
      }
      return;
    }
    case 'file': {
      const file = part.file;
      if (!isJsonObject(file)) {
        return;
      }
      for (const key of ['file_data', 'file_url', 'url']) {
        const value = file[key];
        if (typeof value === 'string' && looksLikeUrl(value)) {
          throw mediaUrlRefused(`${at}.file.${key}`);
        }
      }
      return;
    }
    default:
      return;
  }
}

function checkImageUrl(url: unknown, param: string, c: ModelConstraints, alias: string): void {
  if (url === undefined || url === null) {
    throw new ApiError('missing_field', `${param} is required`, { param });
  }
  if (typeof url !== 'string' || url === '') {
    throw new ApiError('invalid_field', `${param} must be a data: URI or an http(s) URL`, {
      param,
    });
  }
  if (isDataUri(url)) {
    checkDataImage(url, param);
    return;
  }
  if (c.acceptsImageUrl && isPlainHttpUrl(url)) {
    return;
  }
  throw new ApiError(
    'image_url_not_supported',
    c.acceptsImageUrl
      ? `${param}: only plain http(s) URLs or data: URIs are accepted`
      : `Model "${alias}" does not accept image URLs; inline the image as a data: URI (base64)`,
    { param },
  );
}

function mediaUrlRefused(param: string): ApiError {
  return new ApiError(
    'media_url_not_supported',
    `${param}: media must be inline (a data: URI), not a URL the model server would fetch`,
    { param },
  );
}

/** `input` is required for embeddings: a string, or an array of strings or token arrays. */
export function checkEmbeddingsInput(input: unknown): void {
  if (input === undefined || input === null) {
    throw new ApiError('missing_field', 'input is required', { param: 'input' });
  }
  if (typeof input === 'string') {
    return;
  }
  if (!Array.isArray(input) || input.length === 0) {
    throw new ApiError(
      'invalid_field',
      'input must be a string or a non-empty array of strings or token arrays',
      { param: 'input' },
    );
  }
  assertListSize(input, 'input', 'inputs');
}
