import { Controller, Get, Header, Inject, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { Public } from 'src/common/decorators/public.decorator';
import { AddressThrottle } from 'src/common/http/address-throttle';
import { HEADER } from 'src/common/http/headers';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { AuthService } from 'src/modules/auth/auth.service';
import { hashApiKey } from 'src/modules/auth/key-material';
import { ApiError } from 'src/common/errors/api-error';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { MetricsService } from 'src/modules/metrics/metrics.service';

/** A client's burst of scrapes: 5 seconds' worth, at least 10. */
const burstFor = (perSecond: number) => Math.max(10, 5 * perSecond);

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  private readonly tokenHashes: readonly string[] | null;
  private readonly throttle: AddressThrottle;
  private readonly cacheMs: number;

  constructor(
    private readonly metrics: MetricsService,
    private readonly auth: AuthService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.tokenHashes = config.metrics.token === null ? null : [hashApiKey(config.metrics.token)];
    this.cacheMs = config.metrics.cacheMs;
    const perSecond = config.metrics.scrapesPerSecond;
    this.throttle = new AddressThrottle(perSecond, burstFor(perSecond));
  }

  /**
   * Public for the API-key guard: Prometheus has no API key. When METRICS_TOKEN is set, this
   * route checks `Authorization: Bearer <METRICS_TOKEN>` itself, and a wrong token counts as
   * a failed authentication. Throttled per address; the text is rendered at most once a
   * second by default (METRICS_CACHE_SECS, METRICS_SCRAPES_PER_SECOND; #22 item 4).
   */
  @Get()
  @Public()
  @Header('content-type', Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'Public unless METRICS_TOKEN is set; then `Authorization: Bearer <METRICS_TOKEN>`. Rendered at most every METRICS_CACHE_SECS; METRICS_SCRAPES_PER_SECOND per client address (429 beyond).',
  })
  @ApiOkResponse({
    description: 'Prometheus text exposition format',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrors('missing_authorization', 'invalid_authorization', 'rate_limit_exceeded')
  scrape(@Req() request: FastifyRequest): Promise<string> {
    const retryAfter = this.throttle.take(request.ip);
    if (retryAfter > 0) {
      throw new ApiError('rate_limit_exceeded', 'Too many scrapes of /metrics from this address', {
        headers: { [HEADER.retryAfter]: String(retryAfter) },
      });
    }
    if (this.tokenHashes !== null) {
      this.auth.authenticateSecret(request, this.tokenHashes, {
        missing: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>',
        invalid: 'The metrics token is not valid',
      });
    }
    return this.metrics.render(this.cacheMs);
  }
}
