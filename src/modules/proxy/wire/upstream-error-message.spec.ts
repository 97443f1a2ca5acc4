import { upstreamErrorMessage } from 'src/modules/proxy/wire/upstream-error-message';

describe(upstreamErrorMessage.name, () => {
  it.each([
    [
      'OpenAI',
      '{"error":{"message":"Invalid model","type":"invalid_request_error"}}',
      'application/json',
      'Invalid model',
    ],
    [
      'vLLM',
      '{"object":"error","message":"max_tokens is too large","type":"BadRequestError","code":400}',
      'application/json',
      'max_tokens is too large',
    ],
    [
      'Anthropic',
      '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
      'application/json',
      'Overloaded',
    ],
    ['FastAPI', '{"detail":"Not Found"}', 'application/json', 'Not Found'],
    [
      'FastAPI validation',
      '{"detail":[{"loc":["body"],"msg":"field required"}]}',
      'application/json',
      'field required',
    ],
    ['a bare error string', '{"error":"boom"}', 'application/json', 'boom'],
    ['plain text', 'upstream connect error', 'text/plain', 'upstream connect error'],
    ['an HTML page', '<html><body>502 Bad Gateway</body></html>', 'text/html', null],
    ['unreadable JSON', '{"foo":1}', 'application/json', null],
    ['nothing', '', undefined, null],
  ])('reads %s', (_, body, contentType, expected) => {
    expect(upstreamErrorMessage(body, contentType)).toBe(expected);
  });

  it('masks the upstream key, strips control characters and caps the length', () => {
    expect(
      upstreamErrorMessage(
        '{"error":{"message":"bad key sk-secret-123\\n\\u0007"}}',
        'application/json',
        ['sk-secret-123'],
      ),
    ).toBe('bad key [redacted]');
    expect(
      upstreamErrorMessage(JSON.stringify({ message: 'x'.repeat(5000) }), 'application/json'),
    ).toHaveLength(1001);
  });
});
