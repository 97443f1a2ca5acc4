import {
  CanActivate,
  Controller,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  Module,
  NestInterceptor,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import { GuardsConsumer } from '@nestjs/core/guards/guards-consumer';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HotRoute } from 'src/common/http/hot-routes/hot-route.decorator';
import { installHotRoutes } from 'src/common/http/hot-routes/install-hot-routes';
import { AllExceptionsFilter } from 'src/modules/errors/all-exceptions.filter';
import { ApiError } from 'src/common/errors/api-error';

type Tagged = FastifyRequest & { seen?: string[]; caller?: string };

const Caller = createParamDecorator(
  (_: unknown, ctx: ExecutionContext) => ctx.switchToHttp().getRequest<Tagged>().caller,
);

/** Synchronous, like the API-key guard: `x-key` names the caller, none → 401. */
@Injectable()
class KeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Tagged>();
    (request.seen ??= []).push('key');
    const key = request.headers['x-key'];
    if (typeof key !== 'string') {
      throw new ApiError('missing_authorization', 'No key');
    }
    request.caller = key;
    return true;
  }
}

/** Asynchronous, like the Redis rate limit: `x-limited` → 429 after an await. */
@Injectable()
class SlowLimitGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Tagged>();
    await new Promise((resolve) => setImmediate(resolve));
    (request.seen ??= []).push('limit');
    if (request.headers['x-limited']) {
      throw new ApiError('rate_limit_exceeded', 'Slow down');
    }
    return true;
  }
}

@Controller('v1')
class HotController {
  @HotRoute()
  @Post('hot')
  async hot(@Caller() caller: string, @Req() request: Tagged, @Res() reply: FastifyReply) {
    await Promise.resolve();
    if ((request.body as { fail?: boolean } | undefined)?.fail) {
      throw new ApiError('invalid_field', 'Failing on request', { param: 'fail' });
    }
    void reply.send({ caller, seen: request.seen });
  }
}

async function start(
  controller: new () => unknown,
  before?: (app: NestFastifyApplication) => void,
) {
  @Module({
    controllers: [controller],
    providers: [
      { provide: APP_GUARD, useClass: KeyGuard },
      { provide: APP_GUARD, useClass: SlowLimitGuard },
      { provide: APP_FILTER, useClass: AllExceptionsFilter },
    ],
  })
  class TestModule {}
  const app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), {
    logger: false,
    abortOnError: false,
  });
  before?.(app);
  installHotRoutes(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe(installHotRoutes.name, () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    app = await start(HotController);
  });
  afterAll(() => app.close());

  const post = (headers: Record<string, string>, body: object = {}) =>
    app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'POST', url: '/v1/hot', headers, payload: body });

  it('runs the global guards in order, then the method with its decorated arguments', async () => {
    const res = await post({ 'x-key': 'alice' });
    expect(res.statusCode).toBe(201); // Nest's default for POST, as on a Nest route
    expect(res.json()).toEqual({ caller: 'alice', seen: ['key', 'limit'] });
  });

  it("is served without Nest's per-request pipeline (its guard consumer never runs)", async () => {
    const nestGuards = jest.spyOn(GuardsConsumer.prototype, 'tryActivate');
    try {
      const res = await post({ 'x-key': 'carol' });
      expect(res.statusCode).toBe(201);
      expect(nestGuards).not.toHaveBeenCalled();
    } finally {
      nestGuards.mockRestore();
    }
  });

  it('answers a synchronous guard error through the global filter, before later guards', async () => {
    const res = await post({});
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: { code: 'missing_authorization' } });
  });

  it('answers an asynchronous guard error and a method error through the global filter', async () => {
    const limited = await post({ 'x-key': 'bob', 'x-limited': '1' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    const failed = await post({ 'x-key': 'bob' }, { fail: true });
    expect(failed.statusCode).toBe(400);
    expect(failed.json()).toMatchObject({ error: { code: 'invalid_field', param: 'fail' } });
  });

  it('refuses to start when a hot route has a guard of its own (it would be skipped)', async () => {
    @Controller('v1')
    class GuardedController {
      @HotRoute()
      @UseGuards(KeyGuard)
      @Post('guarded')
      guarded() {
        return {};
      }
    }
    await expect(start(GuardedController)).rejects.toThrow(/route-level __guards__/);
  });

  it('refuses to start when a global interceptor would be skipped', async () => {
    const interceptor: NestInterceptor = { intercept: (_, next) => next.handle() };
    await expect(
      start(HotController, (nest) => nest.useGlobalInterceptors(interceptor)),
    ).rejects.toThrow(/global interceptors/);
  });
});
