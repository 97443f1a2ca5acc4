import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefix of generated keys: recognisable in a config file or a leaked paste. */
export const GENERATED_KEY_PREFIX = 'pk-';

/**
 * The longest credential the guard hashes. Longer values are refused without hashing (a
 * 20 KB header costs nothing); stored keys are at most this long too.
 */
export const MAX_KEY_LENGTH = 256;
export const MIN_KEY_LENGTH = 16;

/** Visible ASCII, no spaces: what can travel in a header unchanged. */
export const KEY_PATTERN = /^[\x21-\x7e]+$/;

/** A new random key: 256 bits of entropy, base64url. */
export function generateApiKey(): string {
  return GENERATED_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * SHA-256 (hex) of a key: what is stored, cached and used as the rate-limit bucket id.
 * `crypto.hash` (Node >= 20.12) is the one-shot form: no Hash object per request.
 */
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** Compares two SHA-256 hex digests in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}
