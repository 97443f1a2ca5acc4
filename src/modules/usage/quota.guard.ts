import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/modules/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { QuotaService } from 'src/modules/usage/quota.service';
import { USAGE_CLOCK, UsageClock } from 'src/modules/usage/usage-clock';
import { periodWindow } from 'src/modules/usage/usage-period';

/**
 * The routes that send work upstream (SPEC "/v1", "/c1"): the only ones a used-up quota
 * refuses. Everything else (own usage, conversations, models) stays readable. A new route that
 * calls an upstream belongs here.
 */
export const METERED_ROUTES: ReadonlySet<string> = new Set([
  '/v1/chat/completions',
  '/v1/messages',
  '/v1/embeddings',
  '/c1/chat/completions',
  '/v1/responses',
]);

const PERIOD_WORDS = { day: 'today (UTC)', month: 'this month (UTC)', total: 'in total' } as const;

/**
 * A key whose token quota is used up gets 429 `insufficient_quota` on the routes that go
 * upstream, before anything is sent or stored (a global guard, after the rate limit). Keys without a quota cost one property
 * read. The check is "used < limit": a request admitted just below the limit may take the key
 * past it (its size is known only once the upstream answers); the next one is refused.
 */
@Injectable()
export class QuotaGuard implements CanActivate {
  constructor(
    private readonly quota: QuotaService,
    private readonly metrics: MetricsService,
    @Inject(USAGE_CLOCK) private readonly clock: UsageClock,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const auth = request.auth;
    if (!auth?.tokenQuota || !METERED_ROUTES.has(request.routeOptions.url ?? '')) {
      return true;
    }
    const used = this.quota.used(auth.keyId, auth.tokenQuota.period);
    return typeof used === 'number'
      ? this.admit(auth, used)
      : used.then((u) => this.admit(auth, u));
  }

  private admit(auth: AuthContext, used: number): boolean {
    const { limit, period } = auth.tokenQuota!;
    if (used < limit) {
      return true;
    }
    this.metrics.refusals.inc({ code: 'insufficient_quota' });
    const headers: Record<string, string> = { [HEADER.shouldRetry]: 'false' };
    const now = this.clock();
    const resetsAt = periodWindow(period, now).resetsAt;
    if (resetsAt !== null) {
      // Whole seconds until the next day or month starts (UTC): a retry before is pointless.
      headers[HEADER.retryAfter] = String(Math.max(1, Math.ceil((resetsAt - now) / 1000)));
    }
    throw new ApiError(
      'insufficient_quota',
      `This API key has used ${used} of its ${limit} tokens ${PERIOD_WORDS[period]}`,
      { headers },
    );
  }
}
