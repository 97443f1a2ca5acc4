/** Every header name Parley reads or writes, lower-case, in one place. */
export const HEADER = {
  requestId: 'x-request-id',
  authorization: 'authorization',
  apiKey: 'x-api-key',
  userId: 'x-user-id',
  conversationId: 'x-conversation-id',
  idempotencyKey: 'idempotency-key',
  onDisconnect: 'x-on-disconnect',
  applied: 'x-parley-applied',
  retryAfter: 'retry-after',
  rateLimitLimit: 'x-ratelimit-limit',
  rateLimitRemaining: 'x-ratelimit-remaining',
  rateLimitReset: 'x-ratelimit-reset',
  lastEventId: 'last-event-id',
  anthropicVersion: 'anthropic-version',
  anthropicBeta: 'anthropic-beta',
} as const;
