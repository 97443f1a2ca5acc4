/** Every header name Parley reads or writes, lower-case, in one place. */
export const HEADER = {
  requestId: 'x-request-id',
  authorization: 'authorization',
  apiKey: 'x-api-key',
  userId: 'x-user-id',
  conversationId: 'x-conversation-id',
  idempotencyKey: 'idempotency-key',
  idempotentReplayed: 'idempotent-replayed',
  onDisconnect: 'x-on-disconnect',
  applied: 'x-parley-applied',
  retryAfter: 'retry-after',
  rateLimitLimit: 'x-ratelimit-limit',
  rateLimitRemaining: 'x-ratelimit-remaining',
  rateLimitReset: 'x-ratelimit-reset',
  /** `false` tells the OpenAI and Anthropic SDKs not to retry (a used-up quota). */
  shouldRetry: 'x-should-retry',
  lastEventId: 'last-event-id',
  anthropicVersion: 'anthropic-version',
  wwwAuthenticate: 'www-authenticate',
  anthropicBeta: 'anthropic-beta',
  csrfToken: 'x-csrf-token',
} as const;

/** The challenge every 401 carries (RFC 7235 §3.1): API keys, the admin and metrics tokens. */
export const BEARER_CHALLENGE = { [HEADER.wwwAuthenticate]: 'Bearer realm="parley"' };

/** The content type of every JSON answer the gateway writes itself. */
export const JSON_TYPE = 'application/json; charset=utf-8';
