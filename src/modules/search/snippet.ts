import { MARK_END, MARK_START } from 'src/modules/search/message-search.repository';

const SNIPPET_CONTEXT_CHARS = 60;

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * The snippet as sent: HTML-escaped message text with `<mark>…</mark>` around the hits, so a
 * client may render it as HTML without a stored message ever becoming markup.
 */
export function renderSnippet(marked: string): string {
  return marked
    .replace(/[&<>"']/g, (c) => HTML_ESCAPES[c])
    .replaceAll(MARK_START, '<mark>')
    .replaceAll(MARK_END, '</mark>');
}

/**
 * Cuts a snippet around the first occurrence of any term (case-insensitive) and marks every
 * occurrence inside it; for substring matches, which the database does not highlight.
 */
export function markSubstrings(body: string, terms: string[]): string {
  const lower = body.toLowerCase();
  const needles = terms.map((t) => t.toLowerCase());
  const first = Math.min(
    ...needles.map((n) => lower.indexOf(n)).map((i) => (i < 0 ? Infinity : i)),
  );
  const anchor = Number.isFinite(first) ? first : 0;
  const start = Math.max(0, anchor - SNIPPET_CONTEXT_CHARS);
  const end = Math.min(body.length, anchor + SNIPPET_CONTEXT_CHARS * 2);
  const window = body.slice(start, end);
  const windowLower = window.toLowerCase();
  let out = '';
  let i = 0;
  while (i < window.length) {
    const hit = needles.find((n) => n !== '' && windowLower.startsWith(n, i));
    if (hit) {
      out += MARK_START + window.slice(i, i + hit.length) + MARK_END;
      i += hit.length;
    } else {
      out += window[i];
      i += 1;
    }
  }
  return (start > 0 ? '…' : '') + out + (end < body.length ? '…' : '');
}
