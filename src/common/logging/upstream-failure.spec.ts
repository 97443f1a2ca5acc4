import { Writable } from 'node:stream';
import { createLogger } from 'src/common/logging/logger';
import { logUpstreamFailure, redactUrl } from 'src/common/logging/upstream-failure';

function capture(content: boolean) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', content }, destination);
  return { logger, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const FAILURE = {
  model: 'llama',
  upstreamUrl: 'http://user:s3cret@vllm.internal:8000/v1?api_key=abc#x',
  code: 'upstream_error' as const,
  attempt: 1,
  willRetry: false,
  phase: 'headers' as const,
  upstreamStatus: 400,
  errorCode: undefined,
  elapsedMs: 12.6,
  upstreamMessage: 'prompt "my secret plan" is too long',
};

describe(logUpstreamFailure.name, () => {
  it('logs the fields an operator acts on, without credentials or the upstream text', () => {
    const { logger, lines } = capture(false);
    logUpstreamFailure(logger, FAILURE);
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'upstream failure',
        model: 'llama',
        upstream: 'http://vllm.internal:8000/v1',
        code: 'upstream_error',
        attempt: 1,
        will_retry: false,
        phase: 'headers',
        upstream_status: 400,
        elapsed_ms: 13,
        upstream_message: '[redacted]',
      }),
    ]);
    const text = JSON.stringify(lines());
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('api_key');
    expect(text).not.toContain('my secret plan');
  });

  it('includes the upstream text with LOG_CONTENT=true', () => {
    const { logger, lines } = capture(true);
    logUpstreamFailure(logger, FAILURE);
    expect(lines()[0].upstream_message).toBe(FAILURE.upstreamMessage);
  });
});

describe(redactUrl.name, () => {
  it('keeps scheme, host, port and path only', () => {
    expect(redactUrl('https://k:v@api.example.com/v1/?x=1')).toBe('https://api.example.com/v1/');
    expect(redactUrl('not a url')).toBe('[unparseable url]');
  });
});
