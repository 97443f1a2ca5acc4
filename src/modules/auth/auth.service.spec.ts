import { loadConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { ApiKeyLookup } from 'src/modules/auth/api-key-lookup';
import { AuthFailureLimiter } from 'src/modules/auth/auth-failure-limiter';
import {
  AuthRequest,
  AuthService,
  INVALID_ADMIN_MESSAGE,
  INVALID_KEY_MESSAGE,
} from 'src/modules/auth/auth.service';
import { LastUsedRecorder } from 'src/modules/auth/last-used-recorder';
import { InMemoryKeySource, keyEntity } from 'test/support/key-fakes';

const USER_KEY = 'pk-user-0123456789abcdef';
const SERVICE_KEY = 'pk-service-0123456789abcdef';
const INACTIVE_KEY = 'pk-inactive-0123456789abcdef';
const ADMIN = 'admin-0123456789abcdef';

function req(headers: Record<string, string>, ip = '10.0.0.1'): AuthRequest {
  return { headers, ip };
}

/** Runs authenticate() and returns the context or the ApiError, sync or async alike. */
async function attempt(run: () => unknown): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    return error;
  }
}

describe(AuthService.name, () => {
  let now: number;
  let source: InMemoryKeySource;
  let touched: string[];
  let metrics: MetricsService;

  function build(env: Record<string, string> = {}) {
    const config = loadConfig({ ADMIN_TOKEN: ADMIN, AUTH_FAILURES_PER_MINUTE: '3', ...env });
    const clock = () => now;
    const recorder = { touch: (id: string) => touched.push(id) } as unknown as LastUsedRecorder;
    return new AuthService(
      config,
      new ApiKeyLookup(source, clock),
      new AuthFailureLimiter(config.auth.failuresPerMinute, clock),
      recorder,
      metrics,
    );
  }

  beforeEach(() => {
    now = 1_000_000;
    source = new InMemoryKeySource();
    source.add(keyEntity(USER_KEY));
    source.add(keyEntity(SERVICE_KEY, { role: 'service', userId: 'frontend' }));
    source.add(keyEntity(INACTIVE_KEY, { isActive: false }));
    touched = [];
    metrics = new MetricsService();
  });

  it('admits a valid key from either header and records its use', async () => {
    const auth = build();
    const fromBearer = await auth.authenticate(req({ authorization: `Bearer ${USER_KEY}` }));
    const fromApiKey = await auth.authenticate(req({ 'x-api-key': USER_KEY }));
    expect(fromBearer).toMatchObject({ keyId: `id-${USER_KEY}`, userId: 'alice', role: 'user' });
    expect(fromApiKey).toBe(fromBearer);
    expect(touched).toEqual([`id-${USER_KEY}`, `id-${USER_KEY}`]);
  });

  it('answers from the cache synchronously, without a query, within a second', async () => {
    const auth = build();
    await auth.authenticate(req({ authorization: `Bearer ${USER_KEY}` }));
    const again = auth.authenticate(req({ authorization: `Bearer ${USER_KEY}` }));
    expect(again).not.toBeInstanceOf(Promise);
    expect(source.queries).toBe(1);
  });

  it('refuses missing credentials with missing_authorization', async () => {
    const error = await attempt(() => build().authenticate(req({})));
    expect(error).toMatchObject({ code: 'missing_authorization', status: 401 });
    expect((error as ApiError).headers).toEqual({ 'www-authenticate': 'Bearer realm="parley"' });
  });

  it('gives every bad key the same error', async () => {
    const auth = build({ AUTH_FAILURES_PER_MINUTE: '100' });
    const cases: Record<string, string>[] = [
      { authorization: 'Bearer pk-unknown-0123456789abcdef' },
      { authorization: `Bearer ${INACTIVE_KEY}` },
      { authorization: `Basic ${USER_KEY}` },
      { authorization: `Bearer ${'x'.repeat(20_000)}` },
      { authorization: `Bearer ${USER_KEY}`, 'x-api-key': SERVICE_KEY },
    ];
    for (const headers of cases) {
      const error = await attempt(() => auth.authenticate(req(headers)));
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).toEnvelope()).toEqual({
        error: {
          type: 'authentication_error',
          code: 'invalid_authorization',
          message: INVALID_KEY_MESSAGE,
          param: null,
        },
      });
    }
  });

  it('throttles an address after AUTH_FAILURES_PER_MINUTE failures, before the database', async () => {
    const auth = build();
    for (let i = 0; i < 3; i++) {
      await attempt(() => auth.authenticate(req({ 'x-api-key': `pk-guess-${i}-0123456789abc` })));
    }
    const queries = source.queries;
    const error = await attempt(() =>
      auth.authenticate(req({ 'x-api-key': 'pk-guess-x-0123456789abc' })),
    );
    expect(error).toMatchObject({ code: 'rate_limit_exceeded', status: 429 });
    expect((error as ApiError).headers).toEqual({ 'retry-after': '20' });
    expect(source.queries).toBe(queries);
    // Another address is not affected.
    const other = await attempt(() =>
      auth.authenticate(req({ 'x-api-key': 'pk-guess-y-0123456789abc' }, '10.0.0.2')),
    );
    expect(other).toMatchObject({ code: 'invalid_authorization' });
  });

  it('lets a known valid key through from a throttled address', async () => {
    const auth = build();
    await auth.authenticate(req({ 'x-api-key': USER_KEY }));
    for (let i = 0; i < 3; i++) {
      await attempt(() => auth.authenticate(req({})));
    }
    now += 5_000; // the cached entry is stale, the address is still throttled
    await expect(auth.authenticate(req({ 'x-api-key': USER_KEY }))).resolves.toMatchObject({
      userId: 'alice',
    });
    await expect(attempt(() => auth.authenticate(req({})))).resolves.toMatchObject({
      code: 'rate_limit_exceeded',
    });
  });

  it('lets a service key act for an end user of its own namespace with x-user-id', async () => {
    const auth = build();
    const context = await auth.authenticate(
      req({ authorization: `Bearer ${SERVICE_KEY}`, 'x-user-id': 'end-user-42' }),
    );
    expect(context).toMatchObject({ userId: 'frontend/end-user-42', role: 'service' });
    const own = await auth.authenticate(req({ authorization: `Bearer ${SERVICE_KEY}` }));
    expect(own.userId).toBe('frontend');
  });

  it.each(['', ' ', 'has space', 'x'.repeat(129), 'naïve'])(
    'refuses x-user-id %j from a service key with invalid_field',
    async (value) => {
      const error = await attempt(() =>
        build().authenticate(req({ authorization: `Bearer ${SERVICE_KEY}`, 'x-user-id': value })),
      );
      expect(error).toMatchObject({ code: 'invalid_field', param: 'x-user-id' });
    },
  );

  it('refuses x-user-id from a user key with user_override_forbidden', async () => {
    const error = await attempt(() =>
      build().authenticate(req({ authorization: `Bearer ${USER_KEY}`, 'x-user-id': 'bob' })),
    );
    expect(error).toMatchObject({ code: 'user_override_forbidden', status: 403 });
  });

  describe('admin routes', () => {
    it('accepts ADMIN_TOKEN and nothing else', async () => {
      const auth = build();
      expect(() => auth.authenticateAdmin(req({ authorization: `Bearer ${ADMIN}` }))).not.toThrow();
      expect(await attempt(() => auth.authenticateAdmin(req({})))).toMatchObject({
        code: 'missing_authorization',
      });
      for (const headers of [
        { authorization: `Bearer ${ADMIN}x` },
        { authorization: `Bearer ${USER_KEY}` },
      ]) {
        expect(await attempt(() => auth.authenticateAdmin(req(headers)))).toMatchObject({
          code: 'invalid_authorization',
          message: INVALID_ADMIN_MESSAGE,
        });
      }
    });

    it('refuses every call when ADMIN_TOKEN is unset', async () => {
      const auth = build({ ADMIN_TOKEN: '' });
      expect(
        await attempt(() => auth.authenticateAdmin(req({ authorization: `Bearer ${ADMIN}` }))),
      ).toMatchObject({ code: 'invalid_authorization', status: 401 });
    });
  });
});
