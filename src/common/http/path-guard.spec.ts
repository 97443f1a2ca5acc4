import { hasDotDotSegment } from 'src/common/http/path-guard';

describe(hasDotDotSegment.name, () => {
  it.each([
    '/v1/../x',
    '/v1/%2e%2e/x',
    '/v1/%2E%2e/x',
    '/v1/.%2e/x',
    '/v1/%252e%252e/x',
    '/v1/..%5cx',
    '/..',
  ])('refuses %s', (path) => {
    expect(hasDotDotSegment(path)).toBe(true);
  });

  it.each([
    '/v1/chat/completions',
    '/c1/conversations/abc.def',
    '/v1/models?x=..',
    '/v1/models?x=%2e%2e',
    '/v1/models/a%2Fb',
  ])('accepts %s', (path) => {
    expect(hasDotDotSegment(path)).toBe(false);
  });
});
