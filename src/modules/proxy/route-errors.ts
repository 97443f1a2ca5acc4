import { ErrorCode } from 'src/common/errors/error-catalog';

/**
 * The error codes the proxy routes share, for `@ApiErrors` (one list, so the routes of one
 * engine cannot drift apart in the OpenAPI document).
 */

/** A model call that reached no answer: `UpstreamClient` (every route that forwards). */
export const UPSTREAM_ERRORS: ErrorCode[] = [
  'upstream_error',
  'upstream_unavailable',
  'upstream_timeout',
];

/** A body naming a model: checked against the catalog and the key's allowed models. */
export const MODEL_REQUEST_ERRORS: ErrorCode[] = [
  'missing_field',
  'invalid_field',
  'model_not_in_allowlist',
  'model_access_denied',
];

/** A chat request (`ChatCompletionsService.prepare`: /v1 and /c1, both formats). */
export const CHAT_REQUEST_ERRORS: ErrorCode[] = [
  ...MODEL_REQUEST_ERRORS,
  'max_tokens_below_minimum',
  'image_url_not_supported',
  'image_decode_error',
  'media_url_not_supported',
];
