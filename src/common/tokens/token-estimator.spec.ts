import { countTokens } from 'gpt-tokenizer';
import { EXACT_CHARS, MAX_RUN, TokenEstimator } from 'src/common/tokens/token-estimator';

const exact = (text: string) => countTokens(text, { disallowedSpecial: new Set() });

describe(TokenEstimator.name, () => {
  it('counts ordinary text exactly', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(100);
    expect(new TokenEstimator().count(text)).toBe(exact(text));
    expect(new TokenEstimator().count('')).toBe(0);
  });

  it('counts a long single run in pieces, close to the exact count', () => {
    const run = 'x'.repeat(EXACT_CHARS);
    const estimate = new TokenEstimator().count(run);
    expect(estimate).toBe((EXACT_CHARS / MAX_RUN) * exact('x'.repeat(MAX_RUN)));
    expect(Math.abs(estimate - exact(run)) / exact(run)).toBeLessThan(0.1);
  });

  it('scales samples of a text longer than the exact limit to its length', () => {
    const text = 'hello world, this is a test. '.repeat(10_000);
    const estimate = new TokenEstimator().count(text);
    expect(Math.abs(estimate - exact(text)) / exact(text)).toBeLessThan(0.05);
  });

  it('estimates a 10 MB run from samples', () => {
    const estimate = new TokenEstimator().count('é'.repeat(10 * 1024 * 1024));
    expect(estimate).toBeGreaterThan(1_000_000);
    expect(estimate).toBeLessThan(20 * 1024 * 1024);
  });

  it('once its budget is spent, estimates from length at the rate seen so far', () => {
    const estimator = new TokenEstimator(EXACT_CHARS);
    const text = 'word '.repeat(EXACT_CHARS / 5);
    const first = estimator.count(text);
    expect(first).toBe(exact(text));
    expect(estimator.count(text)).toBe(Math.ceil((first / text.length) * text.length));
  });
});
