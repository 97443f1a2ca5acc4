import { KEY_PATTERN, MAX_KEY_LENGTH, MIN_KEY_LENGTH } from 'src/modules/auth/key-material';

export type Credentials =
  | { kind: 'missing' }
  /** Something was sent, but it cannot be a key: the answer is the same as for a wrong key. */
  | { kind: 'malformed' }
  | { kind: 'key'; key: string };

type HeaderValue = string | string[] | undefined;

/**
 * `Authorization: Bearer <token>`: the scheme is case-insensitive and may be followed by
 * several spaces (RFC 7235 §2.1, RFC 6750 §2.1), the token is visible ASCII with no spaces.
 */
const BEARER = /^bearer +([^ ]+)$/i;

const MISSING: Credentials = { kind: 'missing' };
const MALFORMED: Credentials = { kind: 'malformed' };

/**
 * Reads the presented key from `Authorization: Bearer <key>` and/or `x-api-key: <key>`.
 *
 * - Neither header (or only empty ones) → missing.
 * - A header that is present must be well formed: a non-Bearer scheme (`Basic …`), a token
 *   with spaces or control characters, shorter than any key can be, or longer than
 *   `MAX_KEY_LENGTH` → malformed (without hashing it).
 * - Both headers present: they must carry the same key. Neither wins, because a request that
 *   names two different keys is ambiguous about whose quota and conversations it uses.
 */
export function readCredentials(authorization: HeaderValue, apiKey: HeaderValue): Credentials {
  const fromAuthorization = readAuthorization(authorization);
  const fromApiKey = readApiKey(apiKey);
  if (fromAuthorization === MISSING) {
    return fromApiKey;
  }
  if (fromApiKey === MISSING) {
    return fromAuthorization;
  }
  if (fromAuthorization.kind === 'key' && fromApiKey.kind === 'key') {
    return fromAuthorization.key === fromApiKey.key ? fromAuthorization : MALFORMED;
  }
  return MALFORMED;
}

function readAuthorization(value: HeaderValue): Credentials {
  if (value === undefined || value === '') {
    return MISSING;
  }
  if (typeof value !== 'string' || value.length > MAX_KEY_LENGTH + 64) {
    return MALFORMED;
  }
  const match = BEARER.exec(value);
  return match ? asKey(match[1]) : MALFORMED;
}

function readApiKey(value: HeaderValue): Credentials {
  if (value === undefined || value === '') {
    return MISSING;
  }
  return typeof value === 'string' ? asKey(value) : MALFORMED;
}

function asKey(token: string): Credentials {
  if (token.length < MIN_KEY_LENGTH || token.length > MAX_KEY_LENGTH || !KEY_PATTERN.test(token)) {
    return MALFORMED;
  }
  return { kind: 'key', key: token };
}
