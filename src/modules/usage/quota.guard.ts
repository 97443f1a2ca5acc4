import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { routeTemplateOf } from 'src/common/http/route-template';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { QuotaReservations } from 'src/modules/usage/quota-reservations.service';
import { reservationTokens } from 'src/modules/usage/reservation-size';
import { QuotaService } from 'src/modules/usage/quota.service';
import { Clock, CLOCK } from 'src/common/time/clock';
import { UtcDays } from 'src/modules/usage/usage-period';

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
  '/c1/messages',
  '/c1/v1/messages',
  '/v1/responses',
]);

const PERIOD_WORDS = { day: 'today (UTC)', month: 'this month (UTC)', total: 'in total' } as const;

/**
 * A key with a token quota gets 429 `insufficient_quota` on the routes that go upstream, before
 * anything is sent or stored, once its used and reserved tokens reach the quota (a global
 * guard, after the rate limit). An admitted request first reserves its maximum
 * (`reservationTokens`) in the database, atomically across instances, and settles with its
 * real usage: concurrent requests cannot overspend the quota by more than one request's worth
 * (issue #22 item 5; docs/notes/throttling.md). Keys without a quota cost one property read.
 */
@Injectable()
export class QuotaGuard implements CanActivate {
  constructor(
    private readonly quota: QuotaService,
    private readonly reservations: QuotaReservations,
    private readonly catalog: ModelCatalog,
    private readonly metrics: MetricsService,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly days: UtcDays = new UtcDays(),
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const auth = request.auth;
    const route = routeTemplateOf(request) ?? '';
    if (!auth?.tokenQuota || !METERED_ROUTES.has(route)) {
      return true;
    }
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const tokens = reservationTokens(
      { route, body: request.body, bodyBytes: bodyBytes(request) },
      this.catalog,
    );
    const reserved = this.reservations.reserve(auth, tokens).catch((error: unknown) => {
      // Without the database the quota cannot be checked: refused, nothing was sent.
      throw new ApiError('storage_error', 'The token quota of this API key could not be checked', {
        cause: error,
      });
    });
    return reserved.then((own) => {
      if (!own) {
        return this.refuse(auth);
      }
      request.auth = own;
      const raw = reply.raw;
      raw.once('close', () =>
        // A /c1 turn goes on after its client hung up; its usage settles the reservation.
        this.reservations.end(own, !raw.writableFinished && route.startsWith('/c1/')),
      );
      return true;
    });
  }

  private async refuse(auth: AuthContext): Promise<never> {
    const { limit, period } = auth.tokenQuota!;
    const { used } = await this.quota.usedNow(auth.keyId, period);
    this.metrics.refusals.inc({ code: 'insufficient_quota' });
    const headers: Record<string, string> = { [HEADER.shouldRetry]: 'false' };
    const now = this.clock();
    const resetsAt = this.days.windowOf(period, now).resetsAt;
    if (used < limit) {
      // Requests in flight hold the rest: worth retrying once they are done.
      headers[HEADER.shouldRetry] = 'true';
      headers[HEADER.retryAfter] = '1';
    } else if (resetsAt !== null) {
      // Whole seconds until the next day or month starts (UTC): a retry before is pointless.
      headers[HEADER.retryAfter] = String(Math.max(1, Math.ceil((resetsAt - now) / 1000)));
    }
    const inFlight =
      used < limit ? '; requests in flight have reserved the rest until they finish' : '';
    throw new ApiError(
      'insufficient_quota',
      `This API key has used ${used} of its ${limit} tokens ${PERIOD_WORDS[period]}${inFlight}`,
      { headers },
    );
  }
}

/** The body's size: its content-length, else its JSON length (a chunked upload). */
function bodyBytes(request: FastifyRequest): number {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared >= 0) {
    return declared;
  }
  return request.body === undefined ? 0 : Buffer.byteLength(JSON.stringify(request.body) ?? '');
}
