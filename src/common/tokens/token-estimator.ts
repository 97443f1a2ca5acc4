import { countTokens } from 'gpt-tokenizer';

/**
 * Token estimates in time linear in the input, whatever it holds (issue #22, item 1).
 *
 * The BPE tokenizer (gpt-tokenizer, o200k_base) splits text into pre-tokens and merges each
 * one in time quadratic in its length: a 300 KB run of `x` is one pre-token and held the event
 * loop for a minute. So:
 * - no run of one character class longer than `MAX_RUN` reaches the tokenizer whole: it is
 *   counted in `MAX_RUN`-character pieces (the merge of a run rarely spans more);
 * - a text up to `EXACT_CHARS` is counted exactly (within those pieces); a longer one from
 *   `SAMPLES` evenly spaced windows, scaled to its length;
 * - one estimator tokenizes at most `budgetChars` characters in all; beyond that, texts are
 *   estimated from their length at the tokens-per-character rate seen so far.
 * The result is an estimate either way: what /c1's history window and abandoned streams' usage
 * need, never a bill.
 */
export const MAX_RUN = 64;
export const EXACT_CHARS = 8 * 1024;
const SAMPLES = 4;
const SAMPLE_CHARS = 1024;
const DEFAULT_BUDGET_CHARS = 64 * 1024;
/** Tokens per UTF-16 unit assumed before anything was counted (English prose is ~0.25). */
const DEFAULT_RATE = 0.3;

const NO_SPECIAL = { disallowedSpecial: new Set<string>() };

const enum CharClass {
  Space,
  Digit,
  Letter,
  Other,
}

function classOf(code: number): CharClass {
  if (code <= 32 || code === 0x85 || code === 0xa0 || (code >= 0x2000 && code <= 0x200b)) {
    return CharClass.Space;
  }
  if (code >= 48 && code <= 57) {
    return CharClass.Digit;
  }
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code >= 0x80) {
    return CharClass.Letter;
  }
  return CharClass.Other;
}

/**
 * `text` cut into pieces with no same-class run longer than `MAX_RUN` (cut inside such runs
 * only), so that BPE work on each piece stays bounded: the pieces of ordinary text are the text.
 */
export function boundedPieces(text: string): string[] {
  const pieces: string[] = [];
  let pieceStart = 0;
  let runClass: CharClass | null = null;
  let runLength = 0;
  for (let i = 0; i < text.length; i++) {
    const cls = classOf(text.charCodeAt(i));
    if (cls === runClass) {
      runLength++;
      if (runLength > MAX_RUN) {
        pieces.push(text.slice(pieceStart, i));
        pieceStart = i;
        runLength = 1;
      }
    } else {
      runClass = cls;
      runLength = 1;
    }
  }
  if (pieceStart < text.length) {
    pieces.push(pieceStart === 0 ? text : text.slice(pieceStart));
  }
  return pieces;
}

/** Exact BPE count of `text`, its long same-class runs counted in `MAX_RUN`-character pieces. */
function countBounded(text: string): number {
  let tokens = 0;
  for (const piece of boundedPieces(text)) {
    tokens += countTokens(piece, NO_SPECIAL);
  }
  return tokens;
}

export class TokenEstimator {
  private tokenizedChars = 0;
  private countedTokens = 0;

  constructor(private readonly budgetChars = DEFAULT_BUDGET_CHARS) {}

  /** Estimated tokens of `text`; 0 for an empty one. */
  count(text: string): number {
    if (!text) {
      return 0;
    }
    const left = this.budgetChars - this.tokenizedChars;
    if (text.length <= EXACT_CHARS && text.length <= left) {
      return this.tally(text.length, countBounded(text));
    }
    if (text.length > SAMPLES * SAMPLE_CHARS && left >= SAMPLES * SAMPLE_CHARS) {
      const step = Math.floor((text.length - SAMPLE_CHARS) / (SAMPLES - 1));
      let sampled = 0;
      for (let s = 0; s < SAMPLES; s++) {
        const at = s * step;
        sampled += countBounded(text.slice(at, at + SAMPLE_CHARS));
      }
      this.tally(SAMPLES * SAMPLE_CHARS, sampled);
      return Math.ceil((sampled / (SAMPLES * SAMPLE_CHARS)) * text.length);
    }
    return Math.ceil(this.rate() * text.length);
  }

  private tally(chars: number, tokens: number): number {
    this.tokenizedChars += chars;
    this.countedTokens += tokens;
    return tokens;
  }

  private rate(): number {
    return this.tokenizedChars > 0 ? this.countedTokens / this.tokenizedChars : DEFAULT_RATE;
  }
}

/** Estimated tokens of one text, with a fresh estimator (see `TokenEstimator`). */
export function estimateTextTokens(text: string): number {
  return new TokenEstimator().count(text);
}
