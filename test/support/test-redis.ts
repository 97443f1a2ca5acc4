import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';

/** The real Redis of `TEST_REDIS_URL` (suites using it sit inside `describeIfEnv`). */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) {
    throw new Error('TEST_REDIS_URL is not set');
  }
  return url;
}

/**
 * A key prefix of this run's own (`TEST_REDIS_PREFIX`, set by `.ci/run`, plus a random part),
 * so parallel suites and parallel runs on the shared Redis never see each other's keys.
 */
export function testRedisPrefix(): string {
  return `${process.env.TEST_REDIS_PREFIX ?? 'parley-test:'}${randomUUID().slice(0, 8)}:`;
}

/** Deletes every key under `prefix` (a test's own), leaving the shared Redis as it was. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) {
        await redis.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
