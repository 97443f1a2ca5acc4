import { CanActivate, ExecutionContext, Inject, Injectable, Module } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { IS_PUBLIC } from 'src/common/decorators/public.decorator';
import { HEADER } from 'src/common/http/headers';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/modules/errors/api-error';

/**
 * TEMPORARY, for the proxy branch only: DELETE this file and its import in app.module.ts when
 * the auth branch (the real API-key guard) is merged.
 *
 * Until then `request.auth` would be undefined on /v1 routes. This guard accepts only
 * BOOTSTRAP_API_KEY (the key the tests send), only on /v1 routes, and only when no other guard
 * has set `request.auth` already.
 */
@Injectable()
class TemporaryAuthShimGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic || request.auth || !request.routeOptions.url?.startsWith('/v1/')) {
      return true;
    }
    const bearer = request.headers[HEADER.authorization];
    const apiKey = request.headers[HEADER.apiKey];
    const key =
      typeof bearer === 'string' && bearer.startsWith('Bearer ')
        ? bearer.slice(7)
        : typeof apiKey === 'string'
          ? apiKey
          : null;
    if (!key) {
      throw new ApiError('missing_authorization', 'An API key is required');
    }
    if (key !== this.config.auth.bootstrapKey) {
      throw new ApiError('invalid_authorization', 'Invalid API key');
    }
    request.auth = {
      keyId: 'bootstrap',
      keyHash: createHash('sha256').update(key).digest('hex'),
      userId: 'default',
      role: 'user',
      allowedModels: null,
      rateLimit: null,
      tokenQuota: null,
    };
    return true;
  }
}

@Module({ providers: [{ provide: APP_GUARD, useClass: TemporaryAuthShimGuard }] })
export class TemporaryAuthShimModule {}
