// With the `u` flag a surrogate pair is one code point, so only unpaired halves match.
// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
const NUL_OR_LONE_SURROGATE = /[\u0000\ud800-\udfff]/u;

/**
 * True when `text` holds a NUL character or a lone UTF-16 surrogate. Neither belongs in text a
 * client sends: a lone surrogate cannot be encoded as UTF-8 (model servers fail on it,
 * PostgreSQL silently replaces it) and PostgreSQL text refuses NUL, so either would break a
 * stored row or the tokenizer upstream.
 */
export function hasNulOrLoneSurrogate(text: string): boolean {
  return NUL_OR_LONE_SURROGATE.test(text);
}
