import fc from 'fast-check';
import { MemoryBucketStore } from 'src/modules/throttling/buckets/memory.bucket-store';
import { RedisBucketStore } from 'src/modules/throttling/buckets/redis.bucket-store';
import { paramsFromLimits, TOKEN } from 'src/modules/throttling/buckets/token-bucket';
import { scenarioArb } from 'test/support/bucket-scenarios';
import { describeIfEnv } from 'test/support/describe-if-env';
import { startPrivateRedis } from 'test/support/private-redis';
import { deleteRedisKeys, testRedisPrefix, testRedisUrl } from 'test/support/test-redis';
import { sleep, waitFor } from 'test/support/time';

function ready(store: RedisBucketStore): Promise<true> {
  return waitFor(() => store.redis.status === 'ready' || null, {
    intervalMs: 10,
    what: 'the Redis client to be ready',
  });
}

describeIfEnv('TEST_REDIS_URL', `${RedisBucketStore.name} (the Lua script on real Redis)`, () => {
  const prefix = testRedisPrefix();
  const stores: RedisBucketStore[] = [];
  let fallbacks = 0;

  const open = async () => {
    const store = new RedisBucketStore({
      url: testRedisUrl(),
      keyPrefix: prefix,
      commandTimeoutMs: 1_000,
      onFallback: () => fallbacks++,
    });
    stores.push(store);
    await ready(store);
    return store;
  };

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await deleteRedisKeys(testRedisUrl(), prefix);
  });

  it('decides exactly like the in-memory bucket, request by request (injected clock)', async () => {
    const store = await open();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ steps, milliRate, burst }) => {
        const key = `equivalence-${run++}`;
        let now = 1_700_000_000_000;
        const memory = new MemoryBucketStore({ clock: () => now, sweepIntervalMs: 0 });
        const p = paramsFromLimits({ perSecond: milliRate / 1000, burst });
        const fromRedis: [boolean, number][] = [];
        const fromMemory: [boolean, number][] = [];
        for (const step of steps) {
          now += step.waitMs;
          for (let i = 0; i < step.requests; i++) {
            const r = await store.take(key, p, now);
            expect(r.source).toBe('redis');
            fromRedis.push([r.allowed, r.tokens]);
            const m = memory.take(key, p);
            fromMemory.push([m.allowed, m.tokens]);
          }
        }
        expect(fromRedis).toEqual(fromMemory);
      }),
      { numRuns: 40 },
    );
    expect(fallbacks).toBe(0);
  });

  it('admits exactly the burst out of concurrent requests from two clients', async () => {
    const [a, b] = [await open(), await open()];
    const p = paramsFromLimits({ perSecond: 0, burst: 100 });
    const results = await Promise.all(
      Array.from({ length: 600 }, (_, i) => (i % 2 ? a : b).take('concurrent', p)),
    );
    expect(results.every((r) => r.source === 'redis')).toBe(true);
    expect(results.filter((r) => r.allowed)).toHaveLength(100);
  });

  it('keeps full-precision token counts and lets the key expire once the bucket is full', async () => {
    const store = await open();
    const big = paramsFromLimits({ perSecond: 1000, burst: 1_000_000_000 });
    expect(await store.take('big', big)).toMatchObject({
      allowed: true,
      tokens: 999_999_999 * TOKEN,
    });
    const p = paramsFromLimits({ perSecond: 2, burst: 10 });
    await store.take('expiring', p);
    await store.take('expiring', p);
    const ttl = await store.redis.pttl(store.keyFor('expiring'));
    // Two tokens at 2/s: full again in one second.
    expect(ttl).toBeGreaterThan(900);
    expect(ttl).toBeLessThanOrEqual(1000);
    await store.take('never', paramsFromLimits({ perSecond: 0, burst: 3 }));
    expect(await store.redis.pttl(store.keyFor('never'))).toBe(-1);
  });
});

describeIfEnv('TEST_REDIS_URL', `${RedisBucketStore.name} when Redis stops mid-run`, () => {
  it('falls back to a local bucket at once, counts it, and returns to Redis when it is back', async () => {
    const server = await startPrivateRedis();
    let fallbacks = 0;
    const store = new RedisBucketStore({
      url: server.url,
      keyPrefix: 'parley-test:',
      // Long, so that a decision which waited for it could not pass for one that did not.
      commandTimeoutMs: 5_000,
      onFallback: () => fallbacks++,
    });
    try {
      await ready(store);
      const p = paramsFromLimits({ perSecond: 0, burst: 3 });
      expect(await store.take('k', p)).toEqual({
        allowed: true,
        tokens: 2 * TOKEN,
        source: 'redis',
      });

      await server.kill();
      const started = performance.now();
      const during = [];
      for (let i = 0; i < 5; i++) {
        during.push(await store.take('k', p));
      }
      // A refused connection fails at once: five decisions well within one command timeout.
      expect(performance.now() - started).toBeLessThan(2_500);
      // The local bucket starts full and enforces the same limit on its own.
      expect(during.map((r) => [r.source, r.allowed])).toEqual([
        ['local', true],
        ['local', true],
        ['local', true],
        ['local', false],
        ['local', false],
      ]);
      expect(fallbacks).toBe(5);

      await server.start();
      await ready(store);
      await sleep(1_100); // past the back-off after the last failure
      // A fresh Redis (no persistence): the shared bucket starts over, in Redis.
      expect(await store.take('k', p)).toEqual({
        allowed: true,
        tokens: 2 * TOKEN,
        source: 'redis',
      });
      expect(fallbacks).toBe(5);
    } finally {
      await store.close();
      await server.kill();
    }
  });

  it('does not hang on a Redis that stops answering: one command timeout, then local', async () => {
    const server = await startPrivateRedis();
    let fallbacks = 0;
    const store = new RedisBucketStore({
      url: server.url,
      keyPrefix: 'parley-test:',
      commandTimeoutMs: 1_000,
      onFallback: () => fallbacks++,
    });
    try {
      await ready(store);
      const p = paramsFromLimits({ perSecond: 0, burst: 100 });
      expect((await store.take('k', p)).source).toBe('redis');
      server.freeze();
      const timings: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        expect(await store.take('k', p)).toMatchObject({ allowed: true, source: 'local' });
        timings.push(performance.now() - started);
      }
      // The first decision waits for the command timeout; the back-off spares the others, each
      // of which would otherwise wait the whole second again (bounds generous for a busy CPU).
      expect(timings[0]).toBeGreaterThanOrEqual(990);
      expect(timings[0]).toBeLessThan(5_000);
      expect(Math.max(...timings.slice(1))).toBeLessThan(500);
      expect(fallbacks).toBe(20);
    } finally {
      server.thaw();
      await store.close();
      await server.kill();
    }
  });
});
