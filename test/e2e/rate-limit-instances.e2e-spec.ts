import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ERROR_CATALOG } from 'src/common/errors/error-catalog';
import { describeIfEnv } from 'test/support/describe-if-env';
import { spawnGateway, SpawnedGateway } from 'test/support/spawn-gateway';
import { TEST_API_KEY } from 'test/support/start-gateway';
import { deleteRedisKeys, testRedisPrefix, testRedisUrl } from 'test/support/test-redis';

describeIfEnv(
  'TEST_REDIS_URL',
  'one rate limit shared by two gateway processes through Redis',
  () => {
    const prefix = testRedisPrefix();
    const dir = mkdtempSync(join(tmpdir(), 'parley-instances-'));
    const gateways: SpawnedGateway[] = [];
    const agent = new Agent({ connections: 100 });

    beforeAll(async () => {
      for (const name of ['a', 'b']) {
        gateways.push(
          await spawnGateway({
            DATABASE_URL: `sqlite:${join(dir, `${name}.sqlite`)}`,
            REDIS_URL: testRedisUrl(),
            REDIS_KEY_PREFIX: prefix,
            RATE_LIMIT_PER_SECOND: '0',
            RATE_LIMIT_BURST: '100',
            // This test is about sharing, not outages: on a loaded 2-core machine a burst of
            // 1,000 requests can delay replies past the default timeout (then each instance
            // would fall back to its own bucket, by design).
            REDIS_COMMAND_TIMEOUT_MS: '10000',
          }),
        );
      }
    });

    afterAll(async () => {
      for (const gw of gateways) {
        gw.kill('SIGTERM');
        await gw.exited;
      }
      await agent.close();
      await deleteRedisKeys(testRedisUrl(), prefix);
      rmSync(dir, { recursive: true, force: true });
    });

    const call = async (gw: SpawnedGateway) => {
      const res = await request(`${gw.url}/v1/me`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) };
    };

    it('admits exactly the burst (100) out of 1,000 concurrent requests on one key', async () => {
      // One request through each instance first: B sees what A took, so the bucket is shared.
      const [a, b] = gateways;
      const first = await call(a);
      const second = await call(b);
      expect([
        first.headers['x-ratelimit-remaining'],
        second.headers['x-ratelimit-remaining'],
      ]).toEqual(['99', '98']);
      const answers = [
        first,
        second,
        ...(await Promise.all(Array.from({ length: 998 }, (_, i) => call(gateways[i % 2])))),
      ];
      const admitted = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status === 429);
      expect({ admitted: admitted.length, refused: refused.length }).toEqual({
        admitted: 100,
        refused: 900,
      });
      for (const gw of gateways) {
        expect(gw.output()).not.toContain('Redis unavailable');
      }
      // Both instances took part: the limit is shared, not split.
      expect(new Set(admitted.map((a) => a.body.key_id)).size).toBe(2);
      expect(new Set(refused.map((a) => a.body.error.code))).toEqual(
        new Set(['rate_limit_exceeded']),
      );
      expect(refused[0].body).toEqual({
        error: {
          type: ERROR_CATALOG.rate_limit_exceeded.type,
          code: 'rate_limit_exceeded',
          message: 'Rate limit reached for this API key (bucket of 100); retry after 86400 s',
          param: null,
        },
      });
      for (const answer of answers) {
        expect(answer.headers['x-ratelimit-limit']).toBe('100');
        expect(answer.headers['x-ratelimit-reset']).toBe('86400');
      }
      for (const answer of refused) {
        expect(answer.headers['retry-after']).toBe('86400');
        expect(answer.headers['x-ratelimit-remaining']).toBe('0');
      }
      // Every admitted request saw a different number of tokens left: 99 down to 0.
      const remaining = admitted.map((a) => Number(a.headers['x-ratelimit-remaining']));
      expect(remaining.sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    });
  },
);
