import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerModuleOptions,
  ThrottlerRequest,
  ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/modules/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { BucketLimits, refillMsFor } from 'src/modules/throttling/buckets/token-bucket';

/** The caller's bucket: the key's own override, else RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST. */
export function limitsFor(auth: AuthContext, config: AppConfig): BucketLimits {
  return auth.rateLimit ?? config.limits;
}

/**
 * @nestjs/throttler's options for Parley: one throttler whose `limit` is the caller's burst and
 * whose `ttl` is the time its bucket takes to refill from empty (how the bucket stores read a
 * throttler limit, see `paramsFromThrottler`).
 */
export function throttlerOptions(config: AppConfig): ThrottlerModuleOptions {
  const authOf = (context: ExecutionContext) =>
    context.switchToHttp().getRequest<FastifyRequest>().auth as AuthContext;
  return {
    throttlers: [
      {
        name: 'default',
        limit: (context) => limitsFor(authOf(context), config).burst,
        ttl: (context) => refillMsFor(limitsFor(authOf(context), config)),
      },
    ],
  };
}

/**
 * The per-key rate limit (SPEC "Rate limits and quotas"), a global guard registered after the
 * API-key guard: it needs `request.auth`. Requests without it (public routes, `/api` admin
 * routes, which carry the admin token and no key) are not limited here.
 *
 * It is @nestjs/throttler's guard with the bucket id and the answer replaced: the bucket is
 * the key's SHA-256 (never the raw key) across all routes, the decision comes from a
 * token-bucket `ThrottlerStorage` (memory or Redis), and the outcome is written as Parley's
 * headers and catalog error.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: MetricsService,
  ) {
    super(options, storage, reflector);
  }

  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    return Promise.resolve(!context.switchToHttp().getRequest<FastifyRequest>().auth);
  }

  protected override getTracker(request: Record<string, unknown>): Promise<string> {
    return Promise.resolve((request as unknown as FastifyRequest).auth!.keyHash);
  }

  /** One bucket per key across every route: the key's hash is the id. */
  protected override generateKey(_context: ExecutionContext, tracker: string): string {
    return tracker;
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration } = props;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const key = props.generateKey(context, await props.getTracker(request, context), 'default');
    const record = await this.storageService.increment(
      key,
      ttl,
      limit,
      blockDuration,
      throttler.name ?? 'default',
    );
    // On the raw response: Node merges these into whatever writes the head later, Fastify's
    // send() and a streaming proxy's own writeHead() alike.
    const raw = reply.raw;
    raw.setHeader(HEADER.rateLimitLimit, String(limit));
    raw.setHeader(HEADER.rateLimitRemaining, String(Math.max(0, limit - record.totalHits)));
    raw.setHeader(HEADER.rateLimitReset, String(record.timeToExpire));
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
