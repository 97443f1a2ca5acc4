import {
  chunkErrorMessage,
  isUsageOnlyChunk,
  mayCarryError,
  mayCarryUsage,
  mayMatterBytes,
  readUsage,
} from 'src/modules/proxy/wire/openai/stream-events';

describe(mayCarryUsage.name, () => {
  it.each([
    ['{"choices":[{"delta":{"content":"x"}}]}', false],
    ['{"choices":[],"usage":null}', false],
    ['{"choices":[], "usage" : null}', false],
    ['{"choices":[],"usage":{"prompt_tokens":1}}', true],
    ['{"choices":[], "usage": {"prompt_tokens":1}}', true],
  ])('%s → %s', (data, expected) => {
    expect(mayCarryUsage(data)).toBe(expected);
  });
});

describe(mayMatterBytes.name, () => {
  it.each([
    ['{"choices":[{"delta":{"content":"x"}}]}', false],
    ['{"choices":[],"usage":null}', false],
    ['{"choices":[], "usage" : null}', false],
    ['{"usage":null,"choices":[{"delta":{"content":"the \\"usage\\" word"}}]}', false],
    ['{"choices":[],"usage":{"prompt_tokens":1}}', true],
    ['{"usage":null,"error":{"message":"x"}}', true],
    ['{"error":"x"}', true],
    ['{"usage":1}', true],
    ['[DONE]', true],
    ['', true],
  ])('%s → %s, whatever surrounds it', (data, expected) => {
    const bytes = Buffer.from(`"usage":1 ${data} "error"`);
    const start = 10;
    expect(mayMatterBytes(bytes, start, start + Buffer.byteLength(data))).toBe(expected);
  });
});

describe(chunkErrorMessage.name, () => {
  it.each([
    [{ error: { message: 'out of memory', type: 'InternalServerError' } }, 'out of memory'],
    [{ object: 'error', message: 'bad request', code: 400 }, 'bad request'],
    [{ choices: [{ delta: { content: 'error' } }] }, null],
    [null, null],
  ])('%j → %j', (chunk, expected) => {
    expect(chunkErrorMessage(chunk)).toBe(expected);
  });

  it('only parses chunks that mention an error key', () => {
    expect(mayCarryError('{"choices":[{"delta":{"content":"an \\"error\\""}}]}')).toBe(false);
    expect(mayCarryError('{"error":{"message":"x"}}')).toBe(true);
  });
});

describe(isUsageOnlyChunk.name, () => {
  it.each([
    [{ choices: [], usage: { prompt_tokens: 1 } }, true],
    [{ choices: [{}], usage: { prompt_tokens: 1 } }, false],
    [{ choices: [], usage: null }, false],
    ['x', false],
  ])('%j → %s', (chunk, expected) => {
    expect(isUsageOnlyChunk(chunk)).toBe(expected);
  });
});

describe(readUsage.name, () => {
  it('reads prompt and completion tokens', () => {
    expect(
      readUsage({ usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }),
    ).toEqual({
      promptTokens: 3,
      completionTokens: 4,
    });
    expect(readUsage({ usage: { prompt_tokens: 3 } })).toEqual({
      promptTokens: 3,
      completionTokens: 0,
    });
    expect(readUsage({ usage: null })).toBeNull();
    expect(readUsage(null)).toBeNull();
  });
});
