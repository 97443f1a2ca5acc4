import { RE2JS } from 're2js';
import { PolicyRule } from 'src/modules/policy/policy.schema';

/** Scripts written without spaces: their words match anywhere, "whole word" has no meaning. */
const UNSPACED =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const WORD_CHARACTER = /[\p{L}\p{N}_]/u;

const isWordCharacter = (c: string | undefined) => c !== undefined && WORD_CHARACTER.test(c);

interface WordEnd {
  length: number;
  rule: number;
  isBounded: boolean;
}

/**
 * Every rule's words in one Aho-Corasick automaton: one pass over the (lower-cased) text finds
 * any of thousands of words, in time linear in the text whatever the number of words.
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
      this.ends[node].push({ length: word.length, rule, isBounded: !UNSPACED.test(word) });
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

  /** The rule of the first whole-word hit, or -1. See `RuleMatcher.find` for `isFinal`. */
  find(text: string, isFinal: boolean): number {
    let node = 0;
    let i = 0;
    for (const c of text) {
      i += c.length;
      while (node !== 0 && !this.next[node].has(c)) {
        node = this.fail[node];
      }
      node = this.next[node].get(c) ?? 0;
      for (const end of this.ends[node]) {
        if (!end.isBounded) {
          return end.rule;
        }
        if (i === text.length && !isFinal) {
          continue; // the next character decides whether this is a whole word
        }
        if (!isWordCharacter(text[i - end.length - 1]) && !isWordCharacter(text[i])) {
          return end.rule;
        }
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
  private readonly words: WordAutomaton | null;
  private readonly patterns: RE2JS | null;

  constructor(private readonly rules: PolicyRule[]) {
    const words = rules.flatMap((r, rule) => r.words.map((word) => ({ word, rule })));
    this.words = words.length ? new WordAutomaton(words) : null;
    const patterns = rules.flatMap((r) => r.patterns.map((p) => `(?:${p})`));
    this.patterns = patterns.length ? RE2JS.compile(patterns.join('|')) : null;
  }

  get isEmpty(): boolean {
    return this.words === null && this.patterns === null;
  }

  /**
   * The first rule `text` breaks, or null. With `isFinal` false (a stream still running), a
   * hit that reaches the end of the text is not reported yet: the next characters may make a
   * word part of a longer one, or extend what a pattern matches; the caller scans that tail
   * again with what follows.
   */
  find(text: string, isFinal = true): PolicyRule | null {
    if (this.words) {
      const rule = this.words.find(text.toLowerCase(), isFinal);
      if (rule >= 0) {
        return this.rules[rule];
      }
    }
    if (this.patterns) {
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
