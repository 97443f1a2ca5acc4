import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Header, Headers, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { Public } from 'src/common/decorators/public.decorator';
import { BEARER_CHALLENGE, HEADER } from 'src/common/http/headers';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { MetricsService } from 'src/modules/metrics/metrics.service';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  private readonly tokenDigest: Buffer | null;

  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.tokenDigest = config.metrics.token === null ? null : sha256(config.metrics.token);
  }

  /**
   * Public for the API-key guard: Prometheus has no API key. When METRICS_TOKEN is set, this
   * route checks `Authorization: Bearer <METRICS_TOKEN>` itself.
   */
  @Get()
  @Public()
  @Header('content-type', Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'Public unless METRICS_TOKEN is set; then `Authorization: Bearer <METRICS_TOKEN>`.',
  })
  @ApiOkResponse({
    description: 'Prometheus text exposition format',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrors('missing_authorization', 'invalid_authorization')
  scrape(@Headers(HEADER.authorization) authorization: string | undefined): Promise<string> {
    this.checkToken(authorization);
    return this.metrics.registry.metrics();
  }

  private checkToken(authorization: string | undefined): void {
    if (this.tokenDigest === null) {
      return;
    }
    if (!authorization) {
      throw new ApiError(
        'missing_authorization',
        'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>',
        { headers: BEARER_CHALLENGE },
      );
    }
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match || !timingSafeEqual(sha256(match[1]), this.tokenDigest)) {
      throw new ApiError('invalid_authorization', 'The metrics token is not valid', {
        headers: BEARER_CHALLENGE,
      });
    }
  }
}
