/**
 * Turns what a user typed into search terms, and those terms into the database's query
 * language, so that nothing the user types is ever read as query syntax: FTS5's `"`, `*`,
 * `NEAR`, `OR`, `:`, `^` and PostgreSQL's tsquery operators are all plain text here.
 */
export const SEARCH_QUERY_MAX_LENGTH = 256;
export const SEARCH_TERMS_MAX = 16;

/**
 * Scripts written without spaces between words: a word index cannot find "東京" inside
 * "東京タワーに行った", so such queries match substrings instead (see docs/notes/history.md).
 */
const UNSPACED_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

const HAS_WORD_CHARACTER = /[\p{L}\p{N}]/u;

export interface SearchTerms {
  /** Distinct, NFKC-normalised, in the order typed. */
  terms: string[];
  /** Match each term as a substring (unspaced scripts) rather than as a stemmed word. */
  isSubstring: boolean;
}

/** The terms of `q`, or null when it holds nothing searchable (only spaces or punctuation). */
export function parseSearchQuery(q: string): SearchTerms | null {
  const normalised = q.normalize('NFKC');
  const isSubstring = UNSPACED_SCRIPT.test(normalised);
  const seen = new Set<string>();
  for (const raw of normalised.split(/\s+/u)) {
    const term = raw.trim();
    if (term === '' || !HAS_WORD_CHARACTER.test(term) || seen.has(term.toLowerCase())) {
      continue;
    }
    seen.add(term.toLowerCase());
    if (seen.size > SEARCH_TERMS_MAX) {
      break;
    }
  }
  const terms = [...seen].slice(0, SEARCH_TERMS_MAX);
  return terms.length === 0 ? null : { terms, isSubstring };
}

/** An FTS5 string literal: the whole text in double quotes, inner quotes doubled. */
export function fts5Phrase(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/**
 * The owner token indexed beside each message in the words index (`'U' || hex(user_id) || 'U'`
 * in SQLite): hex has no separators, so it is exactly one unicode61 word per user, whatever
 * characters the user id holds.
 */
export function ownerToken(userId: string): string {
  return `U${Buffer.from(userId, 'utf8').toString('hex').toUpperCase()}U`;
}

/** The trigram tokenizer only indexes runs of three characters or more. */
export function isTrigramSearchable(term: string): boolean {
  return [...term].length >= 3;
}

/** A LIKE pattern matching `term` anywhere, with `\` escaping LIKE's own wildcards. */
export function likeContains(term: string): string {
  return `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
