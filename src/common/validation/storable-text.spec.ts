import { ApiError } from 'src/common/errors/api-error';
import { assertStorableText, unstorableTextProblem } from 'src/common/validation/storable-text';

describe('unstorableTextProblem', () => {
  it.each([
    ['plain text', 'hello'],
    ['an emoji (a surrogate pair)', 'ok 😀 ok'],
    ['other control characters', 'tab\tnew\nline\u0001'],
    ['the empty string', ''],
  ])('accepts %s', (_what, text) => {
    expect(unstorableTextProblem(text)).toBeNull();
  });

  it.each([
    ['a NUL', 'a\u0000b', 'must not contain NUL characters (U+0000)'],
    [
      'a lone high surrogate',
      'a\ud800b',
      'must be valid Unicode text (it holds an unpaired surrogate)',
    ],
    [
      'a lone low surrogate',
      '\udc00',
      'must be valid Unicode text (it holds an unpaired surrogate)',
    ],
    [
      'a high surrogate at the end',
      'x\ud83d',
      'must be valid Unicode text (it holds an unpaired surrogate)',
    ],
    [
      'reversed halves',
      '\ude00\ud83d',
      'must be valid Unicode text (it holds an unpaired surrogate)',
    ],
  ])('refuses %s', (_what, text, problem) => {
    expect(unstorableTextProblem(text)).toBe(problem);
  });
});

describe('assertStorableText', () => {
  const thrown = (value: unknown, path: string) => {
    try {
      assertStorableText(value, path);
    } catch (error) {
      return error as ApiError;
    }
    return null;
  };

  it('names the first offending string by its path', () => {
    const error = thrown(
      [
        { role: 'user', content: 'fine' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'ok' },
            { type: 'text', text: 'n\u0000' },
          ],
        },
      ],
      'messages',
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error?.toEnvelope().error).toEqual({
      type: 'invalid_request_error',
      code: 'invalid_field',
      message: 'messages[1].content[1].text must not contain NUL characters (U+0000)',
      param: 'messages[1].content[1].text',
    });
  });

  it('checks names and object keys', () => {
    expect(thrown([{ role: 'user', name: 'a\ud800', content: 'x' }], 'messages')?.param).toBe(
      'messages[0].name',
    );
    expect(thrown({ 'k\u0000': 'v' }, 'metadata')?.message).toBe(
      'metadata keys must not contain NUL characters (U+0000)',
    );
  });

  it('accepts storable values of any shape', () => {
    expect(thrown({ a: [1, null, true, 'text 😀', { b: 'c' }], n: 2.5 }, 'body')).toBeNull();
  });
});
