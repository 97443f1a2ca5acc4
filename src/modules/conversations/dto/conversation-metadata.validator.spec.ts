import { metadataProblem } from 'src/modules/conversations/dto/conversation-metadata.validator';

describe('metadataProblem', () => {
  it.each([
    [null, null],
    [{}, null],
    [{ project: 'p1', ['a'.repeat(64)]: 'x'.repeat(512) }, null],
    ['text', 'metadata must be an object of strings or null'],
    [['a'], 'metadata must be an object of strings or null'],
    [{ n: 1 }, 'metadata values must be strings of at most 512 characters'],
    [{ n: 'x'.repeat(513) }, 'metadata values must be strings of at most 512 characters'],
    [{ ['k'.repeat(65)]: 'x' }, 'metadata keys must be 1-64 characters'],
    [
      Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])),
      'metadata must have at most 16 keys',
    ],
  ])('judges %j → %s', (value, problem) => {
    expect(metadataProblem(value)).toBe(problem);
  });
});
