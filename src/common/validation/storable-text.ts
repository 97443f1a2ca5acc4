import { ApiError } from 'src/common/errors/api-error';

// A UTF-16 surrogate without its other half: not a Unicode character, so not UTF-8 encodable.
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `text` cannot be stored as it was sent, or null when it can. The same rule on every
 * database engine, so that a deployment moving from SQLite to PostgreSQL accepts exactly what
 * it accepted before:
 * - NUL (U+0000): PostgreSQL text columns refuse it (a 500 otherwise), and so would `jsonb`;
 * - an unpaired surrogate (`"\ud800"` in JSON): not Unicode text; UTF-8 drivers would store
 *   U+FFFD instead, so the conversation would silently differ from what was sent.
 * The message completes "<field> …".
 */
export function unstorableTextProblem(text: string): string | null {
  if (text.includes('\u0000')) {
    return 'must not contain NUL characters (U+0000)';
  }
  if (UNPAIRED_SURROGATE.test(text)) {
    return 'must be valid Unicode text (it holds an unpaired surrogate)';
  }
  return null;
}

/**
 * Throws 400 `invalid_field` for the first string in a JSON value that cannot be stored,
 * with its path as `param` (`messages[0].content[1].text`). Object keys are checked too.
 */
export function assertStorableText(value: unknown, path: string): void {
  const found = findUnstorableText(value, path);
  if (found) {
    throw new ApiError('invalid_field', `${found.path} ${found.problem}`, { param: found.path });
  }
}

function findUnstorableText(
  value: unknown,
  path: string,
): { path: string; problem: string } | null {
  if (typeof value === 'string') {
    const problem = unstorableTextProblem(value);
    return problem ? { path, problem } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], `${path}[${i}]`);
      if (found) {
        return found;
      }
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const keyProblem = unstorableTextProblem(key);
      if (keyProblem) {
        return { path, problem: `keys ${keyProblem}` };
      }
      const found = findUnstorableText(item, `${path}.${key}`);
      if (found) {
        return found;
      }
    }
  }
  return null;
}
