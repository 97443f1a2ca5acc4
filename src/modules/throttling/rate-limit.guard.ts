import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerStorage, ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { HOT_ROUTE } from 'src/common/http/hot-routes/hot-route.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { MemoryBucketStore } from 'src/modules/throttling/buckets/memory.bucket-store';
import {
  BucketLimits,
  paramsFromLimits,
  refillMsFor,
  ThrottlerStorageRecord,
  toThrottlerRecord,
} from 'src/modules/throttling/buckets/token-bucket';

/** What `@SkipThrottle()` sets for the default throttler (the package does not export it). */
const SKIP_METADATA = 'THROTTLER:SKIPdefault';

/**
 * Where a route's headers go. On the raw response (`setHeader`) by default: Node merges them
 * into whatever writes the head later, Fastify's send() and a handler's own writeHead() alike.
 * A hot route (`@HotRoute()`, the /v1 routes) answers only through the reply (Fastify's send(),
 * or a stream writer copying `reply.getHeaders()`), so they go on the reply there: one header
 * set on the raw response makes Node validate and store every header of the answer one by one
 * (about 1 µs per request) instead of taking writeHead()'s object in one pass.
 */
interface RouteLimiting {
  isSkipped: boolean;
  answersThroughReply: boolean;
}

/** The caller's bucket: the key's own override, else RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST. */
export function limitsFor(auth: AuthContext, config: AppConfig): BucketLimits {
  return auth.rateLimit ?? config.limits;
}

/**
 * The per-key rate limit (SPEC "Rate limits and quotas"), a global guard registered after the
 * API-key guard: it needs `request.auth`. Requests without it (public routes, `/api` admin
 * routes, which carry the admin token and no key) are not limited here. `@SkipThrottle()`
 * exempts a route.
 *
 * Built on @nestjs/throttler's extension points: the decision comes from its storage port
 * (`@InjectThrottlerStorage()`, a token-bucket `ThrottlerStorage`, memory or Redis) and
 * `@SkipThrottle()` exempts a route. The guard itself is not a `ThrottlerGuard` subclass: the
 * stock `canActivate` (five awaits, ten metadata reads per request, about 5 µs here) runs on
 * every request (issue #10), while one per-key bucket needs a WeakMap read, and a synchronous
 * take on the memory store (one storage call on Redis). The bucket id is the key's SHA-256
 * (never the raw key), shared by all routes; the answer is Parley's headers and catalog error.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  /** Route metadata does not change: read once per handler. */
  private readonly routes = new WeakMap<Function, RouteLimiting>();

  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    private readonly reflector: Reflector,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const http = context.switchToHttp();
    const auth = http.getRequest<FastifyRequest>().auth;
    if (!auth) {
      return true;
    }
    const route = this.routeOf(context);
    if (route.isSkipped) {
      return true;
    }
    const reply = http.getResponse<FastifyReply>();
    const { burst, perSecond } = limitsFor(auth, this.config);
    const storage = this.storage;
    if (storage instanceof MemoryBucketStore) {
      const p = paramsFromLimits({ perSecond, burst });
      const { allowed, tokens } = storage.take(auth.keyHash, p);
      return this.answer(reply, route, burst, toThrottlerRecord(allowed, tokens, p));
    }
    return storage
      .increment(auth.keyHash, refillMsFor({ perSecond, burst }), burst, 0, 'default')
      .then((record) => this.answer(reply, route, burst, record));
  }

  private routeOf(context: ExecutionContext): RouteLimiting {
    const handler = context.getHandler();
    let route = this.routes.get(handler);
    if (route === undefined) {
      const targets = [handler, context.getClass()];
      route = {
        isSkipped: this.reflector.getAllAndOverride<boolean>(SKIP_METADATA, targets) === true,
        answersThroughReply: this.reflector.get<boolean>(HOT_ROUTE, handler) === true,
      };
      this.routes.set(handler, route);
    }
    return route;
  }

  private answer(
    reply: FastifyReply,
    route: RouteLimiting,
    limit: number,
    record: ThrottlerStorageRecord,
  ): boolean {
    const remaining = String(limit - record.totalHits);
    const reset = String(record.timeToExpire);
    if (route.answersThroughReply) {
      void reply
        .header(HEADER.rateLimitLimit, String(limit))
        .header(HEADER.rateLimitRemaining, remaining)
        .header(HEADER.rateLimitReset, reset);
    } else {
      const raw = reply.raw;
      raw.setHeader(HEADER.rateLimitLimit, String(limit));
      raw.setHeader(HEADER.rateLimitRemaining, remaining);
      raw.setHeader(HEADER.rateLimitReset, reset);
    }
    if (record.isBlocked) {
      this.metrics.refusals.inc({ code: 'rate_limit_exceeded' });
      const wait = record.timeToBlockExpire;
      throw new ApiError(
        'rate_limit_exceeded',
        `Rate limit reached for this API key (bucket of ${limit}); retry after ${wait} s`,
        { headers: { [HEADER.retryAfter]: String(wait) } },
      );
    }
    return true;
  }
}
