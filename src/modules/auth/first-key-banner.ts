/** What the first-start banner shows. */
export interface FirstKeyBannerInput {
  key: string;
  keyId: string;
  userId: string;
  host: string;
  port: number;
  /** A model to try (the catalog's first alias). */
  model: string;
  rateLimit: { perSecond: number; burst: number };
}

/** A wildcard listen address is reached on loopback; an IPv6 literal needs brackets. */
export function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '') {
    return '127.0.0.1';
  }
  if (host === '::') {
    return '[::1]';
  }
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The first API key in a frame, with a curl line that works as pasted and the rate limit a new
 * user meets first (at the default 1/s, burst 30, an agent loop gets 429 within seconds), so
 * that the one line a first start must show does not drown among the log lines.
 */
export function firstKeyBanner(input: FirstKeyBannerInput): string {
  const base = `http://${clientHost(input.host)}:${input.port}`;
  const body = JSON.stringify({
    model: input.model,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  const { perSecond, burst } = input.rateLimit;
  const lines = [
    `Parley created the first API key, for user "${input.userId}".`,
    'Store it now: it is shown only this once.',
    '',
    `  API key: ${input.key}`,
    '',
    'Try it:',
    `  curl ${base}/v1/chat/completions \\`,
    `    -H "Authorization: Bearer ${input.key}" \\`,
    `    -H "content-type: application/json" \\`,
    `    -d '${body}'`,
    '',
    `Rate limit per key: ${perSecond}/s, burst ${burst} (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST).`,
    'An agent loop spends the burst within seconds, then gets 429. Raise it for this key:',
    `  curl -X PATCH ${base}/api/keys/${input.keyId} \\`,
    '    -H "Authorization: Bearer $ADMIN_TOKEN" -H "content-type: application/json" \\',
    `    -d '{"rate_limit": {"per_second": 20, "burst": 200}}'`,
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const rule = '─'.repeat(width + 2);
  return [`┌${rule}┐`, ...lines.map((l) => `│ ${l.padEnd(width)} │`), `└${rule}┘`].join('\n');
}
