/**
 * The single source of every error Parley can return. `ApiError` only accepts a key of this
 * object, so a code that is not here does not compile. Codes are never renamed or reused:
 * add a new one instead. Bump `ERROR_CATALOG_VERSION` whenever an entry is added.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_denied'
  | 'not_found'
  | 'rate_limit_exceeded'
  | 'upstream_error'
  | 'internal_error';

export interface CatalogEntry {
  type: ErrorType;
  status: number;
  title: string;
  description: string;
  remediation: string;
  typicalParam: string | null;
}

export const ERROR_CATALOG_VERSION = '3';

export const ERROR_CATALOG = {
  body_too_large: {
    type: 'invalid_request_error',
    status: 413,
    title: 'Request body too large',
    description: 'The request body is larger than the gateway accepts (MAX_BODY_BYTES).',
    remediation: 'Send a smaller body: shorten the history or downscale inline images.',
    typicalParam: null,
  },
  console_role_forbidden: {
    type: 'permission_denied',
    status: 403,
    title: 'Read-only console user',
    description: 'Console users with role viewer may read but not change anything.',
    remediation: 'Ask an admin, or sign in as an admin.',
    typicalParam: null,
  },
  context_length_exceeded: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Input does not fit the context window',
    description:
      "The input (with the stored history it continues) and max_output_tokens exceed the model's context window, and truncation is disabled.",
    remediation:
      'Shorten the input, lower max_output_tokens, or send truncation: "auto" to leave out the oldest items.',
    typicalParam: 'input',
  },
  conversation_busy: {
    type: 'invalid_request_error',
    status: 409,
    title: 'Conversation busy',
    description: 'Another turn of this conversation is still being generated.',
    remediation: 'Wait for the running turn to finish, then send yours again.',
    typicalParam: null,
  },
  conversation_conflict: {
    type: 'invalid_request_error',
    status: 409,
    title: 'Conversation moved on',
    description:
      'expected_last_message_id does not match the last message of the conversation (another client added a turn), or a resent history contradicts the stored one (param names the first differing message).',
    remediation: 'Reload the conversation, then decide whether to send the turn again.',
    typicalParam: 'expected_last_message_id',
  },
  conversation_not_found: {
    type: 'not_found',
    status: 404,
    title: 'Conversation not found',
    description: 'No conversation with this id belongs to the calling user.',
    remediation: 'List conversations to find a valid id, or omit the id to start a new one.',
    typicalParam: 'conversation_id',
  },
  csrf_failed: {
    type: 'permission_denied',
    status: 403,
    title: 'CSRF token missing or wrong',
    description:
      "A mutating request made with a console session must carry the session's CSRF token in x-csrf-token.",
    remediation: 'Read csrf_token from GET /api/me and send it as x-csrf-token.',
    typicalParam: null,
  },
  image_decode_error: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Image could not be decoded',
    description:
      'An inline image (data: URI) is not valid base64, has an unsupported MIME type, or its bytes do not match the declared type.',
    remediation: 'Send image/jpeg, image/png, image/webp or image/gif as standard base64.',
    typicalParam: 'messages[0].content[1].image_url.url',
  },
  image_url_not_supported: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Image URLs not supported',
    description:
      'The model does not accept image URLs, and the gateway never fetches a URL a client gave it.',
    remediation: 'Inline the image as a data: URI (base64).',
    typicalParam: 'messages[0].content[1].image_url.url',
  },
  insufficient_quota: {
    type: 'rate_limit_exceeded',
    status: 429,
    title: 'Token quota used up',
    description: 'The API key has used all the tokens its quota allows for the current period.',
    remediation: 'Wait for the next period or ask the operator to raise the quota.',
    typicalParam: null,
  },
  internal_error: {
    type: 'internal_error',
    status: 500,
    title: 'Internal error',
    description: 'The gateway failed unexpectedly. Details are in its log under the request id.',
    remediation: 'Retry; if it persists, report the x-request-id to the operator.',
    typicalParam: null,
  },
  invalid_authorization: {
    type: 'authentication_error',
    status: 401,
    title: 'Invalid credentials',
    description: 'The API key is unknown, revoked or inactive, or the header is malformed.',
    remediation: 'Send a valid key as "Authorization: Bearer <key>" or "x-api-key: <key>".',
    typicalParam: null,
  },
  invalid_credentials: {
    type: 'authentication_error',
    status: 401,
    title: 'Wrong username or password',
    description: 'The console username and password do not match an active user.',
    remediation: 'Check the username and password; an operator can reset it with npm run users.',
    typicalParam: null,
  },
  invalid_field: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Invalid field',
    description: 'A field has the wrong type, format or value.',
    remediation: 'Correct the field named in param; the message says what is expected.',
    typicalParam: 'messages[0].content',
  },
  invalid_json: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Invalid JSON',
    description:
      'The body is not valid JSON, is not sent as application/json, or contains forbidden keys such as __proto__.',
    remediation: 'Send a JSON object with Content-Type: application/json.',
    typicalParam: null,
  },
  invalid_path: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Invalid path',
    description:
      'The path contains a ".." segment (raw or percent-encoded), an invalid percent-escape, or a path parameter over 200 characters.',
    remediation: 'Use the canonical path of the endpoint.',
    typicalParam: null,
  },
  key_already_exists: {
    type: 'invalid_request_error',
    status: 409,
    title: 'Key already exists',
    description: 'An API key with this value is already stored.',
    remediation: 'Omit key to have one generated, or choose another value.',
    typicalParam: 'key',
  },
  key_not_found: {
    type: 'not_found',
    status: 404,
    title: 'Key not found',
    description: 'No API key has this id.',
    remediation: 'List keys to find a valid id.',
    typicalParam: null,
  },
  max_tokens_below_minimum: {
    type: 'invalid_request_error',
    status: 400,
    title: 'max_tokens cannot be satisfied',
    description:
      "The model's minimum max_tokens is above its maximum output, so no value can be served.",
    remediation: 'Choose another model or ask the operator to fix its constraints.',
    typicalParam: 'max_tokens',
  },
  media_url_not_supported: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Media URLs not supported',
    description:
      'audio_url, video_url and file parts must carry their data inline: the model server would fetch a URL (server-side request forgery).',
    remediation: 'Inline the media as a data: URI (base64).',
    typicalParam: 'messages[0].content[1].audio_url.url',
  },
  missing_authorization: {
    type: 'authentication_error',
    status: 401,
    title: 'Missing credentials',
    description: 'The request carries neither an Authorization header nor an x-api-key header.',
    remediation: 'Send "Authorization: Bearer <key>" or "x-api-key: <key>".',
    typicalParam: null,
  },
  missing_field: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Missing field',
    description: 'A required field is absent, or an update names no field.',
    remediation: 'Add the field named in param.',
    typicalParam: 'messages',
  },
  model_access_denied: {
    type: 'permission_denied',
    status: 403,
    title: 'Model not allowed for this key',
    description: "The model is served here, but not to this API key's allowed-model list.",
    remediation: 'Use a model the key allows, or ask the operator to extend its list.',
    typicalParam: 'model',
  },
  model_not_found: {
    type: 'not_found',
    status: 404,
    title: 'Model not found',
    description:
      'GET /v1/models/{id}: no model with this id is served to the calling key (not in the catalog, or outside its allowed models).',
    remediation: 'GET /v1/models lists the models this key may use.',
    typicalParam: 'model',
  },
  model_not_in_allowlist: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Unknown model',
    description: "The model is not in the gateway's catalog.",
    remediation: 'GET /v1/models lists the models served here.',
    typicalParam: 'model',
  },
  no_active_turn: {
    type: 'not_found',
    status: 404,
    title: 'No turn is generating',
    description:
      'The conversation exists but no turn of it is being generated, so there is no stream to attach to.',
    remediation: 'Read the conversation with GET /c1/conversations/{id} instead.',
    typicalParam: null,
  },
  node_role_required: {
    type: 'permission_denied',
    status: 403,
    title: 'Node key required',
    description: 'Only API keys with role node may report GPU statistics.',
    remediation: "Create a key with role node for the GPU node's agent.",
    typicalParam: null,
  },
  previous_response_not_found: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Previous response not found',
    description:
      "previous_response_id names no stored response of the calling user (unknown, created with store: false, deleted, or another user's).",
    remediation:
      'Send the id of a stored response of yours, or omit previous_response_id and send the history in input.',
    typicalParam: 'previous_response_id',
  },
  prompt_blocked: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Prompt blocked by policy',
    description:
      "The input matches a rule of the operator's content policy (POLICY_FILE); nothing was stored or forwarded.",
    remediation: 'Rephrase the request.',
    typicalParam: 'messages[0].content',
  },
  rate_limit_exceeded: {
    type: 'rate_limit_exceeded',
    status: 429,
    title: 'Rate limit exceeded',
    description: "The key's token bucket (or the client address's failed-login budget) is empty.",
    remediation: 'Wait for the number of seconds in retry-after, then retry.',
    typicalParam: null,
  },
  response_not_found: {
    type: 'not_found',
    status: 404,
    title: 'Response not found',
    description: 'No stored response with this id belongs to the calling user.',
    remediation: 'Check the id; responses created with store: false are never stored.',
    typicalParam: 'response_id',
  },
  route_not_found: {
    type: 'not_found',
    status: 404,
    title: 'Route not found',
    description: 'No endpoint answers this method and path.',
    remediation: 'Check the path and method against /openapi.json.',
    typicalParam: null,
  },
  sensitive_words_detected: {
    type: 'invalid_request_error',
    status: 400,
    title: 'Answer blocked by policy',
    description:
      "The model's answer matches an output rule of the operator's content policy; the turn is stored as failed.",
    remediation: 'Rephrase the request; the blocked answer is not shown.',
    typicalParam: null,
  },
  server_overloaded: {
    type: 'upstream_error',
    status: 503,
    title: 'Gateway overloaded',
    description:
      'The gateway is at its cap of requests in flight (MAX_IN_FLIGHT), or shutting down.',
    remediation: 'Retry after the number of seconds in retry-after.',
    typicalParam: null,
  },
  storage_error: {
    type: 'internal_error',
    status: 500,
    title: 'Storage error',
    description: 'The database could not store or read the data; nothing was acknowledged.',
    remediation: 'Retry; the turn was not stored. Report persistent failures to the operator.',
    typicalParam: null,
  },
  upstream_error: {
    type: 'upstream_error',
    status: 502,
    title: 'Upstream error',
    description:
      'The model server answered with an error or an unreadable answer; its message is inlined.',
    remediation: 'Read the inlined message; fix the request if it is at fault, else retry.',
    typicalParam: null,
  },
  upstream_timeout: {
    type: 'upstream_error',
    status: 504,
    title: 'Upstream timeout',
    description: 'The model server did not answer (or stopped answering) within the timeouts.',
    remediation: 'Retry later, or ask for fewer tokens.',
    typicalParam: null,
  },
  upstream_unavailable: {
    type: 'upstream_error',
    status: 503,
    title: 'Upstream unavailable',
    description: 'No model server for this model accepted a connection, even after a retry.',
    remediation: 'Retry after the number of seconds in retry-after.',
    typicalParam: null,
  },
  user_override_forbidden: {
    type: 'permission_denied',
    status: 403,
    title: 'x-user-id not allowed',
    description: 'Only keys with role "service" may act for an end user through x-user-id.',
    remediation: 'Drop the x-user-id header, or use a service key.',
    typicalParam: null,
  },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];
