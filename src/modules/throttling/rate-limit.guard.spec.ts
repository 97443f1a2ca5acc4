import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import {
  CanActivate,
  Controller,
  ExecutionContext,
  Get,
  Injectable,
  Module,
  Res,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import { getStorageToken, SkipThrottle } from '@nestjs/throttler';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HotRoute } from 'src/common/http/hot-routes/hot-route.decorator';
import 'src/common/types/fastify-request';
import { AuthContext } from 'src/common/types/auth-context';
import { ConfigModule } from 'src/config/config.module';
import { loadConfig } from 'src/config/load-config';
import { DatabaseModule } from 'src/database/database.module';
import { runInOrder } from 'src/modules/access/request-guard-chain';
import { AllExceptionsFilter } from 'src/modules/errors/all-exceptions.filter';
import { MetricsModule } from 'src/modules/metrics/metrics.module';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { MemoryBucketStore } from 'src/modules/throttling/buckets/memory.bucket-store';
import { RateLimitGuard } from 'src/modules/throttling/rate-limit.guard';
import { ThrottlingModule } from 'src/modules/throttling/throttling.module';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Stands in for the API-key guard: `x-test-key` authenticates, `x-test-limit` overrides. */
@Injectable()
class StubAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const key = request.headers['x-test-key'];
    if (typeof key === 'string') {
      const override = request.headers['x-test-limit'];
      const [perSecond, burst] = typeof override === 'string' ? override.split('/') : [];
      const auth: AuthContext = {
        keyId: `id-${key}`,
        keyHash: sha256(key),
        userId: 'u',
        role: 'user',
        allowedModels: null,
        rateLimit: perSecond ? { perSecond: Number(perSecond), burst: Number(burst) } : null,
        tokenQuota: null,
      };
      request.auth = auth;
    }
    return true;
  }
}

@Controller()
class ProbeController {
  @Get('v1/a')
  a() {
    return { ok: true };
  }

  @Get('v1/b')
  b() {
    return { ok: true };
  }

  @Get('v1/free')
  @SkipThrottle()
  free() {
    return { ok: true };
  }

  /** Writes the head itself, like the streaming proxy does. */
  @Get('v1/raw')
  raw(@Res() reply: FastifyReply) {
    reply.raw.writeHead(200, { 'content-type': 'text/plain' });
    reply.raw.end('raw');
  }

  /** A hot route answering through the reply, as /v1 JSON answers do. */
  @HotRoute()
  @Get('v1/hot')
  hot(@Res() reply: FastifyReply) {
    void reply.send({ ok: true });
  }

