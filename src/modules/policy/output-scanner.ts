import { ApiError } from 'src/common/errors/api-error';
import { RuleMatcher } from 'src/modules/policy/rule-matcher';

/**
 * How much of what was already scanned is scanned again with each new piece of a stream: a
 * word or pattern match split across chunks is found as long as it spans at most this many
 * characters.
 */
export const STREAM_OVERLAP_CHARS = 512;

export function sensitiveWordsError(rule: string): ApiError {
  return new ApiError(
    'sensitive_words_detected',
    `The answer was blocked by the content policy (rule "${rule}")`,
  );
}

/**
 * Scans a streamed answer as it arrives, per choice: each piece is scanned together with the
 * tail of what came before, so a word split across two chunks ("pass" + "word") is still
 * found, and a word at the very end of a piece waits for the next character.
 */
export class OutputScanner {
  private readonly tails = new Map<number, string>();

  constructor(private readonly matcher: RuleMatcher) {}

  /** Throws `sensitive_words_detected` when the text so far breaks a rule. */
  push(text: string, choice = 0): void {
    if (text === '') {
      return;
    }
    const window = (this.tails.get(choice) ?? '') + text;
    const rule = this.matcher.find(window, false);
    if (rule) {
      throw sensitiveWordsError(rule.name);
    }
    this.tails.set(choice, window.slice(-STREAM_OVERLAP_CHARS));
  }

  /** The stream ended: what waited for more text is decided now. */
  end(): void {
    for (const tail of this.tails.values()) {
      const rule = this.matcher.find(tail, true);
      if (rule) {
        throw sensitiveWordsError(rule.name);
      }
    }
    this.tails.clear();
  }
}
