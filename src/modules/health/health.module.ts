import { Module } from '@nestjs/common';
import { AuthModule } from 'src/modules/auth/auth.module';
import { HealthController } from 'src/modules/health/health.controller';
import { MetricsController } from 'src/modules/metrics/metrics.controller';
import { UpstreamModule } from 'src/modules/proxy/upstream/upstream.module';

/**
 * The operations routes: /healthz, /readyz and /metrics. The upstream module provides
 * `UPSTREAM_PROBE` for /readyz; the auth module checks the operator secrets (METRICS_TOKEN,
 * ADMIN_TOKEN) of /metrics and of /readyz's details. /metrics is served here rather than by the
 * global MetricsModule, which every module sees and so must not pull the auth module (and its
 * global guard) in with it.
 */
@Module({
  imports: [UpstreamModule, AuthModule],
  controllers: [HealthController, MetricsController],
})
export class HealthModule {}