  /** A hot route streaming, as `pipeSse` does: its own head, with the reply's headers. */
  @HotRoute()
  @Get('v1/hot-stream')
  hotStream(@Res() reply: FastifyReply) {
    const headers = { ...reply.getHeaders(), 'content-type': 'text/event-stream' };
    reply.raw.writeHead(200, headers as OutgoingHttpHeaders);
    reply.raw.end('data: [DONE]\n\n');
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

describe(RateLimitGuard.name, () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    const config = loadConfig({
      RATE_LIMIT_PER_SECOND: '0',
      RATE_LIMIT_BURST: '3',
      DATABASE_URL: 'sqlite::memory:',
    });
    @Module({
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule,
        MetricsModule,
        ProbeModule,
        ThrottlingModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        // The app's chain with the stub in place of the API-key guard.
        {
          provide: APP_GUARD,
          inject: [RateLimitGuard],
          useFactory: (rateLimit: RateLimitGuard): CanActivate => ({
            canActivate: (context) => runInOrder([new StubAuthGuard(), rateLimit], context, 0),
          }),
        },
      ],
    })
    class TestAppModule {}
    app = await NestFactory.create<NestFastifyApplication>(TestAppModule, new FastifyAdapter(), {
      logger: false,
      abortOnError: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(() => app.close());

  const get = (url: string, headers: Record<string, string> = {}) =>
    app.getHttpAdapter().getInstance().inject({ method: 'GET', url, headers });

  const rateHeaders = (res: { headers: Record<string, unknown> }) => ({
    limit: res.headers['x-ratelimit-limit'],
    remaining: res.headers['x-ratelimit-remaining'],
    reset: res.headers['x-ratelimit-reset'],
  });

  it('counts down on every authenticated response, then answers 429 with retry-after', async () => {
    const headers = { 'x-test-key': 'countdown' };
    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push(await get('/v1/a', headers));
    }
    expect(answers.map((r) => [r.statusCode, rateHeaders(r)])).toEqual([
      [200, { limit: '3', remaining: '2', reset: '86400' }],
      [200, { limit: '3', remaining: '1', reset: '86400' }],
      [200, { limit: '3', remaining: '0', reset: '86400' }],
      [429, { limit: '3', remaining: '0', reset: '86400' }],
    ]);
    const refused = answers[3];
    expect(refused.headers['retry-after']).toBe('86400');
    expect(refused.json()).toEqual({
      error: {
        type: 'rate_limit_exceeded',
        code: 'rate_limit_exceeded',
        message: 'Rate limit reached for this API key (bucket of 3); retry after 86400 s',
        param: null,
      },
    });
  });

  it('shares one bucket per key across routes, and keeps keys apart', async () => {
    const one = { 'x-test-key': 'one' };
    expect((await get('/v1/a', one)).headers['x-ratelimit-remaining']).toBe('2');
    expect((await get('/v1/b', one)).headers['x-ratelimit-remaining']).toBe('1');
    expect((await get('/v1/a', { 'x-test-key': 'two' })).headers['x-ratelimit-remaining']).toBe(
      '2',
    );
  });

  it("applies the key's own rate limit over the defaults", async () => {
    const headers = { 'x-test-key': 'override', 'x-test-limit': '2/5' };
    const first = await get('/v1/a', headers);
    expect(rateHeaders(first)).toEqual({ limit: '5', remaining: '4', reset: '1' });
  });

  it('leaves requests without a key alone: no bucket, no headers', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await get('/v1/a');
      expect(res.statusCode).toBe(200);
      expect(rateHeaders(res)).toEqual({
        limit: undefined,
        remaining: undefined,
        reset: undefined,
      });
    }
  });

  it('leaves routes marked @SkipThrottle() alone', async () => {
    const headers = { 'x-test-key': 'skipper', 'x-test-limit': '0/1' };
    for (let i = 0; i < 3; i++) {
      const res = await get('/v1/free', headers);
      expect(res.statusCode).toBe(200);
      expect(rateHeaders(res).limit).toBeUndefined();
    }
    expect((await get('/v1/a', headers)).statusCode).toBe(200);
    expect((await get('/v1/a', headers)).statusCode).toBe(429);
  });

  it('puts the headers on responses whose head the handler writes itself', async () => {
    const res = await get('/v1/raw', { 'x-test-key': 'raw' });
    expect(res.body).toBe('raw');
    expect(rateHeaders(res)).toEqual({ limit: '3', remaining: '2', reset: '86400' });
  });

  it("puts the headers on hot routes' answers, JSON and streamed", async () => {
    const json = await get('/v1/hot', { 'x-test-key': 'hot' });
    const stream = await get('/v1/hot-stream', { 'x-test-key': 'hot' });
    expect(json.json()).toEqual({ ok: true });
    expect(stream.body).toBe('data: [DONE]\n\n');
    expect([rateHeaders(json), rateHeaders(stream)]).toEqual([
      { limit: '3', remaining: '2', reset: '86400' },
      { limit: '3', remaining: '1', reset: '86400' },
    ]);
  });

  it('keys buckets on the SHA-256 of the key, never the key itself', async () => {
    const store = app.get<MemoryBucketStore>(getStorageToken());
    const take = jest.spyOn(store, 'take');
    await get('/v1/a', { 'x-test-key': 'secret-key-material' });
    expect(take).toHaveBeenCalledTimes(1);
    expect(take.mock.calls[0][0]).toBe(sha256('secret-key-material'));
    take.mockRestore();
  });

  it('counts refusals', async () => {
    const metrics = app.get(MetricsService);
    const before = (await metrics.refusals.get()).values.find(
      (v) => v.labels.code === 'rate_limit_exceeded',
    )?.value;
    const headers = { 'x-test-key': 'counted', 'x-test-limit': '0/1' };
    await get('/v1/a', headers);
    await get('/v1/a', headers);
    await get('/v1/a', headers);
    const after = (await metrics.refusals.get()).values.find(
      (v) => v.labels.code === 'rate_limit_exceeded',
    )?.value;
    expect((after ?? 0) - (before ?? 0)).toBe(2);
  });
});
