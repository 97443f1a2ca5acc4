import {
  CallerAbortError,
  classifyFailure,
  failureToApiError,
  FailureKind,
  IdleTimeoutError,
  TotalTimeoutError,
} from 'src/modules/proxy/upstream/upstream-errors';

const err = (code: string, message = code) => Object.assign(new Error(message), { code });
const live = new AbortController().signal;
const aborted = (reason: unknown) => {
  const c = new AbortController();
  c.abort(reason);
  return c.signal;
};

describe(classifyFailure.name, () => {
  it.each<[string, unknown, AbortSignal, 'before_headers' | 'body', FailureKind]>([
    ['refused', err('ECONNREFUSED'), live, 'before_headers', 'connect'],
    ['connect timeout', err('UND_ERR_CONNECT_TIMEOUT'), live, 'before_headers', 'connect'],
    ['reset before any response', err('ECONNRESET'), live, 'before_headers', 'connect'],
    [
      'closed before any response',
      err('UND_ERR_SOCKET', 'other side closed'),
      live,
      'before_headers',
      'connect',
    ],
    ['DNS failure', err('ENOTFOUND'), live, 'before_headers', 'connect'],
    [
      'wrapped cause',
      Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }),
      live,
      'before_headers',
      'connect',
    ],
    [
      'first-byte timeout',
      err('UND_ERR_HEADERS_TIMEOUT'),
      live,
      'before_headers',
      'first_byte_timeout',
    ],
    ['idle timeout (undici)', err('UND_ERR_BODY_TIMEOUT'), live, 'body', 'idle_timeout'],
    [
      'idle timeout (watchdog)',
      new Error('x'),
      aborted(new IdleTimeoutError(1)),
      'body',
      'idle_timeout',
    ],
    [
      'total timeout',
      new Error('x'),
      aborted(new TotalTimeoutError(1)),
      'before_headers',
      'total_timeout',
    ],
    [
      'total timeout in the body',
      new Error('x'),
      aborted(new TotalTimeoutError(1)),
      'body',
      'total_timeout',
    ],
    ['caller abort', new Error('x'), aborted(new CallerAbortError()), 'before_headers', 'aborted'],
    ['cut mid-answer', err('UND_ERR_SOCKET', 'other side closed'), live, 'body', 'closed'],
    ['reset mid-answer', err('ECONNRESET'), live, 'body', 'closed'],
    ['terminated', new Error('terminated'), live, 'body', 'closed'],
    ['anything else', new Error('weird'), live, 'before_headers', 'other'],
  ])('%s → %s', (_, error, signal, phase, expected) => {
    expect(classifyFailure(error, signal, phase)).toBe(expected);
  });
});

describe(failureToApiError.name, () => {
  const timeouts = {
    connectTimeoutMs: 5000,
    firstByteTimeoutMs: 600_000,
    idleTimeoutMs: 120_000,
    totalTimeoutMs: 600_000,
  };

  it.each<[FailureKind, string, number]>([
    ['connect', 'upstream_unavailable', 503],
    ['first_byte_timeout', 'upstream_timeout', 504],
    ['idle_timeout', 'upstream_timeout', 504],
    ['total_timeout', 'upstream_timeout', 504],
    ['closed', 'upstream_error', 502],
    ['other', 'upstream_error', 502],
  ])('%s → %s (%d)', (kind, code, status) => {
    const error = failureToApiError(kind, 'llama', timeouts);
    expect({ code: error.code, status: error.status }).toEqual({ code, status });
    expect(error.message).toContain('"llama"');
  });

  it('gives upstream_unavailable a retry-after and names the setting of each timeout', () => {
    expect(failureToApiError('connect', 'm', timeouts).headers).toEqual({ 'retry-after': '5' });
    expect(failureToApiError('first_byte_timeout', 'm', timeouts).message).toMatch(
      /600 s \(HTTP_FIRST_BYTE_TIMEOUT_SECS\)/,
    );
    expect(failureToApiError('idle_timeout', 'm', timeouts).message).toMatch(
      /HTTP_IDLE_TIMEOUT_SECS/,
    );
    expect(failureToApiError('total_timeout', 'm', timeouts).message).toMatch(
      /HTTP_TOTAL_TIMEOUT_SECS/,
    );
  });
});
