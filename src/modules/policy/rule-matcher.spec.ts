import { OutputScanner } from 'src/modules/policy/output-scanner';
import { parsePolicy, PolicyError, PolicyRule } from 'src/modules/policy/policy.schema';
import { RuleMatcher } from 'src/modules/policy/rule-matcher';

const rule = (over: Partial<PolicyRule>): PolicyRule => ({
  name: 'r',
  scope: 'output',
  words: [],
  patterns: [],
  models: null,
  ...over,
});

describe(RuleMatcher.name, () => {
  const matcher = new RuleMatcher([
    rule({ name: 'words', words: ['bad', 'very bad', 'she', 'hers', '東京'] }),
    rule({ name: 'digits', patterns: ['\\d{3}-\\d{3}'] }),
  ]);

  it.each([
    ['a BAD day', 'words'],
    ['bad', 'words'],
    ['(bad)', 'words'],
    ['it was very bad', 'words'],
    ['ushers', null],
    ['hers!', 'words'],
    ['badge', null],
    ['abad', null],
    ['行く東京タワー', 'words'],
    ['call 555-123 now', 'digits'],
    ['nothing here', null],
  ])('%j → %s', (text, expected) => {
    expect(matcher.find(text)?.name ?? null).toBe(expected);
  });

  it('holds back a hit at the end of unfinished text, and decides it when the text is final', () => {
    expect(matcher.find('so bad', false)).toBeNull();
    expect(matcher.find('so bad', true)?.name).toBe('words');
    expect(matcher.find('call 555-123', false)).toBeNull();
    expect(matcher.find('call 555-123', true)?.name).toBe('digits');
  });

  it('finds thousands of words in one pass', () => {
    const many = new RuleMatcher([
      rule({ words: Array.from({ length: 5000 }, (_, i) => `w${i}x`) }),
    ]);
    expect(many.find('nothing w4999x here')).not.toBeNull();
    expect(many.find('nothing w5000x here')).toBeNull();
  });
});

describe(OutputScanner.name, () => {
  const scanner = () =>
    new OutputScanner(new RuleMatcher([rule({ name: 'k', words: ['kaboom'] })]));

  it('finds a word split across pieces', () => {
    const s = scanner();
    s.push('it went ka');
    expect(() => s.push('boom!')).toThrow('content policy');
  });

  it('waits for the next piece before calling a word at a piece end a hit', () => {
    const s = scanner();
    s.push('it went kaboom');
    s.push('s quietly');
    expect(() => s.end()).not.toThrow();
    const t = scanner();
    t.push('it went kaboom');
    expect(() => t.end()).toThrow('content policy');
  });

  it('keeps choices apart', () => {
    const s = scanner();
    s.push('ka', 0);
    s.push('boom', 1);
    expect(() => s.end()).not.toThrow();
  });
});

describe(parsePolicy.name, () => {
  const problems = (doc: unknown) => {
    try {
      parsePolicy(doc, new Set(['m']));
    } catch (error) {
      return (error as PolicyError).problems;
    }
    return [];
  };

  it('reports every problem with its path', () => {
    expect(
      problems({
        rules: [
          { scope: 'input', words: ['ok'], action: 'block' },
          { scope: 'x', action: 'block' },
          { scope: 'output', patterns: ['a*', '(?<=a)b'], models: ['m', 'z'], action: 'block' },
          'nope',
        ],
      }),
    ).toEqual([
      'rules[1].scope: must be "input" or "output"',
      'rules[1]: needs `words` or `patterns`',
      'rules[2].patterns[0]: matches the empty string (it would block everything)',
      expect.stringMatching(/^rules\[2\]\.patterns\[1\]: not a valid RE2 pattern/),
      'rules[2].models[1]: "z" is not a model of the catalog',
      'rules[3]: must be an object',
    ]);
    expect(problems({})).toEqual(['rules: must be a list']);
  });
});
