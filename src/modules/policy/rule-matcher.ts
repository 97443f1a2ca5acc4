import { RE2JS } from 're2js';
import { PolicyRule } from 'src/modules/policy/policy.schema';

/** Scripts written without spaces: their words match anywhere, "whole word" has no meaning. */
const UNSPACED =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const WORDS = /[\p{L}\p{N}_]+/gu;
const NON_WORDS = /[^\p{L}\p{N}_]+/u;
const NON_WORDS_AT_END = /[^\p{L}\p{N}_]$/u;

/** A rule word as the words it is made of, lower-cased: `Nerve-Agent` → `nerve agent`. */
export function wordKey(word: string): string {
  return (word.toLowerCase().match(WORDS) ?? []).join(' ');
}

/**
 * Rule words of spaced scripts, looked up by the words of the text: one regex split and a
 * hash lookup per word (and per run of up to `longest` words, for phrases), whatever the
 * number of rules. Whole words by construction; case-insensitive.
 */
class WordIndex {
  private readonly keys = new Map<string, number>();
  private longest = 1;

  add(word: string, rule: number): void {
    const key = wordKey(word);
    if (key !== '' && !this.keys.has(key)) {
      this.keys.set(key, rule);
      this.longest = Math.max(this.longest, key.split(' ').length);
    }
  }

  get size(): number {
    return this.keys.size;
  }

  find(lower: string, isFinal: boolean): number {
    const words = lower.split(NON_WORDS);
    // With unfinished text, a last word that reaches the end may be the start of a longer one.
    const last = isFinal || NON_WORDS_AT_END.test(lower) ? words.length : words.length - 1;
    for (let i = 0; i < last; i++) {
      let key = words[i];
      if (key === '') {
        continue;
      }
      for (let n = 0; n < this.longest && i + n < last; n++) {
        key = n === 0 ? key : `${key} ${words[i + n]}`;
        const rule = this.keys.get(key);
        if (rule !== undefined) {
          return rule;
        }
      }
    }
    return -1;
  }
}

interface WordEnd {
  length: number;
  rule: number;
}

/**
 * Rule words of unspaced scripts (Chinese, Japanese…), which match anywhere in the text, in
 * one Aho-Corasick automaton: one pass over the (lower-cased) text finds any of them, in time
 * linear in the text whatever their number.
 */
class WordAutomaton {
  private readonly next: Map<string, number>[] = [new Map<string, number>()];
  private readonly fail: number[] = [0];
  private readonly ends: WordEnd[][] = [[]];

  constructor(words: { word: string; rule: number }[]) {
    for (const { word, rule } of words) {
      let node = 0;
      for (const c of word) {
        let child = this.next[node].get(c);
        if (child === undefined) {
          child = this.next.length;
          this.next.push(new Map<string, number>());
          this.fail.push(0);
          this.ends.push([]);
          this.next[node].set(c, child);
        }
        node = child;
      }
      this.ends[node].push({ length: word.length, rule });
    }
    const queue: number[] = [...this.next[0].values()];
    for (let head = 0; head < queue.length; head++) {
      const node = queue[head];
      for (const [c, child] of this.next[node]) {
        let f = this.fail[node];
        while (f !== 0 && !this.next[f].has(c)) {
          f = this.fail[f];
        }
        const target = this.next[f].get(c);
        this.fail[child] = target !== undefined && target !== child ? target : 0;
        this.ends[child] = [...this.ends[child], ...this.ends[this.fail[child]]];
        queue.push(child);
      }
    }
  }

  /** The rule of the first hit, or -1. */
  find(text: string): number {
    let node = 0;
    for (const c of text) {
      while (node !== 0 && !this.next[node].has(c)) {
        node = this.fail[node];
      }
      node = this.next[node].get(c) ?? 0;
      if (this.ends[node].length > 0) {
        return this.ends[node][0].rule;
      }
    }
    return -1;
  }
}

/**
 * One scope's rules for one model, compiled once: words into an Aho-Corasick automaton and
 * patterns into a single RE2 alternation (linear time: an operator's `(a+)+$` cannot stall
 * the event loop the way a backtracking engine would).
 */
export class RuleMatcher {
  private readonly words: WordIndex | null;
  private readonly unspacedWords: WordAutomaton | null;
  private readonly patterns: RE2JS | null;

  constructor(private readonly rules: PolicyRule[]) {
    const words = rules.flatMap((r, rule) => r.words.map((word) => ({ word, rule })));
    const index = new WordIndex();
    words.filter((w) => !UNSPACED.test(w.word)).forEach((w) => index.add(w.word, w.rule));
    this.words = index.size ? index : null;
    const unspaced = words.filter((w) => UNSPACED.test(w.word));
    this.unspacedWords = unspaced.length ? new WordAutomaton(unspaced) : null;
    const patterns = rules.flatMap((r) => r.patterns.map((p) => `(?:${p})`));
    this.patterns = patterns.length ? RE2JS.compile(patterns.join('|')) : null;
  }

  get isEmpty(): boolean {
    return this.words === null && this.unspacedWords === null && this.patterns === null;
  }

  /**
   * The first rule `text` breaks, or null. With `isFinal` false (a stream still running), a
   * hit that reaches the end of the text is not reported yet: the next characters may make a
   * word part of a longer one, or extend what a pattern matches; the caller scans that tail
   * again with what follows.
   */
  find(text: string, isFinal = true): PolicyRule | null {
    if (this.words || this.unspacedWords) {
      const lower = text.toLowerCase();
      const rule = Math.max(
        this.words?.find(lower, isFinal) ?? -1,
        this.unspacedWords?.find(lower) ?? -1,
      );
      if (rule >= 0) {
        return this.rules[rule];
      }
    }
    // `test` runs RE2's fast no-captures search; positions are only needed on a hit.
    if (this.patterns?.test(text)) {
      const matcher = this.patterns.matcher(text);
      while (matcher.find()) {
        if (isFinal || matcher.end() < text.length) {
          const hit = text.slice(matcher.start(), matcher.end());
          return (
            this.rules.find((r) => r.patterns.some((p) => RE2JS.compile(p).matcher(hit).find())) ??
            this.rules[0]
          );
        }
      }
    }
    return null;
  }
}
